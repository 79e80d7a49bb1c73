//! Optimisers that turn the ES gradient estimate into a parameter step.
//!
//! The host computes the scalars of a step ([`OptimStep`]); a backend applies them
//! element-wise to its resident buffers, so parameters never leave the device.

use crate::error::{CoreError, Result};
use serde::{Deserialize, Serialize};

/// Which optimiser, with its constant hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum Optimizer {
    /// θ += lr·g (times √N when `sqrt_n_scaling`, as the JAX reference does).
    Sgd {
        /// Multiply the step by √N.
        #[serde(default)]
        sqrt_n_scaling: bool,
    },
    /// Adam (AdamW when `weight_decay` > 0: decoupled decay), ascending the ES gradient estimate.
    Adam {
        /// First-moment decay.
        #[serde(default = "default_beta1")]
        beta1: f64,
        /// Second-moment decay.
        #[serde(default = "default_beta2")]
        beta2: f64,
        /// Denominator guard.
        #[serde(default = "default_eps")]
        eps: f64,
        /// Decoupled weight decay (AdamW).
        #[serde(default)]
        weight_decay: f64,
    },
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer::Adam {
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            weight_decay: 0.0,
        }
    }
}

/// The scalars of one optimiser step, computed on the host.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimStep {
    /// θ += lr · g.
    Sgd {
        /// Effective learning rate (√N already folded in).
        lr: f32,
    },
    /// m = β1 m + (1−β1) g; v = β2 v + (1−β2) g²; θ = θ(1 − lr·wd) + lr·m̂/(√v̂ + ε).
    Adam {
        /// Learning rate at this step.
        lr: f32,
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Denominator guard.
        eps: f32,
        /// Decoupled weight decay.
        weight_decay: f32,
        /// 1 − β1^t.
        bias1: f32,
        /// 1 − β2^t.
        bias2: f32,
    },
}

impl Optimizer {
    /// Number of state buffers per parameter tensor (0 for SGD, 2 for Adam).
    pub fn state_slots(&self) -> usize {
        match self {
            Optimizer::Sgd { .. } => 0,
            Optimizer::Adam { .. } => 2,
        }
    }

    /// Check hyper-parameter ranges.
    pub fn validate(&self) -> Result<()> {
        if let Optimizer::Adam {
            beta1,
            beta2,
            eps,
            weight_decay,
        } = *self
        {
            for (name, v) in [("optimizer.beta1", beta1), ("optimizer.beta2", beta2)] {
                if !(0.0..1.0).contains(&v) {
                    return Err(CoreError::invalid(name, format!("{v} must be in [0, 1)")));
                }
            }
            if !(eps.is_finite() && eps > 0.0) {
                return Err(CoreError::invalid(
                    "optimizer.eps",
                    format!("{eps} must be > 0"),
                ));
            }
            if !(weight_decay.is_finite() && weight_decay >= 0.0) {
                return Err(CoreError::invalid(
                    "optimizer.weight_decay",
                    format!("{weight_decay} must be >= 0"),
                ));
            }
        }
        Ok(())
    }

    /// The step scalars for step number `t` (1-based), learning rate `lr`, population `n`.
    pub fn step(&self, t: u64, lr: f64, n: u32) -> OptimStep {
        match *self {
            Optimizer::Sgd { sqrt_n_scaling } => {
                let scale = if sqrt_n_scaling {
                    (n as f64).sqrt()
                } else {
                    1.0
                };
                OptimStep::Sgd {
                    lr: (lr * scale) as f32,
                }
            }
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => OptimStep::Adam {
                lr: lr as f32,
                beta1: beta1 as f32,
                beta2: beta2 as f32,
                eps: eps as f32,
                weight_decay: weight_decay as f32,
                bias1: (1.0 - beta1.powf(t as f64)) as f32,
                bias2: (1.0 - beta2.powf(t as f64)) as f32,
            },
        }
    }
}

/// Apply one step to host slices: the reference every backend's optimiser op must match.
pub fn apply_step_host(param: &mut [f32], grad: &[f32], state: &mut [Vec<f32>], step: &OptimStep) {
    match *step {
        OptimStep::Sgd { lr } => {
            for (p, g) in param.iter_mut().zip(grad) {
                *p += lr * g;
            }
        }
        OptimStep::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            bias1,
            bias2,
        } => {
            let (m, rest) = state.split_at_mut(1);
            let (m, v) = (&mut m[0], &mut rest[0]);
            for i in 0..param.len() {
                let g = grad[i];
                m[i] = beta1 * m[i] + (1.0 - beta1) * g;
                v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
                let mhat = m[i] / bias1;
                let vhat = v[i] / bias2;
                param[i] = param[i] * (1.0 - lr * weight_decay) + lr * mhat / (vhat.sqrt() + eps);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_sqrt_n() {
        let s = Optimizer::Sgd {
            sqrt_n_scaling: true,
        }
        .step(1, 0.5, 16);
        assert_eq!(s, OptimStep::Sgd { lr: 2.0 });
    }

    #[test]
    fn adam_first_step_moves_by_lr_in_sign_direction() {
        let opt = Optimizer::default();
        let step = opt.step(1, 0.1, 4);
        let mut p = vec![0.0, 0.0];
        let mut st = vec![vec![0.0; 2], vec![0.0; 2]];
        apply_step_host(&mut p, &[2.0, -0.5], &mut st, &step);
        assert!(
            (p[0] - 0.1).abs() < 1e-6 && (p[1] + 0.1).abs() < 1e-6,
            "{p:?}"
        );
    }

    #[test]
    fn rejects_bad_betas() {
        let opt = Optimizer::Adam {
            beta1: 1.0,
            beta2: 0.9,
            eps: 1e-8,
            weight_decay: 0.0,
        };
        assert!(opt.validate().is_err());
    }
}
