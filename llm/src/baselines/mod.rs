//! Pieces the gradient baselines share beyond the backward pass: ReLoRA's jagged cosine
//! learning-rate schedule and its optimiser reset by magnitude pruning, when LoRA adapters are
//! folded into the base weights (ReLoRA's restarts, PeriodicLoRA's stages), and the numerical
//! rank of an accumulated update `W_final − W_initial`, which says whether merging raised the
//! update's rank beyond the adapters' own.

pub mod lora_family;
pub mod merge_plan;
pub mod prune;
pub mod rank;
pub mod schedule;

pub use lora_family::{LoraFamily, StepReport};
pub use merge_plan::{MergeAction, MergePlan, MergePlanKind};
pub use prune::{prune_moments, prune_smallest};
pub use rank::{numerical_rank, singular_values};
pub use schedule::JaggedCosine;
