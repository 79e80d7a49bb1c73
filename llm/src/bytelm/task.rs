//! Next-byte prediction for the byte-level transformer: members are scored by bits/byte on
//! windows of the training split, the unperturbed model by bits/byte on the validation split.
//!
//! A window is `window + 1` consecutive bytes (the model reads the first `window`, predicts
//! the last `window`); where it starts is a pure function of (run seed, generation, stream),
//! so every process draws the same windows without talking. Each antithetic pair reads its own
//! window (both members see the same bytes, so the pair's difference compares like with like),
//! and one member scoring one window is one *evaluation*. The gradient baselines draw their
//! batches from the same function ([`ByteLmTask::train_window`], keyed by step and sequence).
//! A member's fitness is `−bits/byte` (higher is better).

use super::{tokens, MAX_CONTEXT};
use crate::egg::data::{load, Corpus};
use crate::error::{LlmError, Result};
use crate::grad::loss::token_logp;
use crate::llama::{Llama, Logits, SeqOwners};
use crate::TextTaskConfig;
use eggroll_core::cpu::Cpu;
use eggroll_core::task::{Metrics, Task};
use eggroll_core::Population;
use std::ops::Range;
use std::path::Path;

/// Sequences per forward call (bounds the logits held at once).
const CHUNK: usize = 32;

/// Next-byte prediction on a text for a [`Llama`] with the byte vocabulary.
pub struct ByteLmTask {
    cfg: TextTaskConfig,
    corpus: Corpus,
    seed: u64,
}

/// splitmix64's finaliser: a well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl ByteLmTask {
    /// Read `cfg.data` and split it (the run is seeded with `seed`).
    pub fn new(cfg: &TextTaskConfig, seed: u64) -> Result<Self> {
        let bytes = load(Path::new(&cfg.data))?;
        Self::from_bytes(cfg, seed, &bytes)
    }

    /// The task on `bytes` (as if read from `cfg.data`).
    pub fn from_bytes(cfg: &TextTaskConfig, seed: u64, bytes: &[u8]) -> Result<Self> {
        if cfg.window == 0 || cfg.window > MAX_CONTEXT {
            return Err(LlmError::config(
                "task.window",
                format!(
                    "{} is not in 1..={MAX_CONTEXT} (the model's context)",
                    cfg.window
                ),
            ));
        }
        if cfg.eval_bytes < 2 {
            return Err(LlmError::config(
                "task.eval_bytes",
                "must be at least 2 (one byte read, one predicted)",
            ));
        }
        if !(cfg.val_fraction > 0.0 && cfg.val_fraction < 1.0) {
            return Err(LlmError::config(
                "task.val_fraction",
                format!("{} is not in (0, 1)", cfg.val_fraction),
            ));
        }
        let corpus = Corpus::split(bytes, cfg.val_fraction, cfg.window)?;
        Ok(ByteLmTask {
            cfg: cfg.clone(),
            corpus,
            seed,
        })
    }

    /// The settings.
    pub fn config(&self) -> &TextTaskConfig {
        &self.cfg
    }

    /// Training window `(key, index)`: `window + 1` bytes of the training split. ES uses
    /// `(generation, pair)`, the gradient baselines `(step, sequence)` under another key.
    pub fn train_window(&self, key: u64, index: u64) -> &[u8] {
        let span = (self.corpus.train.len() - self.cfg.window) as u64;
        let h = mix(mix(mix(self.seed ^ 0x6279_7465_6c6d) ^ key) ^ index);
        let start = (h % span) as usize;
        &self.corpus.train[start..start + self.cfg.window + 1]
    }

    /// Bits/byte of each window (read `w[..n]`, predict `w[1..]`) under `owners`.
    fn bits_per_byte(
        &self,
        cpu: &Cpu,
        model: &Llama,
        windows: &[&[u8]],
        owners: SeqOwners<'_>,
    ) -> Result<Vec<f64>> {
        let vocab = model.config.vocab_size;
        let mut out = Vec::with_capacity(windows.len());
        for (c, chunk) in windows.chunks(CHUNK).enumerate() {
            let inputs: Vec<Vec<u32>> = chunk.iter().map(|w| tokens(&w[..w.len() - 1])).collect();
            let refs: Vec<&[u32]> = inputs.iter().map(Vec::as_slice).collect();
            let mut caches: Vec<_> = chunk.iter().map(|_| model.new_cache()).collect();
            let members;
            let owners = match owners {
                SeqOwners::Members { pop, members: all } => {
                    members = all[c * CHUNK..c * CHUNK + chunk.len()].to_vec();
                    SeqOwners::Members {
                        pop,
                        members: &members,
                    }
                }
                SeqOwners::Plain => SeqOwners::Plain,
            };
            let logits = model.forward(cpu, &mut caches, &refs, Logits::All, owners)?;
            for (w, l) in chunk.iter().zip(&logits) {
                let targets: Vec<Option<u32>> = tokens(&w[1..]).into_iter().map(Some).collect();
                let lp = token_logp(l, vocab, &targets)?;
                let nats: f64 = lp.iter().map(|&v| -f64::from(v)).sum();
                out.push(nats / std::f64::consts::LN_2 / targets.len() as f64);
            }
        }
        Ok(out)
    }

    /// Bits/byte of the unperturbed `model` on the first `eval_bytes` of the validation split,
    /// read in windows of `window + 1` bytes that overlap by one (every byte but the first is
    /// predicted once, from at most `window` bytes of context).
    pub fn validation_bits_per_byte(&self, cpu: &Cpu, model: &Llama) -> Result<f64> {
        let val = &self.corpus.val[..self.cfg.eval_bytes.min(self.corpus.val.len())];
        let windows: Vec<&[u8]> = (0..val.len() - 1)
            .step_by(self.cfg.window)
            .map(|s| &val[s..(s + self.cfg.window + 1).min(val.len())])
            .collect();
        let bpb = self.bits_per_byte(cpu, model, &windows, SeqOwners::Plain)?;
        let (sum, n) = windows
            .iter()
            .zip(&bpb)
            .fold((0.0, 0usize), |(s, n), (w, b)| {
                (s + b * (w.len() - 1) as f64, n + w.len() - 1)
            });
        Ok(sum / n as f64)
    }
}

