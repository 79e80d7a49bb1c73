//! The conformance suite every backend runs, written once, generic over [`Backend`](crate::backend::Backend).
//!
//! The references are independent of any backend's fused kernels: explicit dense
//! `X·(W + E_i)ᵀ` with `E_i` materialised from the noise stream, and the explicit sum
//! `(1/N) Σ w_i E_i`. Noise must be bit-exact; floats must agree within [`TOLERANCE`]
//! (relative to the largest magnitude of the reference). Run it for a backend with
//! [`conformance_suite!`](crate::conformance_suite).
//!
//! `dense`: checks against explicit dense references; `against_cpu`: checks against the CPU
//! backend on larger shapes (tile boundaries), activations, optimiser steps and a whole
//! MLP generation; `edges`: counter wrap-around, empty batches and error reporting.

/// Relative tolerance for float results against the references.
pub const TOLERANCE: f32 = 1e-4;

pub mod against_cpu;
pub mod dense;
pub mod edges;

pub use against_cpu::*;
pub use dense::*;
pub use edges::*;

use crate::noise::{normal_at, StreamKey};
use crate::population::{NoiseKind, Population};

pub(crate) fn small_population(kind: NoiseKind, antithetic: bool, size: u32) -> Population {
    Population {
        seed: 0xfeed_beef_1234,
        epoch: 3,
        size,
        sigma: 0.05,
        kind,
        antithetic,
    }
}

pub(crate) fn deterministic_values(n: usize, salt: u32) -> Vec<f32> {
    let key = StreamKey::new(99, salt, 0, 0);
    (0..n).map(|j| normal_at(key, j as u32) * 0.5).collect()
}

pub(crate) fn max_rel_err(got: &[f32], want: &[f32]) -> f32 {
    let scale = want.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .fold(0.0f32, |m, (g, w)| m.max((g - w).abs() / scale))
}

/// Define one `#[test]` per conformance check for a backend expression.
#[macro_export]
macro_rules! conformance_suite {
    ($backend:expr) => {
        #[test]
        fn conformance_noise_bit_exact() {
            $crate::conformance::check_noise_bit_exact(&$backend).unwrap();
        }
        #[test]
        fn conformance_forward_matches_dense() {
            $crate::conformance::check_forward_matches_dense(&$backend).unwrap();
        }
        #[test]
        fn conformance_linear_rows_matches_dense() {
            $crate::conformance::check_linear_rows_matches_dense(&$backend).unwrap();
        }
        #[test]
        fn conformance_linear_matches_cpu_across_tiles() {
            $crate::conformance::check_linear_matches_cpu_across_tiles(&$backend).unwrap();
        }
        #[test]
        fn conformance_gradient_matches_cpu_across_tiles() {
            $crate::conformance::check_gradient_matches_cpu_across_tiles(&$backend).unwrap();
        }
        #[test]
        fn conformance_activations_match_cpu() {
            $crate::conformance::check_activations_match_cpu(&$backend).unwrap();
        }
        #[test]
        fn conformance_optimizer_matches_host() {
            $crate::conformance::check_optimizer_matches_host(&$backend).unwrap();
        }
        #[test]
        fn conformance_generation_matches_cpu() {
            $crate::conformance::check_generation_matches_cpu(&$backend).unwrap();
        }
        #[test]
        fn conformance_edge_cases() {
            $crate::conformance::check_edge_cases(&$backend).unwrap();
        }
        #[test]
        fn conformance_gradient_matches_sum() {
            $crate::conformance::check_gradient_matches_sum(&$backend).unwrap();
        }
    };
}
