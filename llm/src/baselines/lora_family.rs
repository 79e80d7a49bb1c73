//! Supervised training of the LoRA family on next-token cross-entropy: plain LoRA, ReLoRA
//! (restarts with optimiser pruning under the jagged cosine schedule, after an optional
//! full-rank warm start) and PeriodicLoRA (stages ending in an unload), one step at a time on a
//! [`GradModel`] with [`AdamW`]. What differs between them is only the [`MergePlan`], the
//! schedule and the warm start, so one stepper serves all three (and full finetuning: a model
//! with no adapters and a plan that never merges).

use super::merge_plan::{MergeAction, MergePlan, MergePlanKind};
use super::prune::prune_moments;
use super::schedule::JaggedCosine;
use crate::error::{LlmError, Result};
use crate::grad::{AdamW, GradModel, Lora, Sequence};
use eggroll_core::cpu::Cpu;

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    /// The batch's mean cross-entropy before the step.
    pub loss: f32,
    /// The learning rate the step used.
    pub lr: f64,
    /// Whether the adapters were folded into the base after the step.
    pub merged: bool,
}

/// A LoRA-family run in progress.
#[derive(Debug)]
pub struct LoraFamily {
    /// When to fold the adapters in.
    pub plan: MergePlan,
    /// The learning-rate multiplier over the run.
    pub schedule: JaggedCosine,
    /// The base learning rate.
    pub base_lr: f64,
    /// Full-rank steps before the adapters take over (ReLoRA's warm start; 0: none).
    pub warm_start: u64,
    /// Adapters parked during the warm start.
    parked: Option<Lora>,
    /// Restarts so far (keys the re-drawn adapters).
    restarts: u64,
    /// Steps taken.
    pub step: u64,
}

impl LoraFamily {
    /// Start a run on `model` (which must carry adapters unless the plan never merges).
    /// During a warm start the adapters are set aside and the base trains.
    pub fn new(
        model: &mut GradModel,
        plan: MergePlan,
        schedule: JaggedCosine,
        base_lr: f64,
        warm_start: u64,
    ) -> Result<Self> {
        plan.validate()?;
        schedule.validate()?;
        let merges = !matches!(plan.kind, MergePlanKind::Lora);
        if model.lora.is_none() && (warm_start > 0 || merges) {
            return Err(LlmError::config(
                "lora",
                "ReLoRA and PeriodicLoRA (and a warm start) need LoRA adapters on the model",
            ));
        }
        if warm_start >= plan.total_steps && warm_start > 0 {
            return Err(LlmError::config(
                "relora.warm_start",
                format!(
                    "{warm_start} warm-start steps leave none of the run's {} for the adapters",
                    plan.total_steps
                ),
            ));
        }
        let parked = if warm_start > 0 {
            model.train_base = true;
            model.lora.take()
        } else {
            None
        };
        Ok(LoraFamily {
            plan,
            schedule,
            base_lr,
            warm_start,
            parked,
            restarts: 0,
            step: 0,
        })
    }

    /// One optimiser step on `batch`, then whatever the plan says is due.
    pub fn step(
        &mut self,
        cpu: &Cpu,
        model: &mut GradModel,
        opt: &mut AdamW,
        batch: &[Sequence],
    ) -> Result<StepReport> {
        let lr = self.base_lr * self.schedule.at(self.step);
        opt.lr = lr;
        let (loss, grads) = model.loss_and_grads(cpu, batch, self.step)?;
        opt.step(model, &grads)?;
        self.step += 1;
        if self.step == self.warm_start {
            // The warm start ends: the adapters take over from a fresh optimiser.
            model.lora = self.parked.take();
            model.train_base = false;
            opt.reset();
        }
        let action = (self.step > self.warm_start)
            .then(|| self.plan.after(self.step))
            .flatten();
        if let Some(a) = action {
            self.restarts += 1;
            apply(model, opt, a, self.restarts)?;
        }
        Ok(StepReport {
            loss,
            lr,
            merged: action.is_some(),
        })
    }
}

/// Fold `a.fold` of the adapters' product into the base, keep `a.keep` of it in the adapters
/// (or re-draw them, key `round`), and prune the optimiser's state.
fn apply(model: &mut GradModel, opt: &mut AdamW, a: MergeAction, round: u64) -> Result<()> {
    let Some(lora) = model.lora.as_mut() else {
        return Err(LlmError::config(
            "lora",
            "a merge is due but the model has no adapters",
        ));
    };
    if a.fold != 0.0 {
        lora.fold(&mut model.llama.weights, a.fold as f32)?;
    }
    if a.keep > 0.0 {
        let k = a.keep.sqrt() as f32;
        for ad in &mut lora.adapters {
            ad.a.iter_mut().chain(ad.b.iter_mut()).for_each(|v| *v *= k);
        }
    } else {
        lora.reinitialise(round);
    }
    if a.prune_optimizer >= 1.0 {
        opt.reset();
    } else {
        for (_, moments) in &mut opt.state {
            prune_moments(moments, a.prune_optimizer);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "lora_family_tests.rs"]
mod tests;
