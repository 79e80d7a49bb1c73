//! ES finetuning of a pretrained Llama-family model on reasoning problems with verifiable
//! rewards: the `[model] kind = "llama"` and `[task] name = "reasoning"` sections ([`config`]),
//! loading the base model with its identity ([`base`]), and the task that decodes a whole
//! population's answers in one batch and scores them ([`task`]).
//!
//! The root package binds the model and the task into its float learner, so the run goes
//! through the one training loop like every other workload.

pub mod base;
pub mod config;
pub mod task;

pub use base::{load_base, BaseModel};
pub use config::{FitnessLayout, LlamaModelConfig, ReasoningTaskConfig};
pub use task::ReasoningTask;
