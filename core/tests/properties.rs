//! Property tests of the invariants every run relies on: antithetic symmetry, noise as a pure
//! function of its key, and the update's linearity in the fitness weights.

#![allow(clippy::unwrap_used)]

use eggroll_core::conformance::dense_perturbation;
use eggroll_core::cpu::Cpu;
use eggroll_core::noise::{fill_normals, normal_at, StreamKey};
use eggroll_core::params::{ParamShape, ParamSpec};
use eggroll_core::population::{NoiseKind, Population, PopulationParams};
use eggroll_core::Backend;
use proptest::prelude::*;

fn population(seed: u64, epoch: u32, size: u32, rank: u32, full: bool) -> Population {
    Population::new(PopulationParams {
        seed,
        epoch,
        size,
        sigma: 0.1,
        kind: if full {
            NoiseKind::Full
        } else {
            NoiseKind::LowRank { rank }
        },
        antithetic: true,
    })
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn antithetic_partners_are_exact_negatives(
        seed in any::<u64>(), epoch in 0u32..1000, pair in 0u32..8,
        rows in 1usize..9, cols in 1usize..9, rank in 1u32..5, full in any::<bool>(),
    ) {
        let pop = population(seed, epoch, 16, rank, full);
        let spec = ParamSpec { name: "w".into(), id: 3, shape: ParamShape::Matrix { rows, cols } };
        let plus = dense_perturbation(&pop, &spec, 2 * pair);
        let minus = dense_perturbation(&pop, &spec, 2 * pair + 1);
        for (p, m) in plus.iter().zip(&minus) {
            prop_assert_eq!(p.to_bits(), (-m).to_bits());
        }
    }

    #[test]
    fn any_slice_of_a_stream_is_the_stream(
        seed in any::<u64>(), param in any::<u32>(), start in any::<u32>(), len in 0usize..200,
    ) {
        let key = StreamKey::new(seed, param, 1, 2);
        let mut buf = vec![0.0f32; len];
        fill_normals(key, start, 1.0, &mut buf);
        for (j, v) in buf.iter().enumerate() {
            prop_assert_eq!(v.to_bits(), normal_at(key, start.wrapping_add(j as u32)).to_bits());
        }
    }

    #[test]
    fn the_update_is_linear_in_the_weights(
        seed in any::<u64>(), a in -3.0f32..3.0, rank in 1u32..4, full in any::<bool>(),
    ) {
        let pop = population(seed, 0, 8, rank, full);
        let spec = ParamSpec { name: "w".into(), id: 1, shape: ParamShape::Matrix { rows: 5, cols: 4 } };
        let w: Vec<f32> = (0..8).map(|i| (i as f32 - 3.5) * 0.3).collect();
        let scaled: Vec<f32> = w.iter().map(|v| v * a).collect();
        let g = Cpu::new().es_gradient(&pop, &spec, &w).unwrap();
        let gs = Cpu::new().es_gradient(&pop, &spec, &scaled).unwrap();
        for (x, y) in g.iter().zip(&gs) {
            prop_assert!((x * a - y).abs() <= 1e-5 * (1.0 + y.abs()), "{} vs {}", x * a, y);
        }
    }
}
