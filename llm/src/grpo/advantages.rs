//! Group-relative advantages: every prompt's G completions are scored against each other.
//!
//! `A_i = (r_i − mean_g) / (std + ε)` with `std` the group's (or the whole batch's) standard
//! deviation, the unbiased estimate (n − 1) as `torch.std` gives it, or no scaling at all
//! (Dr. GRPO). A group whose rewards all agree gets advantages 0 and carries no signal; the
//! count of such groups is returned so a run can log it.

use crate::error::{LlmError, Result};

/// How advantages are scaled after subtracting the group mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewardScale {
    /// Divide by the group's standard deviation (GRPO).
    Group,
    /// Divide by the standard deviation of the whole batch.
    Batch,
    /// Do not divide (Dr. GRPO).
    None,
}

impl RewardScale {
    /// Parse a config value (`group`, `batch`, `none`), naming `key` when it is unknown.
    pub fn parse(key: &str, value: &str) -> Result<Self> {
        match value {
            "group" => Ok(RewardScale::Group),
            "batch" => Ok(RewardScale::Batch),
            "none" => Ok(RewardScale::None),
            other => Err(LlmError::config(
                key,
                format!("`{other}` is not one of group, batch, none"),
            )),
        }
    }
}

/// Advantages of a batch of groups and how many groups carried no signal.
#[derive(Clone, Debug, PartialEq)]
pub struct Advantages {
    /// One advantage per completion, in the rewards' order.
    pub values: Vec<f32>,
    /// Groups whose rewards all agree (their advantages are all 0).
    pub tied_groups: usize,
    /// Number of groups.
    pub groups: usize,
}

/// Unbiased standard deviation of `xs` (0 for fewer than two values).
fn std_unbiased(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    (ss / (xs.len() - 1) as f64).sqrt()
}

/// Advantages of `rewards`, laid out as consecutive groups of `group_size` completions of the
/// same prompt, scaled by `scale` with `eps` added to the deviation (TRL: 1e-4).
pub fn group_advantages(
    rewards: &[f32],
    group_size: usize,
    scale: RewardScale,
    eps: f32,
) -> Result<Advantages> {
    if group_size < 2 {
        return Err(LlmError::config(
            "grpo.group_size",
            format!("{group_size} completions per prompt; GRPO compares at least 2"),
        ));
    }
    if !rewards.len().is_multiple_of(group_size) {
        return Err(LlmError::config(
            "grpo.group_size",
            format!(
                "{} rewards do not split into groups of {group_size}",
                rewards.len()
            ),
        ));
    }
    if let Some(i) = rewards.iter().position(|r| !r.is_finite()) {
        return Err(LlmError::Data {
            what: "GRPO rewards".into(),
            why: format!("reward {i} is {} (not finite)", rewards[i]),
        });
    }
    let r: Vec<f64> = rewards.iter().map(|&x| x as f64).collect();
    let batch_std = std_unbiased(&r);
    let mut values = Vec::with_capacity(r.len());
    let mut tied_groups = 0;
    for g in r.chunks(group_size) {
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        if g.iter().all(|&x| x == g[0]) {
            tied_groups += 1;
        }
        let std = match scale {
            RewardScale::Group => Some(std_unbiased(g)),
            RewardScale::Batch => Some(batch_std),
            RewardScale::None => None,
        };
        for &x in g {
            let centred = x - mean;
            let a = match std {
                Some(s) => centred / (s + eps as f64),
                None => centred,
            };
            values.push(a as f32);
        }
    }
    Ok(Advantages {
        values,
        tied_groups,
        groups: r.len() / group_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_scaling_matches_hand_computed_values() {
        // Group 1: rewards 1, 0, 0, 1 → mean 0.5, unbiased std sqrt(1/3) = 0.57735.
        // Group 2: all 0 → tied, advantages 0.
        let a = group_advantages(
            &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            4,
            RewardScale::Group,
            1e-4,
        )
        .unwrap();
        let s = (1.0f64 / 3.0).sqrt() + 1e-4;
        let hi = (0.5 / s) as f32;
        assert_eq!(a.values[..4], [hi, -hi, -hi, hi]);
        assert_eq!(a.values[4..], [0.0; 4]);
        assert_eq!((a.tied_groups, a.groups), (1, 2));
    }

    #[test]
    fn batch_scaling_divides_by_the_batch_deviation_and_none_only_centres() {
        let r = [1.0, 0.0, 0.5, 0.5];
        // Batch: mean 0.5, deviations ±0.5, 0, 0 → ss 0.5, unbiased var 1/6.
        let b = group_advantages(&r, 2, RewardScale::Batch, 0.0).unwrap();
        let s = (1.0f64 / 6.0).sqrt();
        assert_eq!(
            b.values,
            vec![(0.5 / s) as f32, (-0.5 / s) as f32, 0.0, 0.0]
        );
        assert_eq!(b.tied_groups, 1);
        let n = group_advantages(&r, 2, RewardScale::None, 1e-4).unwrap();
        assert_eq!(n.values, vec![0.5, -0.5, 0.0, 0.0]);
    }

    #[test]
    fn bad_layouts_and_rewards_are_refused_by_name() {
        let e = group_advantages(&[1.0, 0.0, 1.0], 2, RewardScale::Group, 1e-4).unwrap_err();
        assert!(e.to_string().contains("grpo.group_size"), "{e}");
        let e = group_advantages(&[1.0, 0.0], 1, RewardScale::Group, 1e-4).unwrap_err();
        assert!(e.to_string().contains("at least 2"), "{e}");
        let e = group_advantages(&[1.0, f32::NAN], 2, RewardScale::Group, 1e-4).unwrap_err();
        assert!(e.to_string().contains("reward 1"), "{e}");
        assert!(RewardScale::parse("grpo.scale_rewards", "std").is_err());
    }
}