impl Task<Cpu, Llama> for ByteLmTask {
    type Error = LlmError;

    fn input_dim(&self) -> usize {
        256
    }

    fn output_dim(&self) -> usize {
        256
    }

    fn fitness(
        &self,
        backend: &Cpu,
        model: &Llama,
        pop: &Population,
        members: Range<u32>,
        generation: u64,
    ) -> Result<Vec<f32>> {
        let ids: Vec<u32> = members.collect();
        let windows: Vec<&[u8]> = ids
            .iter()
            .map(|&m| self.train_window(generation, u64::from(pop.stream_of(m))))
            .collect();
        let owners = SeqOwners::Members { pop, members: &ids };
        let bpb = self.bits_per_byte(backend, model, &windows, owners)?;
        Ok(bpb.into_iter().map(|b| -b as f32).collect())
    }

    fn rows_per_member(&self) -> usize {
        self.cfg.window
    }

    fn metric_names(&self) -> Vec<&'static str> {
        vec!["eval_bits_per_byte"]
    }

    fn evaluate(&self, backend: &Cpu, model: &Llama) -> Result<Metrics> {
        Ok(vec![(
            "eval_bits_per_byte",
            self.validation_bits_per_byte(backend, model)?,
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytelm::ByteLlamaConfig;
    use eggroll_core::population::{NoiseKind, PopulationParams};

    fn task() -> ByteLmTask {
        let text: Vec<u8> = b"to be or not to be, that is the question. "
            .iter()
            .cycle()
            .take(4000)
            .copied()
            .collect();
        let cfg = TextTaskConfig {
            data: "mem".into(),
            window: 16,
            val_fraction: 0.1,
            eval_bytes: 100,
            eval_streams: 1,
        };
        ByteLmTask::from_bytes(&cfg, 7, &text).unwrap()
    }

    #[test]
    fn windows_are_seeded_and_pairs_share_theirs() {
        let t = task();
        assert_eq!(t.train_window(3, 1), t.train_window(3, 1));
        assert_eq!(t.train_window(3, 1).len(), 17);
        let starts: std::collections::BTreeSet<_> = (0..20)
            .map(|i| t.train_window(0, i).as_ptr() as usize)
            .collect();
        assert!(
            starts.len() > 10,
            "windows should start in different places"
        );
    }

    #[test]
    fn fitness_is_minus_bits_per_byte_and_the_unperturbed_model_scores_near_log2_vocab() {
        let t = task();
        let cpu = Cpu::new();
        let m = ByteLlamaConfig {
            n_layers: 1,
            d_model: 16,
            n_heads: 2,
            n_kv_heads: None,
            ffn_dim: 24,
            embed_scale: 0.5,
        }
        .build(3)
        .unwrap();
        let bpb = t.validation_bits_per_byte(&cpu, &m).unwrap();
        // A random model: a few bits above or below log2(265) ≈ 8.05.
        assert!(bpb.is_finite() && bpb > 2.0 && bpb < 30.0, "{bpb}");
        let pop = Population::new(PopulationParams {
            seed: 1,
            epoch: 0,
            size: 4,
            sigma: 0.05,
            kind: NoiseKind::LowRank { rank: 1 },
            antithetic: true,
        })
        .unwrap();
        let f = t.fitness(&cpu, &m, &pop, 0..4, 0).unwrap();
        assert_eq!(f.len(), 4);
        assert!(f.iter().all(|v| v.is_finite() && *v < 0.0));
        // Antithetic members read the same window but are perturbed apart.
        assert_ne!(f[0], f[1]);
        // Members 0..2 alone score what they score in the whole population.
        assert_eq!(t.fitness(&cpu, &m, &pop, 0..2, 0).unwrap(), f[..2]);
    }

    #[test]
    fn bad_windows_name_the_key() {
        let cfg = TextTaskConfig {
            window: 0,
            ..TextTaskConfig::default()
        };
        let e = ByteLmTask::from_bytes(&cfg, 0, b"abc").err().unwrap();
        assert!(e.to_string().contains("task.window"), "{e}");
    }
}
