//! Fitness shaping: raw fitness → the weights that multiply each member's noise.

use crate::error::{CoreError, Result};
use serde::{Deserialize, Serialize};

/// How raw fitness values are turned into update weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Shaping {
    /// `(f − mean) / sqrt(var + 1e-5)` over the population (the reference's default).
    #[default]
    ZScore,
    /// Ranks mapped linearly to [−0.5, 0.5] (OpenAI-ES), ties sharing their mean rank.
    CenteredRanks,
    /// Raw fitness, unchanged.
    Raw,
    /// Antithetic pair difference `(f₊ − f₋)/2` for the + member, its negation for the − member,
    /// divided by the standard deviation of the differences.
    PairDifference,
    /// The sign of each antithetic pair's difference, `sign(f₊ − f₋)` for the + member and its
    /// negation for the − member (EGG's integer fitness; integer models take it as
    /// [`crate::learner::Update::PairSigns`]).
    PairSign,
}

/// Shape `fitness` into update weights.
///
/// `group_size` > 1 subtracts each consecutive group's mean before scaling (per-group
/// normalisation, the reference's `group_size`); the scale stays global, as in the reference.
/// Non-finite fitness is rejected with an error naming the member: callers decide the policy
/// (see the trainer's `nan_policy`).
pub fn shape_fitness(fitness: &[f32], shaping: Shaping, group_size: usize) -> Result<Vec<f32>> {
    if let Some(i) = fitness.iter().position(|f| !f.is_finite()) {
        return Err(CoreError::invalid(
            "fitness",
            format!("member {i} has non-finite fitness {}", fitness[i]),
        ));
    }
    if fitness.is_empty() {
        return Ok(Vec::new());
    }
    let f: Vec<f64> = fitness.iter().map(|&x| x as f64).collect();
    let out = match shaping {
        Shaping::Raw => f,
        Shaping::ZScore => {
            let centred = centre(&f, group_size)?;
            let var = centred.iter().map(|x| x * x).sum::<f64>() / f.len() as f64;
            let inv = 1.0 / (var + 1e-5).sqrt();
            centred.iter().map(|x| x * inv).collect()
        }
        Shaping::CenteredRanks => centred_ranks(&f),
        Shaping::PairDifference => {
            if f.len() % 2 == 1 {
                return Err(CoreError::invalid(
                    "shaping",
                    "pair_difference needs an even, antithetic population",
                ));
            }
            let diffs: Vec<f64> = f.chunks(2).map(|p| (p[0] - p[1]) / 2.0).collect();
            let var = diffs.iter().map(|d| d * d).sum::<f64>() / diffs.len() as f64;
            let inv = 1.0 / (var + 1e-5).sqrt();
            diffs.iter().flat_map(|d| [d * inv, -d * inv]).collect()
        }
        Shaping::PairSign => pair_signs(fitness)?
            .into_iter()
            .flat_map(|s| [s as f64, -(s as f64)])
            .collect(),
    };
    Ok(out.into_iter().map(|x| x as f32).collect())
}

/// One sign per antithetic pair, `sign(f₂ₖ − f₂ₖ₊₁)` ∈ {−1, 0, 1} (ties give 0), for an even
/// population of finite fitness.
pub fn pair_signs(fitness: &[f32]) -> Result<Vec<i8>> {
    if fitness.len() % 2 == 1 {
        return Err(CoreError::invalid(
            "shaping",
            "pair_sign needs an even, antithetic population",
        ));
    }
    if let Some(i) = fitness.iter().position(|f| !f.is_finite()) {
        return Err(CoreError::invalid(
            "fitness",
            format!("member {i} has non-finite fitness {}", fitness[i]),
        ));
    }
    Ok(fitness
        .chunks_exact(2)
        .map(|p| match p[0].partial_cmp(&p[1]) {
            Some(std::cmp::Ordering::Greater) => 1,
            Some(std::cmp::Ordering::Less) => -1,
            _ => 0,
        })
        .collect())
}

