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
//! MLP generation; `edges`: counter wrap-around, empty batches and error reporting;
//! `variants`: the EGGROLL variants (sign update factors, unperturbed baseline members).

/// Relative tolerance for float results against the references.
pub const TOLERANCE: f32 = 1e-4;

pub mod against_cpu;
pub mod dense;
pub mod edges;
pub mod variants;

pub use against_cpu::*;
pub use dense::*;
pub use edges::*;
pub use variants::{check_variant_forward, check_variant_gradient};

use crate::noise::{normal_at, StreamKey};
use crate::population::{NoiseKind, Population, PopulationParams};

pub(crate) fn small_population(kind: NoiseKind, antithetic: bool, size: u32) -> Population {
    Population::new(PopulationParams {
        seed: 0xfeed_beef_1234,
        epoch: 3,
        size,
        sigma: 0.05,
        kind,
        antithetic,
    })
    .expect("a valid population")
}

/// Deterministic normal values (σ 0.5) for a case; `salt` picks the sequence.
pub fn deterministic_values(n: usize, salt: u32) -> Vec<f32> {
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
///
/// `conformance_suite!(optional: EXPR)` takes an `Option<&Backend>` instead: with `None` (no
/// device on this machine, see [`crate::gpu_skip`]) every test passes without checking.
#[macro_export]
macro_rules! conformance_suite {
    (optional: $backend:expr) => {
        #[test]
        fn conformance_noise_bit_exact() {
            if let Some(b) = $backend {
                $crate::conformance::check_noise_bit_exact(b).unwrap();
            }
        }
        #[test]
        fn conformance_forward_matches_dense() {
            if let Some(b) = $backend {
                $crate::conformance::check_forward_matches_dense(b).unwrap();
            }
        }
        #[test]
        fn conformance_tagged_rows_match_dense() {
            if let Some(b) = $backend {
                $crate::conformance::check_tagged_rows_match_dense(b).unwrap();
            }
        }
        #[test]
        fn conformance_linear_matches_cpu_across_tiles() {
            if let Some(b) = $backend {
                $crate::conformance::check_linear_matches_cpu_across_tiles(b).unwrap();
            }
        }
        #[test]
        fn conformance_gradient_matches_cpu_across_tiles() {
            if let Some(b) = $backend {
                $crate::conformance::check_gradient_matches_cpu_across_tiles(b).unwrap();
            }
        }
        #[test]
        fn conformance_activations_match_cpu() {
            if let Some(b) = $backend {
                $crate::conformance::check_activations_match_cpu(b).unwrap();
            }
        }
        #[test]
        fn conformance_optimizer_matches_host() {
            if let Some(b) = $backend {
                $crate::conformance::check_optimizer_matches_host(b).unwrap();
            }
        }
        #[test]
        fn conformance_generation_matches_cpu() {
            if let Some(b) = $backend {
                $crate::conformance::check_generation_matches_cpu(b).unwrap();
            }
        }
        #[test]
        fn conformance_edge_cases() {
            if let Some(b) = $backend {
                $crate::conformance::check_edge_cases(b).unwrap();
            }
        }
        #[test]
        fn conformance_gradient_matches_sum() {
            if let Some(b) = $backend {
                $crate::conformance::check_gradient_matches_sum(b).unwrap();
            }
        }
        #[test]
        fn conformance_variant_forward() {
            if let Some(b) = $backend {
                $crate::conformance::check_variant_forward(b).unwrap();
            }
        }
        #[test]
        fn conformance_variant_gradient() {
            if let Some(b) = $backend {
                $crate::conformance::check_variant_gradient(b).unwrap();
            }
        }
    };
    ($backend:expr) => {
        $crate::conformance_suite!(optional: ::core::option::Option::Some(&$backend));
    };
}

#[cfg(test)]
mod broken_backend {
    //! The suite must be able to fail: a CPU backend whose `linear` is off by 1e-3 in one
    //! output element is reported by the forward checks.
    use crate::backend::{Activation, Backend, LinearLayer};
    use crate::cpu::Cpu;
    use crate::error::Result;
    use crate::noise::StreamKey;
    use crate::optim::OptimStep;
    use crate::params::ParamSpec;
    use crate::population::{Population, RowOwners};

    /// `Cpu`, except that `linear` adds 1e-3 to its first output element.
    struct OffByOne(Cpu);

    impl Backend for OffByOne {
        type Buffer = <Cpu as Backend>::Buffer;
        fn name(&self) -> &'static str {
            "off-by-one"
        }
        fn upload(&self, host: &[f32]) -> Result<Self::Buffer> {
            self.0.upload(host)
        }
        fn download(&self, buf: &Self::Buffer) -> Result<Vec<f32>> {
            self.0.download(buf)
        }
        fn linear(
            &self,
            x: &Self::Buffer,
            rows: usize,
            layer: &LinearLayer<'_, Self::Buffer>,
            owners: RowOwners<'_>,
        ) -> Result<Self::Buffer> {
            let y = self.0.linear(x, rows, layer, owners)?;
            let mut host = self.0.download(&y)?;
            if let Some(v) = host.first_mut() {
                *v += 1e-3;
            }
            self.0.upload(&host)
        }
        fn activate(&self, x: &mut Self::Buffer, act: Activation) -> Result<()> {
            self.0.activate(x, act)
        }
        fn es_gradient(
            &self,
            pop: &Population,
            spec: &ParamSpec,
            weights: &[f32],
        ) -> Result<Self::Buffer> {
            self.0.es_gradient(pop, spec, weights)
        }
        fn optimizer_step(
            &self,
            param: &mut Self::Buffer,
            grad: &Self::Buffer,
            state: &mut [Self::Buffer],
            step: &OptimStep,
        ) -> Result<()> {
            self.0.optimizer_step(param, grad, state, step)
        }
        fn normals(&self, key: StreamKey, start: u32, len: usize) -> Result<Self::Buffer> {
            self.0.normals(key, start, len)
        }
    }

    #[test]
    fn suite_reports_a_wrong_linear() {
        let b = OffByOne(Cpu::new());
        // What the wrapper leaves alone still passes...
        super::check_noise_bit_exact(&b).unwrap();
        super::check_gradient_matches_sum(&b).unwrap();
        // ...and the checks of `linear` report the perturbed element.
        assert!(super::check_forward_matches_dense(&b).is_err());
        assert!(super::check_linear_matches_cpu_across_tiles(&b).is_err());
        assert!(super::check_variant_forward(&b).is_err());
        super::check_variant_gradient(&b).unwrap();
    }
}
