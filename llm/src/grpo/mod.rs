//! GRPO's objective (group relative policy optimisation, Shao et al. 2024, as TRL's
//! `GRPOTrainer` computes it): group-normalised advantages from rewards, the clipped-ratio
//! per-token loss with an optional k3 KL penalty to a reference model, and its aggregation over
//! tokens (`grpo`, `dapo`, `dr_grpo`).
//!
//! Everything here is a pure function of per-token log-probabilities, so it is tested against
//! hand-computed values and it hands the model's backward pass one number per token: the
//! derivative of the loss with respect to that token's log-probability under the current policy.

pub mod advantages;
pub mod loss;
pub mod trainer;

pub use advantages::{group_advantages, Advantages, RewardScale};
pub use loss::{grpo_loss, mask_truncated, GrpoLoss, GrpoLossConfig, LossAggregation, SeqLogps};
pub use trainer::{Grpo, GrpoConfig, GrpoStepReport, LossInputs};
