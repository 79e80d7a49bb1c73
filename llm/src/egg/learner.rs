//! The EGG language model as a [`Learner`]: the one training loop scores its members on their
//! pairs' windows of the corpus, hands their fitness to the strategy (shaping `pair_sign`), and
//! applies the resulting [`Update::PairSigns`] as EGG's thresholded ±1 integer update.
//!
//! Fitness is each member's Σ log2 p over its window in 1/16 bit, an integer that f32 holds
//! exactly below 2^24 (checked), so pair signs are the integer comparisons of EGG's update.

use crate::egg::checkpoint::{self, EggState, MODEL_KIND};
use crate::egg::config::EggConfig;
use crate::egg::data::{self, Corpus, Streams};
use crate::egg::evaluate::{bits_per_byte, evaluate_plain, evaluate_population, PopulationSpec};
use crate::egg::params::Weights;
use crate::egg::update::es_update;
use crate::error::{LlmError, Result};
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::int::DynIntKernels;
use eggroll_core::learner::{Learner, NonFinite, Update};
use eggroll_core::population::{NoiseKind, Population};
use eggroll_core::task::Metrics;
use std::ops::Range;
use std::path::Path;

/// Largest fitness magnitude f32 holds exactly (2^24).
const EXACT_F32: i64 = 1 << 24;

/// An EGG model bound to its corpus, as the training loop drives it.
pub struct EggLearner<'k> {
    cfg: EggConfig,
    corpus: Corpus,
    fingerprint: u64,
    state: EggState,
    kernels: Option<&'k dyn DynIntKernels>,
}

impl<'k> EggLearner<'k> {
    /// A fresh model for `cfg` on `data` (validated; the split must leave validation bytes to
    /// score). Matrix products run on `kernels` when given (same bits), else on the CPU.
    pub fn new(
        cfg: EggConfig,
        data: &[u8],
        kernels: Option<&'k dyn DynIntKernels>,
    ) -> Result<Self> {
        cfg.validate()?;
        let t = &cfg.text;
        let corpus = Corpus::split(data, t.val_fraction, t.window)?;
        let scored = t.eval_bytes.min(corpus.val.len()) / t.eval_streams.clamp(1, corpus.val.len());
        if scored < 2 {
            return Err(LlmError::Data {
                what: "validation split".into(),
                why: format!(
                    "{} bytes in {} eval_streams leave no byte to score per stream (need 2 per stream: raise task.val_fraction or task.eval_bytes, or lower task.eval_streams)",
                    corpus.val.len().min(t.eval_bytes),
                    t.eval_streams
                ),
            });
        }
        let (d, l, n) = (
            cfg.model.d_model,
            cfg.model.n_layers,
            cfg.population as usize,
        );
        let state = EggState {
            weights: Weights::init(d, l, cfg.seed),
            hidden: vec![0; n * l * d],
            streams: Streams::new(n / 2, corpus.train.len(), t.window),
        };
        Ok(EggLearner {
            fingerprint: data::fingerprint(data),
            cfg,
            corpus,
            state,
            kernels,
        })
    }

    /// The current weights.
    pub fn weights(&self) -> &Weights {
        &self.state.weights
    }

    /// The whole training state (weights, hidden states, read positions).
    pub fn state(&self) -> &EggState {
        &self.state
    }

    /// Validation bits/byte of the current weights.
    pub fn validation_bits(&self) -> Result<f64> {
        let t = &self.cfg.text;
        let val = &self.corpus.val;
        let n = t.eval_bytes.min(val.len());
        let (ll, count) =
            evaluate_plain(&self.state.weights, &val[..n], t.eval_streams, self.kernels)?;
        Ok(bits_per_byte(ll, count))
    }

    fn per_member(&self) -> usize {
        self.cfg.model.n_layers * self.cfg.model.d_model
    }

    /// The rank of `pop`'s noise, refusing populations EGG cannot score.
    fn rank_of(&self, pop: &Population) -> Result<usize> {
        if !pop.variant().is_plain() {
            return Err(LlmError::config(
                "es.strategy",
                "the EGG model's integer update steps by pair signs of Σ f·A·Bᵀ; it has neither sign(A)·sign(B)ᵀ factors (eggroll_sign) nor unperturbed baseline members (eggroll_baseline)",
            ));
        }
        match pop.kind {
            NoiseKind::LowRank { rank } if pop.antithetic && rank == self.cfg.rank => {
                Ok(rank as usize)
            }
            _ => Err(LlmError::config(
                "es.strategy",
                "the EGG model needs antithetic low-rank populations of rank es.rank (strategy eggroll)",
            )),
        }
    }
}

