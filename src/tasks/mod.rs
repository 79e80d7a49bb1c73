//! Tasks: what a population is scored on. Each MLP task implements core's [`Task`]: it fixes
//! the model's input and output widths, scores members (fitness, higher is better) and
//! evaluates the unperturbed model. The `text` task belongs to the EGG model (`eggroll-llm`).

mod benchmark;
mod digits;
mod regression;
pub mod rl;
mod supervised;

pub use benchmark::{check_pairing, BenchmarkConfig, VectorConfig};
pub use digits::digits_dataset;
pub use rl::{RlConfig, RlTask};
pub use supervised::{Loss, Supervised};

use crate::error::{Error, Result};
use eggroll_core::mlp::Mlp;
pub use eggroll_core::task::{Metrics, Task};
use eggroll_core::Backend;
use eggroll_llm::finetune::ReasoningTaskConfig;
use eggroll_llm::TextTaskConfig;
use serde::{Deserialize, Serialize};

/// The `[task]` section: which task, with its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskConfig {
    /// Classify the 8×8 handwritten digits (1,797 images shipped in the binary).
    Digits {
        /// Examples per generation's minibatch (shared by all members).
        #[serde(default = "default_batch")]
        batch: usize,
    },
    /// Regress the outputs of a fixed random tanh teacher network on Gaussian inputs.
    Regression {
        /// Input width.
        #[serde(default = "default_reg_in")]
        input: usize,
        /// Output width.
        #[serde(default = "default_reg_out")]
        output: usize,
        /// Teacher's hidden width.
        #[serde(default = "default_teacher_hidden")]
        teacher_hidden: usize,
        /// Examples per generation.
        #[serde(default = "default_batch")]
        batch: usize,
    },
    /// Reinforcement learning on a batched gymnasium-exact environment.
    Rl(RlConfig),
    /// Next-byte prediction on a byte file (the EGG language model's task).
    Text(TextTaskConfig),
    /// Reasoning problems with verifiable rewards (a pretrained language model's task).
    Reasoning(ReasoningTaskConfig),
    /// A shifted benchmark function of a plain vector (`[model] kind = "vector"`).
    Benchmark(BenchmarkConfig),
}

fn default_batch() -> usize {
    64
}
fn default_reg_in() -> usize {
    8
}
fn default_reg_out() -> usize {
    4
}
fn default_teacher_hidden() -> usize {
    16
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig::Digits {
            batch: default_batch(),
        }
    }
}

impl TaskConfig {
    /// Short name for run directories and messages.
    pub fn name(&self) -> &'static str {
        match self {
            TaskConfig::Digits { .. } => "digits",
            TaskConfig::Regression { .. } => "regression",
            TaskConfig::Rl(_) => "rl",
            TaskConfig::Text(_) => "text",
            TaskConfig::Reasoning(_) => "reasoning",
            TaskConfig::Benchmark(_) => "benchmark",
        }
    }

    /// Range checks naming the key.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let positive = |key: &str, v: usize| {
            if v == 0 {
                Err(format!("task.{key}: must be at least 1"))
            } else {
                Ok(())
            }
        };
        match *self {
            TaskConfig::Digits { batch } => positive("batch", batch),
            TaskConfig::Regression {
                input,
                output,
                teacher_hidden,
                batch,
            } => {
                positive("input", input)?;
                positive("output", output)?;
                positive("teacher_hidden", teacher_hidden)?;
                positive("batch", batch)
            }
            TaskConfig::Rl(ref rl) => rl::validate(rl),
            // Checked with the model it trains (`EggConfig::validate`).
            TaskConfig::Text(_) => Ok(()),
            TaskConfig::Reasoning(ref r) => r.validate().map_err(|e| e.to_string()),
            // Checked with the strategy that searches it (`check_pairing`).
            TaskConfig::Benchmark(_) => Ok(()),
        }
    }

    /// Build the MLP task for a run seeded with `seed`.
    pub fn build<B: Backend>(&self, seed: u64) -> Result<Box<MlpTask<B>>> {
        Ok(match *self {
            TaskConfig::Digits { batch } => Box::new(digits::digits_task(batch, seed)?),
            TaskConfig::Regression {
                input,
                output,
                teacher_hidden,
                batch,
            } => Box::new(regression::teacher_task(
                input,
                output,
                teacher_hidden,
                batch,
                seed,
            )?),
            TaskConfig::Rl(ref rl) => Box::new(RlTask::new(rl.clone(), seed)?),
            TaskConfig::Benchmark(_) => {
                return Err(Error::Config {
                    origin: "task.name".into(),
                    why: "task `benchmark` is a function of a plain vector ([model] kind = \"vector\"), not an MLP's task".into(),
                })
            }
            TaskConfig::Text(_) | TaskConfig::Reasoning(_) => {
                return Err(Error::Config {
                    origin: "task.name".into(),
                    why: format!(
                        "task `{}` trains a language model ([model] kind = \"{}\"), not an MLP",
                        self.name(),
                        if matches!(self, TaskConfig::Text(_)) {
                            "egg_gru"
                        } else {
                            "llama"
                        }
                    ),
                })
            }
        })
    }
}

/// A task of the MLP, as the run builds it from its `[task]` section (errors of the root
/// package).
pub type MlpTask<B> = dyn Task<B, Mlp<B>, Error = Error>;
