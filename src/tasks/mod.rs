//! Tasks: what a population is scored on. Each task fixes the model's input and output
//! widths, scores members (fitness, higher is better) and evaluates the unperturbed model.

mod digits;
mod regression;
pub mod rl;
mod supervised;

pub use digits::digits_dataset;
pub use rl::{RlConfig, RlTask};
pub use supervised::{Loss, Supervised};

use crate::error::Result;
use eggroll_core::mlp::Mlp;
use eggroll_core::population::Population;
use eggroll_core::Backend;
use serde::{Deserialize, Serialize};
use std::ops::Range;

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
        }
    }

    /// Build the task for a run seeded with `seed`.
    pub fn build<B: Backend>(&self, seed: u64) -> Result<Box<dyn Task<B>>> {
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
        })
    }
}

/// A task scores population members and evaluates the unperturbed model.
pub trait Task<B: Backend> {
    /// Model input width.
    fn input_dim(&self) -> usize;

    /// Model output width.
    fn output_dim(&self) -> usize;

    /// Fitness of `members` of `pop` at `generation` (higher is better).
    fn fitness(
        &self,
        backend: &B,
        model: &Mlp<B>,
        pop: &Population,
        members: Range<u32>,
        generation: u64,
    ) -> Result<Vec<f32>>;

    /// Rows one member evaluates in one forward (minibatch size, episodes): sizes the memory
    /// estimate made before a run starts.
    fn rows_per_member(&self) -> usize;

    /// Names of the metrics [`Task::evaluate`] reports (checked against `run.stop_metric`).
    fn metric_names(&self) -> Vec<&'static str>;

    /// Metrics of the unperturbed model (`eval_loss`, `eval_accuracy`, …).
    fn evaluate(&self, backend: &B, model: &Mlp<B>) -> Result<Vec<(&'static str, f64)>>;

    /// Called once per generation after the update, identically on every process (e.g. to
    /// update running observation statistics). Most tasks keep no state.
    fn after_generation(&self, _backend: &B, _model: &Mlp<B>, _generation: u64) -> Result<()> {
        Ok(())
    }

    /// The task's own state as JSON, saved in checkpoints (`None`: no state).
    fn state_json(&self) -> Option<String> {
        None
    }

    /// Restore the state written by [`Task::state_json`].
    fn load_state_json(&self, _json: &str) -> Result<()> {
        Ok(())
    }
}
