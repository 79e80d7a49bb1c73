//! Turning policy-network outputs into environment actions.

use crate::error::{Error, Result};
use eggroll_core::vec_env::Space;

/// The action head of a policy network.
#[derive(Clone, Debug, PartialEq)]
pub enum Policy {
    /// One logit per action; the action is the argmax (ties: the lowest index).
    Discrete {
        /// Number of actions.
        n: usize,
    },
    /// One output per action dimension, squashed by tanh and scaled to `[low, high]`.
    Continuous {
        /// Lower bounds.
        low: Vec<f32>,
        /// Upper bounds.
        high: Vec<f32>,
    },
}

impl Policy {
    /// The head for an action space.
    pub fn for_space(space: Space) -> Self {
        match space {
            Space::Discrete { n } => Policy::Discrete { n },
            Space::Continuous { low, high } => Policy::Continuous { low, high },
        }
    }

    /// Network outputs per row.
    pub fn outputs(&self) -> usize {
        match self {
            Policy::Discrete { n } => *n,
            Policy::Continuous { low, .. } => low.len(),
        }
    }

    /// Action width per row in the environment's buffer.
    pub fn action_dim(&self) -> usize {
        match self {
            Policy::Discrete { .. } => 1,
            Policy::Continuous { low, .. } => low.len(),
        }
    }

    /// Write the action of `out` (one row of network outputs) into `action`; `row` names the
    /// member's row in errors.
    pub fn act(&self, out: &[f32], action: &mut [f32], row: usize) -> Result<()> {
        if let Some(v) = out.iter().find(|v| !v.is_finite()) {
            return Err(Error::Training {
                generation: 0,
                why: format!("policy output of row {row} is not finite ({v})"),
            });
        }
        match self {
            Policy::Discrete { .. } => {
                let best = out
                    .iter()
                    .enumerate()
                    .fold(0, |b, (k, &v)| if v > out[b] { k } else { b });
                action[0] = best as f32;
            }
            Policy::Continuous { low, high } => {
                for (k, a) in action.iter_mut().enumerate() {
                    let t = eggroll_core::cpu::tanh_fast(out[k]);
                    *a = low[k] + (t + 1.0) * 0.5 * (high[k] - low[k]);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_map_outputs_to_valid_actions() {
        let d = Policy::Discrete { n: 3 };
        let mut a = [0.0];
        d.act(&[0.1, 2.0, -1.0], &mut a, 0).unwrap();
        assert_eq!(a, [1.0]);
        let c = Policy::Continuous {
            low: vec![-2.0],
            high: vec![2.0],
        };
        c.act(&[100.0], &mut a, 0).unwrap();
        assert_eq!(a, [2.0]);
        c.act(&[0.0], &mut a, 0).unwrap();
        assert_eq!(a, [0.0]);
        let err = c.act(&[f32::NAN], &mut a, 7).unwrap_err().to_string();
        assert!(err.contains("row 7"), "{err}");
    }
}
