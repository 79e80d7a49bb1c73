//! The configuration of an ES finetuning run: which base model and which of its matrices are
//! trained (`[model] kind = "llama"`), and which problems members answer and how they are
//! scored (`[task] name = "reasoning"`).

use crate::error::{LlmError, Result};
use crate::llama::weights::{Proj, PROJS};
use crate::reasoning::{ReasoningKind, RewardScheme};
use serde::{Deserialize, Serialize};

/// `[model] kind = "llama"`: a pretrained model file and the projections ES trains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlamaModelConfig {
    /// The model: a GGUF file, or a Hugging Face directory (`config.json`,
    /// `model.safetensors`, `tokenizer.json`).
    pub path: String,
    /// Projections trained and perturbed, by short name (`q k v o gate up down`; default
    /// all). The embedding, the head and the norms are never trained.
    #[serde(default = "all_projections")]
    pub train: Vec<String>,
    /// Blocks whose projections are trained (default: every block).
    #[serde(default)]
    pub layers: Option<Vec<usize>>,
}

fn all_projections() -> Vec<String> {
    PROJS.iter().map(|p| p.short().to_string()).collect()
}

impl LlamaModelConfig {
    /// The projections of `train`, refusing unknown names.
    pub fn projections(&self) -> Result<Vec<Proj>> {
        self.train
            .iter()
            .map(|s| {
                Proj::from_short(s).ok_or_else(|| {
                    LlmError::config(
                        "model.train",
                        format!("`{s}` is not a projection (q, k, v, o, gate, up, down)"),
                    )
                })
            })
            .collect()
    }

    /// Whether block `layer`'s projection `p` is trained (`n_layers`: the model's blocks;
    /// a listed block beyond them is an error).
    pub fn selector(&self, n_layers: usize) -> Result<impl Fn(usize, Proj) -> bool> {
        let projs = self.projections()?;
        if projs.is_empty() {
            return Err(LlmError::config(
                "model.train",
                "trains nothing: name at least one projection",
            ));
        }
        let layers = self.layers.clone();
        if let Some(bad) = layers.iter().flatten().find(|&&l| l >= n_layers) {
            return Err(LlmError::config(
                "model.layers",
                format!(
                    "block {bad} does not exist: the model has {n_layers} (0 to {})",
                    n_layers - 1
                ),
            ));
        }
        Ok(move |l: usize, p: Proj| {
            projs.contains(&p) && layers.as_ref().is_none_or(|ls| ls.contains(&l))
        })
    }
}

/// How a generation's prompts are shared among members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FitnessLayout {
    /// Every member answers the same `prompts` problems (fitness differences come from the
    /// members alone, not from the problems they drew).
    #[default]
    Shared,
    /// Each antithetic pair answers its own `prompts` problems (the JAX reference's layout:
    /// more problems per generation, the pair's difference still compares like with like).
    Pair,
}

/// `[task] name = "reasoning"`: problems, reward and decoding budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasoningTaskConfig {
    /// The problems: `{ kind = "arith", level = "plain" }` or `{ kind = "countdown",
    /// numbers = 3 }`.
    pub problem: ReasoningKind,
    /// Reward scheme: `exact_match` (arith; Countdown too), `tiny_zero` or `reasoning_gym`
    /// (Countdown). Default: `exact_match` for arith, `tiny_zero` for Countdown.
    #[serde(default)]
    pub reward: Option<RewardScheme>,
    /// Problems each member answers per generation.
    #[serde(default = "default_prompts")]
    pub prompts: usize,
    /// How those problems are shared among members.
    #[serde(default)]
    pub layout: FitnessLayout,
    /// Normalise each problem's rewards over the members that answered it (all members in
    /// layout `shared`, the pair in `pair`): `(r − mean) / std`, 0 where they all agree; a
    /// member's fitness is then the mean over its problems. Hard problems that few members
    /// solve weigh as much as easy ones (GRPO's group advantage). Default: off (mean reward).
    #[serde(default)]
    pub group_norm: bool,
    /// Most new tokens per answer (training and evaluation).
    #[serde(default = "default_max_new_tokens")]
    pub max_new_tokens: usize,
    /// Held-out problems scored by `evaluate` (greedy, unperturbed model).
    #[serde(default = "default_eval_problems")]
    pub eval_problems: usize,
    /// Seed of the problems (the held-out set is drawn from a seed derived from it, so the
    /// two never share a problem stream).
    #[serde(default)]
    pub seed: u64,
}

fn default_prompts() -> usize {
    4
}
fn default_max_new_tokens() -> usize {
    32
}
fn default_eval_problems() -> usize {
    64
}

impl ReasoningTaskConfig {
    /// Check the values that cannot be caught by their types.
    pub fn validate(&self) -> Result<()> {
        if self.prompts == 0 {
            return Err(LlmError::config("task.prompts", "must be at least 1"));
        }
        if self.max_new_tokens == 0 {
            return Err(LlmError::config(
                "task.max_new_tokens",
                "must be at least 1",
            ));
        }
        if self.eval_problems == 0 {
            return Err(LlmError::config("task.eval_problems", "must be at least 1"));
        }
        self.problem.validate()?;
        self.problem.check_scheme(self.scheme())
    }

    /// The reward scheme (the family's default when `reward` is not given).
    pub fn scheme(&self) -> RewardScheme {
        self.reward.unwrap_or(match self.problem {
            ReasoningKind::Arith { .. } => RewardScheme::ExactMatch,
            ReasoningKind::Countdown { .. } => RewardScheme::TinyZero,
        })
    }
}
