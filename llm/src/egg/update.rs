//! The integer ES update: no optimiser state, no floating point.
//!
//! Each pair `k` has fitness `f_k = sign(F_2k − F_2k+1) ∈ {−1, 0, 1}`. For a matrix,
//! `Z = Σ_k f_k·A_k·B_kᵀ` is ONE int8 GEMM of (out × K·r)·(K·r × in) over the K pairs with
//! `f_k ≠ 0`; for a vector `Z = Σ_k f_k·ε_k`. A weight moves by `sign(Z)` (clipped to ±127)
//! only where `|Z|` passes a two-sided z-test at level α: under the null (random signs) `Z` has
//! standard deviation `256·√(K·r)` (matrices; each factor is 16·N(0,1)) or `16·√K` (vectors), so
//! the test is `Z²·2^16 ≥ thr²·K·r` resp. `Z²·2^24 ≥ thr²·K`, with `thr = Φ⁻¹(1 − α/2)` in
//! 2^-16 units read from core's normal-quantile table (`normal_fixed` of the tail probability).

use crate::egg::params::Weights;
use eggroll_core::int::{matrix_update_sum, vector_update_sum};
use eggroll_core::noise::normal_fixed;
use eggroll_core::params::ParamShape;
use rayon::prelude::*;

/// The z-test threshold `Φ⁻¹(1 − α/2)` in 2^-16 units for α in 2^-31 units (0 when α ≥ 1).
pub fn z_threshold(alpha_fixed: u64) -> u64 {
    if alpha_fixed >= 1 << 31 {
        return 0;
    }
    let v = alpha_fixed.max(1) as u32;
    normal_fixed(v << 1).unsigned_abs() as u64
}

/// Fold the population's scores into per-pair signs `sign(F_2k − F_2k+1)`.
pub fn pair_signs(scores: &[i64]) -> Vec<i8> {
    scores
        .chunks_exact(2)
        .map(|p| (p[0] - p[1]).signum() as i8)
        .collect()
}

/// What an update did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpdateStats {
    /// Weights that moved by ±1.
    pub changed: u64,
    /// Pairs with a nonzero sign.
    pub active_pairs: u64,
}

/// Apply one update in place (and refresh the i16 copy).
pub fn es_update(
    wts: &mut Weights,
    seed: u64,
    epoch: u32,
    rank: usize,
    signs: &[i8],
    alpha_fixed: u64,
) -> UpdateStats {
    let active: Vec<(u32, i8)> = signs
        .iter()
        .enumerate()
        .filter(|(_, &s)| s != 0)
        .map(|(k, &s)| (k as u32, s))
        .collect();
    let kk = active.len();
    if kk == 0 {
        return UpdateStats::default();
    }
    let thr = z_threshold(alpha_fixed) as u128;
    let layout = &wts.layout;
    let w = &wts.w;
    let new: Vec<(Vec<i8>, u64)> = layout
        .params
        .par_iter()
        .enumerate()
        .map(|(id, p)| {
            let cur = &w[p.offset..p.offset + p.shape.numel()];
            let mut out = cur.to_vec();
            let mut changed = 0u64;
            let mut apply = |i: usize, z: i32| {
                let v = (out[i] as i32 + z.signum()).clamp(-127, 127) as i8;
                changed += (v != out[i]) as u64;
                out[i] = v;
            };
            match p.shape {
                ParamShape::Matrix { rows, cols: inp } => {
                    let kr = kk * rank;
                    let z = matrix_update_sum(seed, id as u32, epoch, rank, rows, inp, &active);
                    let bound = thr * thr * kr as u128;
                    for (i, &zi) in z.iter().enumerate() {
                        let z2 = (zi as i128 * zi as i128) as u128;
                        if zi != 0 && z2 << 16 >= bound {
                            apply(i, zi);
                        }
                    }
                }
                ParamShape::Vector { len } => {
                    let z = vector_update_sum(seed, id as u32, epoch, len, &active);
                    let bound = thr * thr * kk as u128;
                    for (i, &zi) in z.iter().enumerate() {
                        let z2 = (zi as i128 * zi as i128) as u128;
                        if zi != 0 && z2 << 24 >= bound {
                            apply(i, zi);
                        }
                    }
                }
            }
            (out, changed)
        })
        .collect();
    let mut changed = 0;
    for (p, (vals, c)) in wts.layout.params.iter().zip(new) {
        wts.w[p.offset..p.offset + vals.len()].copy_from_slice(&vals);
        changed += c;
    }
    wts.refresh();
    UpdateStats {
        changed,
        active_pairs: kk as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eggroll_core::int::matrix_noise;
    use eggroll_core::noise::StreamKey;

    #[test]
    fn thresholds_match_normal_quantiles() {
        assert_eq!(z_threshold(1 << 31), 0);
        // α = 0.05 → 1.96; α = 2^-4 → 1.8627.
        let t = z_threshold((0.05 * (1u64 << 31) as f64) as u64) as f64 / 65536.0;
        assert!((t - 1.95996).abs() < 2e-3, "{t}");
        let t = z_threshold(1 << 27) as f64 / 65536.0;
        assert!((t - 1.86273).abs() < 2e-3, "{t}");
    }

    #[test]
    fn signs_and_single_pair_update() {
        assert_eq!(pair_signs(&[5, 3, -1, 2, 4, 4]), vec![1, -1, 0]);
        // One active pair with α = 1: every weight with A·Bᵀ ≠ 0 moves toward +A·Bᵀ.
        let mut w = Weights::init(8, 1, 1);
        let before = w.w.clone();
        let stats = es_update(&mut w, 7, 0, 1, &[0, 1], 1 << 31);
        assert_eq!(stats.active_pairs, 1);
        let p = &w.layout.params[w.layout.head];
        let ParamShape::Matrix {
            rows: out,
            cols: inp,
        } = p.shape
        else {
            panic!()
        };
        let (mut a, mut b) = (vec![0; out], vec![0; inp]);
        matrix_noise(
            StreamKey::new(7, w.layout.head as u32, 0, 1),
            inp,
            out,
            1,
            &mut a,
            &mut b,
        );
        for (o, &ao) in a.iter().enumerate() {
            for (i, &bi) in b.iter().enumerate() {
                let idx = p.offset + o * inp + i;
                let want = (before[idx] as i32 + (ao as i32 * bi as i32).signum()).clamp(-127, 127);
                assert_eq!(w.w[idx] as i32, want);
            }
        }
        assert_eq!(w.w16[p.offset], w.w[p.offset] as i16);
        // A strict α leaves a single pair's noise below the threshold almost everywhere.
        let mut w2 = Weights::init(8, 1, 1);
        let s = es_update(&mut w2, 7, 0, 1, &[0, 1], 1 << 10);
        assert!(
            s.changed < stats.changed / 10,
            "{} vs {}",
            s.changed,
            stats.changed
        );
    }
}
