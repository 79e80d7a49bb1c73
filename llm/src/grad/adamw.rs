//! AdamW (decoupled weight decay) over a [`GradModel`]'s trainable tensors, descending the
//! loss. The element-wise update is core's host reference (`eggroll_core::optim`, the one the
//! ES optimiser uses), fed the negated gradient, since ES ascends a fitness.

use super::grads::Grads;
use super::model::GradModel;
use crate::error::{LlmError, Result};
use eggroll_core::optim::{apply_step_host, Optimizer};

/// AdamW's hyper-parameters and its moments per named tensor.
#[derive(Clone, Debug)]
pub struct AdamW {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator guard.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Steps taken.
    pub t: u64,
    /// `(name, [m, v])` per trainable tensor, in the model's order.
    pub state: Vec<(String, Vec<Vec<f32>>)>,
    /// Tensors (by name) that keep their values: their gradient is computed but not applied
    /// (a from-scratch model whose embedding and norms stay fixed, as ES leaves them).
    pub frozen: Vec<String>,
}

impl AdamW {
    /// An optimiser with PyTorch's defaults (β 0.9, 0.999, ε 1e-8) and the given rate and
    /// weight decay. Refuses a rate or decay that is negative or not finite.
    pub fn new(lr: f64, weight_decay: f64) -> Result<Self> {
        for (key, v) in [("adamw.lr", lr), ("adamw.weight_decay", weight_decay)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(LlmError::config(
                    key,
                    format!("{v} must be finite and >= 0"),
                ));
            }
        }
        Ok(AdamW {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            t: 0,
            state: Vec::new(),
            frozen: Vec::new(),
        })
    }

    /// Zero every moment and the step count (an optimiser restart).
    pub fn reset(&mut self) {
        self.t = 0;
        self.state.clear();
    }

    /// One step of every trainable tensor of `model` down its gradient in `grads`.
    pub fn step(&mut self, model: &mut GradModel, grads: &Grads) -> Result<()> {
        let opt = Optimizer::Adam {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
        };
        opt.validate()?;
        let gs = grads.tensors();
        let mut params = model.trainable_mut();
        if gs.len() != params.len() {
            return Err(LlmError::config(
                "adamw",
                format!(
                    "{} gradients for {} trainable tensors",
                    gs.len(),
                    params.len()
                ),
            ));
        }
        if self.state.is_empty() {
            self.state = params
                .iter()
                .map(|(n, p)| (n.clone(), vec![vec![0.0; p.len()]; 2]))
                .collect();
        }
        self.t += 1;
        let step = opt.step(self.t, self.lr, 1);
        for (((name, p), g), (sname, st)) in params.iter_mut().zip(gs).zip(&mut self.state) {
            if name != sname || p.len() != g.len() || st[0].len() != p.len() {
                return Err(LlmError::config(
                    "adamw",
                    format!(
                        "tensor `{name}` does not match the optimiser's `{sname}` or its gradient"
                    ),
                ));
            }
            if self.frozen.iter().any(|f| f == name) {
                continue;
            }
            let neg: Vec<f32> = g.iter().map(|v| -v).collect();
            apply_step_host(p, &neg, st, &step);
        }
        Ok(())
    }
}
