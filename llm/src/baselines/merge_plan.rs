//! When LoRA adapters are folded into the base weights, and what happens to them and to the
//! optimiser then: never (LoRA), every K steps with the adapters re-initialised and the
//! optimiser's state pruned by magnitude (ReLoRA, Lialin et al. 2023), or at the end of every
//! stage with the optimiser reset (PeriodicLoRA, Meng et al. 2024).
//!
//! PeriodicLoRA's "momentum-based unloading" has no public code; eggroll implements it as: with
//! momentum μ, a stage end folds `(1 − μ)·s·B·A` into W and keeps `μ·s·B·A` in the adapters
//! (both scaled by √μ) instead of re-initialising them, so the update moves into W smoothly.
//! μ = 0 is plain unloading.

use crate::error::{LlmError, Result};

/// Which merge schedule a run follows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MergePlanKind {
    /// Plain LoRA: the adapters are never folded in during training.
    Lora,
    /// ReLoRA: fold in, re-initialise and prune `prune` of the optimiser's state by magnitude
    /// every `every` steps.
    ReLora {
        /// Restart period in steps.
        every: u64,
        /// Fraction of the optimiser's state zeroed at a restart (ReLoRA: 0.9–0.999).
        prune: f64,
    },
    /// PeriodicLoRA: fold in at the end of every stage of `stage_steps` steps and reset the
    /// optimiser.
    PeriodicLora {
        /// Steps per stage.
        stage_steps: u64,
        /// Momentum μ of the unloading (0: fold everything in and re-initialise).
        unload_momentum: f64,
    },
}

/// What to do to the adapters and the optimiser after a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MergeAction {
    /// Fraction of the adapters' product `s·B·A` folded into W.
    pub fold: f64,
    /// Fraction of the product the adapters keep (each of A and B scaled by its square root);
    /// 0 means re-initialise them (A random, B zero).
    pub keep: f64,
    /// Fraction of the optimiser's state entries zeroed by magnitude (1: a full reset).
    pub prune_optimizer: f64,
}

/// A run's merge schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MergePlan {
    /// The schedule.
    pub kind: MergePlanKind,
    /// Steps of the whole run (no merge after the last one: the final adapters stay separate
    /// until the run's export merges them).
    pub total_steps: u64,
}

impl MergePlan {
    /// Check the settings, naming the key at fault.
    pub fn validate(&self) -> Result<()> {
        match self.kind {
            MergePlanKind::Lora => Ok(()),
            MergePlanKind::ReLora { every, prune } => {
                if every == 0 {
                    return Err(LlmError::config("relora.restart_every", "must be ≥ 1 step"));
                }
                if !(0.0..=1.0).contains(&prune) {
                    return Err(LlmError::config(
                        "relora.optimizer_prune",
                        format!("{prune} is not a fraction in [0, 1]"),
                    ));
                }
                Ok(())
            }
            MergePlanKind::PeriodicLora {
                stage_steps,
                unload_momentum,
            } => {
                if stage_steps == 0 {
                    return Err(LlmError::config("plora.stage_steps", "must be ≥ 1 step"));
                }
                if !(0.0..1.0).contains(&unload_momentum) {
                    return Err(LlmError::config(
                        "plora.unload_momentum",
                        format!("{unload_momentum} is not in [0, 1)"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The action due once `steps_done` steps have been taken, if any.
    pub fn after(&self, steps_done: u64) -> Option<MergeAction> {
        if steps_done == 0 || steps_done >= self.total_steps {
            return None;
        }
        match self.kind {
            MergePlanKind::Lora => None,
            MergePlanKind::ReLora { every, prune } => {
                steps_done.is_multiple_of(every).then_some(MergeAction {
                    fold: 1.0,
                    keep: 0.0,
                    prune_optimizer: prune,
                })
            }
            MergePlanKind::PeriodicLora {
                stage_steps,
                unload_momentum,
            } => steps_done
                .is_multiple_of(stage_steps)
                .then_some(MergeAction {
                    fold: 1.0 - unload_momentum,
                    keep: unload_momentum,
                    prune_optimizer: 1.0,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_schedule_merges_when_it_says() {
        let relora = MergePlan {
            kind: MergePlanKind::ReLora {
                every: 3,
                prune: 0.9,
            },
            total_steps: 10,
        };
        let due: Vec<u64> = (0..=10).filter(|&t| relora.after(t).is_some()).collect();
        assert_eq!(due, [3, 6, 9]);
        assert_eq!(
            relora.after(3),
            Some(MergeAction {
                fold: 1.0,
                keep: 0.0,
                prune_optimizer: 0.9
            })
        );
        let plora = MergePlan {
            kind: MergePlanKind::PeriodicLora {
                stage_steps: 5,
                unload_momentum: 0.25,
            },
            total_steps: 10,
        };
        let due: Vec<u64> = (0..=10).filter(|&t| plora.after(t).is_some()).collect();
        assert_eq!(due, [5]);
        assert_eq!(
            plora.after(5),
            Some(MergeAction {
                fold: 0.75,
                keep: 0.25,
                prune_optimizer: 1.0
            })
        );
        let lora = MergePlan {
            kind: MergePlanKind::Lora,
            total_steps: 10,
        };
        assert!((0..=10).all(|t| lora.after(t).is_none()));
    }

    #[test]
    fn bad_settings_name_their_key() {
        let bad = |kind| {
            MergePlan {
                kind,
                total_steps: 5,
            }
            .validate()
            .unwrap_err()
            .to_string()
        };
        assert!(bad(MergePlanKind::ReLora {
            every: 0,
            prune: 0.9
        })
        .contains("relora.restart_every"));
        assert!(bad(MergePlanKind::ReLora {
            every: 2,
            prune: 1.5
        })
        .contains("relora.optimizer_prune"));
        assert!(bad(MergePlanKind::PeriodicLora {
            stage_steps: 2,
            unload_momentum: 1.0
        })
        .contains("plora.unload_momentum"));
    }
}
