//! LoRA adapters on a Llama's projections: `y = x·Wᵀ + s·(drop(x)·Aᵀ)·Bᵀ` with `A` (`r × in`)
//! drawn kaiming-uniform (bound `1/√in`, what PyTorch's `kaiming_uniform_(a=√5)` gives and
//! peft uses), `B` (`out × r`) zero, so a fresh adapter leaves the model unchanged, and scale
//! `s = α/r` (or `α/√r`, rsLoRA). Dropout acts on the LoRA branch's input only.
//!
//! Target modules are named like peft's `target_modules`: `all-linear` (every projection of
//! every block; the head is never adapted), or a list of short (`q`, `gate`) or Hugging Face
//! (`q_proj`, `gate_proj`) names. [`Lora::merge`] folds `s·B·A` into the base weights and
//! [`Lora::unmerge`] takes it out again (exact up to one f32 rounding per element).

use super::dropout::{mix, uniform};
use crate::error::{LlmError, Result};
use crate::llama::weights::{LlamaWeights, Proj, PROJS};

/// Which projections get an adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoraTargets {
    /// Every projection of every block (peft's `all-linear`; the head excluded).
    AllLinear,
    /// These projections of every block.
    Only(Vec<Proj>),
}

impl LoraTargets {
    /// Parse peft-style `target_modules`: `["all-linear"]`, or names such as `q`, `q_proj`,
    /// `gate_proj`. An unknown name is refused, naming it.
    pub fn parse(names: &[&str]) -> Result<Self> {
        if names == ["all-linear"] {
            return Ok(LoraTargets::AllLinear);
        }
        let mut out = Vec::new();
        for &n in names {
            let short = n.strip_suffix("_proj").unwrap_or(n);
            let p = Proj::from_short(short).ok_or_else(|| {
                LlmError::config(
                    "lora.target_modules",
                    format!("`{n}` is not `all-linear` or a projection (q, k, v, o, gate, up, down, or q_proj …)"),
                )
            })?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if out.is_empty() {
            return Err(LlmError::config("lora.target_modules", "the list is empty"));
        }
        Ok(LoraTargets::Only(out))
    }

    /// Whether projection `p` is targeted.
    pub fn contains(&self, p: Proj) -> bool {
        match self {
            LoraTargets::AllLinear => true,
            LoraTargets::Only(v) => v.contains(&p),
        }
    }
}

/// The hyper-parameters of a set of adapters.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraConfig {
    /// Rank `r`.
    pub rank: usize,
    /// `α`.
    pub alpha: f32,
    /// Scale `α/√r` (rsLoRA) instead of `α/r`.
    pub rslora: bool,
    /// Dropout rate on the LoRA branch's input during training (`0 ≤ p < 1`).
    pub dropout: f32,
    /// Which projections.
    pub targets: LoraTargets,
    /// Seed of the `A` initialisation and of the dropout masks.
    pub seed: u64,
}

impl LoraConfig {
    /// The scale `s` of the LoRA branch.
    pub fn scale(&self) -> f32 {
        if self.rslora {
            self.alpha / (self.rank as f32).sqrt()
        } else {
            self.alpha / self.rank as f32
        }
    }

