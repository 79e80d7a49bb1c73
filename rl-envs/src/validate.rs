//! Checks on the buffers handed to `step`: sizes, and actions a policy may get wrong.

use eggroll_core::vec_env::Space;
use eggroll_core::{CoreError, Result};

/// Check that `actions` has `num_envs × dim` entries and that every action is acceptable:
/// finite (a NaN or infinite action is an error naming the env), and for discrete spaces an
/// integral index below `n`. Continuous actions outside the box are accepted; each
/// environment clips them the way gymnasium does.
pub fn check_actions(env: &str, space: &Space, num_envs: usize, actions: &[f32]) -> Result<()> {
    let dim = space.dim();
    if actions.len() != num_envs * dim {
        return Err(CoreError::shape(
            format!("{env} step: actions (num_envs {num_envs} x action_dim {dim})"),
            num_envs * dim,
            actions.len(),
        ));
    }
    match space {
        Space::Discrete { n } => {
            let top = *n as f32;
            // Below 2^23, adding and removing 2^23 rounds to an integer, so a value survives
            // it exactly when it is one: a test that vectorises, unlike a cast to an integer.
            const UNIT_ULP: f32 = 8_388_608.0;
            let ok = if top <= UNIT_ULP {
                actions.iter().fold(true, |ok, &a| {
                    ok & (a >= 0.0) & (a < top) & ((a + UNIT_ULP) - UNIT_ULP == a)
                })
            } else {
                actions
                    .iter()
                    .all(|&a| a >= 0.0 && a < top && (a as i32) as f32 == a)
            };
            if !ok {
                if let Some((i, a)) = actions
                    .iter()
                    .enumerate()
                    .find(|(_, &a)| !(a >= 0.0 && a < top && (a as i32) as f32 == a))
                {
                    return Err(CoreError::invalid(
                        format!("{env} action of env {i}"),
                        format!("{a} is not a discrete action (expected an integer in 0..{n})"),
                    ));
                }
            }
        }
        Space::Continuous { .. } => {
            let ok = actions.iter().fold(true, |ok, a| ok & a.is_finite());
            if !ok {
                if let Some((idx, a)) = actions.iter().enumerate().find(|(_, a)| !a.is_finite()) {
                    let (i, c) = (idx / dim.max(1), idx % dim.max(1));
                    return Err(CoreError::invalid(
                        format!("{env} action of env {i} (component {c})"),
                        format!("{a} is not a finite number"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Check that an output buffer holds one entry per environment.
pub fn check_len(env: &str, what: &str, num_envs: usize, got: usize) -> Result<()> {
    if got != num_envs {
        return Err(CoreError::shape(
            format!("{env} step: {what}"),
            num_envs,
            got,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discrete_rules() {
        let s = Space::Discrete { n: 3 };
        assert!(check_actions("E", &s, 3, &[0.0, 1.0, 2.0]).is_ok());
        let err = check_actions("E", &s, 3, &[0.0, 3.0, 1.0])
            .unwrap_err()
            .to_string();
        assert!(err.contains("env 1"), "{err}");
        assert!(check_actions("E", &s, 2, &[0.5, 1.0]).is_err());
        assert!(check_actions("E", &s, 1, &[-1.0]).is_err());
        let err = check_actions("E", &s, 2, &[1.0, f32::NAN])
            .unwrap_err()
            .to_string();
        assert!(err.contains("env 1") && err.contains("NaN"), "{err}");
        assert!(check_actions("E", &s, 2, &[1.0]).is_err());
    }

    #[test]
    fn continuous_rules() {
        let s = Space::Continuous {
            low: vec![-1.0],
            high: vec![1.0],
        };
        assert!(check_actions("E", &s, 2, &[5.0, -7.0]).is_ok());
        let err = check_actions("E", &s, 3, &[0.0, 0.0, f32::NAN])
            .unwrap_err()
            .to_string();
        assert!(err.contains("env 2") && err.contains("NaN"), "{err}");
        assert!(check_actions("E", &s, 1, &[f32::INFINITY]).is_err());
    }
}