impl Learner for EggLearner<'_> {
    type Error = LlmError;

    fn kind(&self) -> &'static str {
        MODEL_KIND
    }

    fn metric_names(&self) -> Vec<&'static str> {
        vec!["eval_bits_per_byte"]
    }

    fn fitness(
        &mut self,
        pop: &Population,
        members: Range<u32>,
        _generation: u64,
    ) -> Result<Vec<f32>> {
        let rank = self.rank_of(pop)?;
        if members.start % 2 == 1 || members.end % 2 == 1 || pop.size != self.cfg.population {
            return Err(LlmError::config(
                "es.population",
                format!(
                    "members {members:?} of {} are not whole pairs of the model's {} members",
                    pop.size, self.cfg.population
                ),
            ));
        }
        let window = self.cfg.text.window;
        let (wins, resets) = self.state.streams.windows(&self.corpus.train, window);
        let (p0, p1) = (members.start as usize / 2, members.end as usize / 2);
        let spec = PopulationSpec {
            seed: pop.seed,
            epoch: pop.epoch,
            rank,
            sigma_shift: self.cfg.model.sigma_shift,
            chunk_members: self.cfg.model.chunk_members,
            share_pair_state: self.cfg.model.share_pair_state,
        };
        let per = self.per_member();
        let scores = evaluate_population(
            &self.state.weights,
            spec,
            p0,
            &wins[p0..p1],
            &resets[p0..p1],
            &mut self.state.hidden[2 * p0 * per..2 * p1 * per],
            self.kernels,
        )?;
        scores
            .iter()
            .map(|&s| {
                if s.abs() < EXACT_F32 {
                    Ok(s as f32)
                } else {
                    Err(LlmError::config(
                        "task.window",
                        format!("a member's log-likelihood sum {s} (1/16 bit) is beyond f32's exact integers; use a shorter window"),
                    ))
                }
            })
            .collect()
    }

    fn baselines(&self) -> Metrics {
        let b = data::baselines(&self.corpus);
        vec![
            ("unigram_train", b.unigram_train),
            ("unigram_val", b.unigram_val),
            ("bigram_train", b.bigram_train),
            ("bigram_val", b.bigram_val),
        ]
    }

    fn fitness_metrics(&self, fitness: &[f32]) -> Metrics {
        let mean = fitness.iter().map(|&f| f as f64).sum::<f64>() / fitness.len().max(1) as f64;
        vec![(
            "train_bits_per_byte",
            -mean / 16.0 / self.cfg.text.window as f64,
        )]
    }

    fn apply(&mut self, pop: &Population, update: &Update, generation: u64) -> Result<Metrics> {
        let Update::PairSigns(signs) = update else {
            return Err(LlmError::config(
                "es.shaping",
                format!(
                    "the EGG model takes integer sign steps, not a {} (set es.shaping = \"pair_sign\")",
                    update.kind()
                ),
            ));
        };
        let rank = self.rank_of(pop)?;
        let alpha = self.cfg.alpha_fixed(generation);
        let stats = es_update(
            &mut self.state.weights,
            pop.seed,
            pop.epoch,
            rank,
            signs,
            alpha,
        );
        self.state.streams.advance(self.cfg.text.window);
        Ok(vec![
            ("weights_changed", stats.changed as f64),
            ("active_pairs", stats.active_pairs as f64),
            ("alpha", alpha as f64 / (1u64 << 31) as f64),
        ])
    }

    fn first_nonfinite(&self) -> Result<Option<NonFinite>> {
        Ok(None) // integers only
    }

    fn evaluate(&mut self) -> Result<Metrics> {
        Ok(vec![("eval_bits_per_byte", self.validation_bits()?)])
    }

    fn member_state(&self, members: Range<u32>) -> Option<Vec<f32>> {
        let per = self.per_member();
        let range = members.start as usize * per..members.end as usize * per;
        Some(self.state.hidden[range].iter().map(|&v| v as f32).collect())
    }

    fn set_member_state(&mut self, all: &[f32]) -> Result<()> {
        if all.len() != self.state.hidden.len() {
            return Err(eggroll_core::CoreError::shape(
                "gathered hidden state",
                self.state.hidden.len(),
                all.len(),
            )
            .into());
        }
        for (h, &v) in self.state.hidden.iter_mut().zip(all) {
            *h = checkpoint::int8(v).ok_or_else(|| {
                LlmError::config("hidden state", format!("gathered value {v} is not int8"))
            })?;
        }
        Ok(())
    }

    fn save(&self, ck: &mut Checkpoint) -> Result<()> {
        checkpoint::save_into(ck, &self.cfg, &self.state, self.fingerprint);
        Ok(())
    }

    fn load(&mut self, ck: &Checkpoint, path: &Path) -> Result<()> {
        let (state, fp) = checkpoint::load_from(ck, &self.cfg, path)?;
        if fp != self.fingerprint {
            return Err(LlmError::checkpoint(
                path,
                format!("was trained on different data than {}", self.cfg.text.data),
            ));
        }
        self.state = state;
        Ok(())
    }
}