fn centre(f: &[f64], group_size: usize) -> Result<Vec<f64>> {
    let g = group_size.max(1);
    if !f.len().is_multiple_of(g) {
        return Err(CoreError::invalid(
            "group_size",
            format!("{g} does not divide the population size {}", f.len()),
        ));
    }
    let g = if group_size <= 1 { f.len() } else { g };
    Ok(f.chunks(g)
        .flat_map(|chunk| {
            let mean = chunk.iter().sum::<f64>() / chunk.len() as f64;
            chunk.iter().map(move |x| x - mean)
        })
        .collect())
}

fn centred_ranks(f: &[f64]) -> Vec<f64> {
    let n = f.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| f[a].total_cmp(&f[b]).then(a.cmp(&b)));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && f[order[j + 1]] == f[order[i]] {
            j += 1;
        }
        let mean_rank = (i + j) as f64 / 2.0;
        for &idx in &order[i..=j] {
            ranks[idx] = mean_rank;
        }
        i = j + 1;
    }
    if n == 1 {
        return vec![0.0];
    }
    ranks.iter().map(|r| r / (n - 1) as f64 - 0.5).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zscore_hand_computed() {
        // mean 2.5, var 1.25
        let w = shape_fitness(&[1.0, 2.0, 3.0, 4.0], Shaping::ZScore, 1).unwrap();
        let s = (1.25f64 + 1e-5).sqrt();
        for (got, want) in w.iter().zip([-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]) {
            assert!((*got as f64 - want).abs() < 1e-6);
        }
    }

    #[test]
    fn group_normalisation_uses_group_means_global_scale() {
        let w = shape_fitness(&[1.0, 3.0, 10.0, 12.0], Shaping::ZScore, 2).unwrap();
        // centred: -1, 1, -1, 1 → var 1
        let s = (1.0f64 + 1e-5).sqrt();
        for (got, want) in w.iter().zip([-1.0 / s, 1.0 / s, -1.0 / s, 1.0 / s]) {
            assert!((*got as f64 - want).abs() < 1e-6);
        }
        assert!(shape_fitness(&[1.0, 2.0, 3.0], Shaping::ZScore, 2).is_err());
    }

    #[test]
    fn centred_ranks_with_ties() {
        let w = shape_fitness(&[5.0, 1.0, 5.0, 3.0], Shaping::CenteredRanks, 1).unwrap();
        // sorted: 1 (rank 0), 3 (rank 1), 5,5 (ranks 2,3 → 2.5)
        let want = [2.5 / 3.0 - 0.5, -0.5, 2.5 / 3.0 - 0.5, 1.0 / 3.0 - 0.5];
        for (g, w) in w.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-7, "{g} vs {w}");
        }
    }

    #[test]
    fn pair_difference_is_antisymmetric() {
        let w = shape_fitness(&[3.0, 1.0, 0.0, 2.0], Shaping::PairDifference, 1).unwrap();
        assert_eq!(w[0], -w[1]);
        assert_eq!(w[2], -w[3]);
        assert!(w[0] > 0.0 && w[2] < 0.0);
    }

    #[test]
    fn pair_sign_hand_computed() {
        let f = [3.0, 1.0, 0.0, 2.0, 5.0, 5.0];
        assert_eq!(pair_signs(&f).unwrap(), vec![1, -1, 0]);
        let w = shape_fitness(&f, Shaping::PairSign, 1).unwrap();
        assert_eq!(w, vec![1.0, -1.0, -1.0, 1.0, 0.0, 0.0]);
        assert!(pair_signs(&[1.0, 2.0, 3.0]).is_err());
        assert!(pair_signs(&[1.0, f32::NAN]).is_err());
    }

    #[test]
    fn non_finite_fitness_names_the_member() {
        let err = shape_fitness(&[1.0, f32::NAN], Shaping::ZScore, 1).unwrap_err();
        assert!(err.to_string().contains("member 1"), "{err}");
    }
}