    /// Refuse a rank of 0, a non-finite α, or a dropout rate outside `[0, 1)`.
    pub fn validate(&self) -> Result<()> {
        if self.rank == 0 {
            return Err(LlmError::config("lora.rank", "must be at least 1"));
        }
        if !self.alpha.is_finite() {
            return Err(LlmError::config(
                "lora.alpha",
                format!("{} is not finite", self.alpha),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(LlmError::config(
                "lora.dropout",
                format!("{} is outside [0, 1)", self.dropout),
            ));
        }
        Ok(())
    }
}

/// One adapter: `A` (`rank × cols`) and `B` (`rows × rank`) on projection `proj` of block
/// `layer`, whose weight is `rows × cols`.
#[derive(Clone, Debug, PartialEq)]
pub struct Adapter {
    /// Block.
    pub layer: usize,
    /// Projection.
    pub proj: Proj,
    /// The base weight's GGUF name (`blk.0.attn_q.weight`).
    pub base_name: String,
    /// Output dimension of the base weight.
    pub rows: usize,
    /// Input dimension of the base weight.
    pub cols: usize,
    /// `A`, row-major `rank × cols`.
    pub a: Vec<f32>,
    /// `B`, row-major `rows × rank`.
    pub b: Vec<f32>,
}

/// The adapters of a model, and where each projection's is.
#[derive(Clone, Debug, PartialEq)]
pub struct Lora {
    /// Hyper-parameters.
    pub config: LoraConfig,
    /// The adapters, in (layer, [`Proj`]) order.
    pub adapters: Vec<Adapter>,
    /// `index[layer][proj]`: the adapter of that projection, if any.
    pub index: Vec<[Option<usize>; 7]>,
}

impl Lora {
    /// Adapters on the projections of `weights` that `config.targets` names: `A`
    /// kaiming-uniform from `config.seed`, `B` zero.
    pub fn new(config: LoraConfig, weights: &LlamaWeights) -> Result<Self> {
        config.validate()?;
        let r = config.rank;
        let mut adapters = Vec::new();
        let mut index = vec![[None; 7]; weights.layers.len()];
        for (l, slots) in index.iter_mut().enumerate() {
            for p in PROJS.into_iter().filter(|&p| config.targets.contains(p)) {
                let m = weights.proj(l, p);
                slots[p as usize] = Some(adapters.len());
                adapters.push(Adapter {
                    layer: l,
                    proj: p,
                    base_name: m.name.to_string(),
                    rows: m.rows,
                    cols: m.cols,
                    a: vec![0.0; r * m.cols],
                    b: vec![0.0; m.rows * r],
                });
            }
        }
        let mut lora = Lora {
            config,
            adapters,
            index,
        };
        lora.reinitialise(0);
        Ok(lora)
    }

    /// Draw every `A` afresh (kaiming-uniform, from the config's seed and `round`) and zero
    /// every `B`: the state of a new adapter (ReLoRA and PeriodicLoRA restart from it).
    pub fn reinitialise(&mut self, round: u64) {
        let seed = mix(self.config.seed ^ mix(round.wrapping_add(0x10_7a)));
        for (i, ad) in self.adapters.iter_mut().enumerate() {
            let bound = 1.0 / (ad.cols as f32).sqrt();
            for (j, a) in ad.a.iter_mut().enumerate() {
                *a = bound * (2.0 * uniform(seed, i as u64, j as u64) - 1.0);
            }
            ad.b.fill(0.0);
        }
    }

    /// The adapter of projection `p` of block `layer`.
    pub fn adapter(&self, layer: usize, p: Proj) -> Option<&Adapter> {
        self.index
            .get(layer)
            .and_then(|s| s[p as usize])
            .map(|i| &self.adapters[i])
    }

    /// Number of trainable scalars (every `A` and `B`).
    pub fn n_params(&self) -> usize {
        self.adapters.iter().map(|a| a.a.len() + a.b.len()).sum()
    }

    /// `W += s·B·A` for every adapter (the adapters are left as they are: zero `B` yourself,
    /// or [`Lora::reinitialise`], to keep the model's function).
    pub fn merge(&self, weights: &mut LlamaWeights) -> Result<()> {
        self.fold(weights, 1.0)
    }

    /// `W −= s·B·A` for every adapter: undoes [`Lora::merge`] with the same adapters.
    pub fn unmerge(&self, weights: &mut LlamaWeights) -> Result<()> {
        self.fold(weights, -1.0)
    }

    /// `W += f·s·B·A` for every adapter: [`Lora::merge`] is `f = 1`, [`Lora::unmerge`] `f = −1`,
    /// and ReLoRA / PeriodicLoRA fold a fraction in.
    pub fn fold(&self, weights: &mut LlamaWeights, f: f32) -> Result<()> {
        for ad in &self.adapters {
            let slot = weights
                .layers
                .get(ad.layer)
                .map(|l| l.slots[ad.proj as usize])
                .ok_or_else(|| {
                    LlmError::config(
                        "lora",
                        format!("adapter `{}` is for a block the model lacks", ad.base_name),
                    )
                })?;
            let w = &mut weights.proj_data[slot];
            if w.len() != ad.rows * ad.cols {
                return Err(LlmError::config(
                    "lora",
                    format!("adapter `{}` does not fit its weight's shape", ad.base_name),
                ));
            }
            // One parallel pass over W, each row's `B·A` formed and added in place (no
            // `rows × cols` delta allocated: 210 of them per GRPO step's merge and unmerge).
            let s = f * self.config.scale();
            super::lowrank::add_times(w, s, &ad.b, ad.rows, self.config.rank, &ad.a, ad.cols);
        }
        Ok(())
    }
}
