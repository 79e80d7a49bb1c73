//! ES gradient quality on a least-squares problem, and the effect of the rank (the paper:
//! the low-rank update approaches the full-rank one as r grows).

#![allow(clippy::unwrap_used)]

use eggroll_core::conformance::dense_perturbation;
use eggroll_core::cpu::Cpu;
use eggroll_core::noise::{fill_normals, StreamKey};
use eggroll_core::params::{ParamShape, ParamSpec};
use eggroll_core::population::{NoiseKind, Population, PopulationParams};
use eggroll_core::Backend;

const A: usize = 16;
const B: usize = 24;

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Fitness −½‖(W + E)X − Y‖² of a linear least-squares problem; returns the ES gradient estimate and
/// the true gradient of the fitness at W.
fn es_and_true_gradient(kind: NoiseKind, seed: u64, n: u32) -> (Vec<f32>, Vec<f32>) {
    let randn = |salt: u32, len: usize| {
        let mut v = vec![0.0f32; len];
        fill_normals(StreamKey::new(seed, salt, 0, 0), 0, 1.0, &mut v);
        v
    };
    let m = 32; // samples
    let x = randn(1, B * m); // B × m
    let w_true = randn(2, A * B);
    let w = randn(3, A * B);
    let mut y = vec![0.0f32; A * m];
    for o in 0..A {
        for s in 0..m {
            y[o * m + s] = (0..B).map(|i| w_true[o * B + i] * x[i * m + s]).sum();
        }
    }
    let residual = |wp: &[f32]| -> Vec<f64> {
        let mut r = vec![0.0f64; A * m];
        for o in 0..A {
            for s in 0..m {
                let p: f64 = (0..B)
                    .map(|i| wp[o * B + i] as f64 * x[i * m + s] as f64)
                    .sum();
                r[o * m + s] = p - y[o * m + s] as f64;
            }
        }
        r
    };
    let fitness = |wp: &[f32]| -0.5 * residual(wp).iter().map(|v| v * v).sum::<f64>();
    // True gradient of the fitness: −R Xᵀ.
    let r = residual(&w);
    let mut grad = vec![0.0f32; A * B];
    for o in 0..A {
        for i in 0..B {
            grad[o * B + i] = -(0..m)
                .map(|s| r[o * m + s] * x[i * m + s] as f64)
                .sum::<f64>() as f32;
        }
    }
    let pop = Population::new(PopulationParams {
        seed,
        epoch: 0,
        size: n,
        sigma: 1e-3,
        kind,
        antithetic: true,
    })
    .unwrap();
    let spec = ParamSpec {
        name: "w".into(),
        id: 0,
        shape: ParamShape::Matrix { rows: A, cols: B },
    };
    let f: Vec<f32> = (0..n)
        .map(|i| {
            let e = dense_perturbation(&pop, &spec, i);
            let wp: Vec<f32> = w.iter().zip(&e).map(|(a, b)| a + b).collect();
            fitness(&wp) as f32
        })
        .collect();
    let mean = f.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let weights: Vec<f32> = f.iter().map(|&v| (v as f64 - mean) as f32).collect();
    (Cpu::new().es_gradient(&pop, &spec, &weights).unwrap(), grad)
}

#[test]
fn eggroll_direction_aligns_with_the_true_gradient() {
    let (d, g) = es_and_true_gradient(NoiseKind::LowRank { rank: 1 }, 1, 8192);
    let c = cosine(&d, &g);
    eprintln!("cos {c}");
    assert!(
        c > 0.9,
        "rank-1 cosine with the true gradient at N=8192: {c}"
    );
}

#[test]
fn higher_rank_is_closer_to_full_rank_es() {
    let seeds: Vec<u64> = (11..27).collect();
    let mean_cos = |kind| {
        seeds
            .iter()
            .map(|&s| {
                let (d, g) = es_and_true_gradient(kind, s, 1024);
                cosine(&d, &g)
            })
            .sum::<f64>()
            / seeds.len() as f64
    };
    let r1 = mean_cos(NoiseKind::LowRank { rank: 1 });
    let r4 = mean_cos(NoiseKind::LowRank { rank: 4 });
    let r16 = mean_cos(NoiseKind::LowRank { rank: 16 });
    let full = mean_cos(NoiseKind::Full);
    eprintln!("cos r1 {r1} r4 {r4} r16 {r16} full {full}");
    // Rank 1 is measurably worse; from rank 4 on the cosines are within a few thousandths of
    // each other at this size (64 seeds: r4 0.749, r16 0.757, full 0.760), so 16 seeds cannot
    // order r4 and r16 reliably and the test does not ask them to.
    assert!(r1 < r4 && r1 < r16, "cosines r1 {r1}, r4 {r4}, r16 {r16}");
    for (name, r) in [("r4", r4), ("r16", r16)] {
        assert!(
            (full - r).abs() < (full - r1).abs(),
            "full {full}, {name} {r}, r1 {r1}"
        );
    }
}
