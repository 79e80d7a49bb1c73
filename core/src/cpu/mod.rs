//! The CPU reference backend: rayon across rows and members, blocked SIMD GEMM.

mod activation;
mod aligned;
mod dot;
mod forward;
mod gemm;
mod gemm_nt;
mod gemm_nt_avx512;
mod gemm_packed;
mod gradient;
mod kernels;
mod machine;
mod noise_factors;
mod serial;

pub use crate::activation::tanh_fast;
pub use activation::activate_in_place;
use forward::{linear_forward, HostLinear};
pub use forward::{target_chunk_rows, NT_MAX_ROWS};
pub use gemm::{sgemm, MatRef};
pub use gemm_packed::packed_gemm_nt;
pub use machine::{cpu_description, vector_features};
pub use noise_factors::NoiseCache;
pub use serial::{is_serial, serial};

use crate::backend::{Activation, Backend, LinearLayer};
use crate::error::{CoreError, Result};
use crate::noise::{fill_normals, StreamKey};
use crate::optim::{apply_step_host, OptimStep};
use crate::params::ParamSpec;
use crate::population::{Population, RowOwners};
use rayon::prelude::*;

/// The CPU backend. Buffers are plain `Vec<f32>`; threads come from rayon's global pool
/// (`RAYON_NUM_THREADS`), and results do not depend on their number.
///
/// A `Cpu` owns its [`NoiseCache`] (the regenerated noise it keeps for streams used many
/// times, at most 64 MiB): two `Cpu` values never share one, and a cache lives as long as
/// its backend. Making one allocates nothing.
#[derive(Debug, Default)]
pub struct Cpu {
    cache: NoiseCache,
}

impl Cpu {
    /// A CPU backend with an empty noise cache.
    pub const fn new() -> Self {
        Cpu {
            cache: NoiseCache::new(),
        }
    }
}

impl Backend for Cpu {
    type Buffer = Vec<f32>;

    fn name(&self) -> &'static str {
        "cpu"
    }

    fn upload(&self, host: &[f32]) -> Result<Vec<f32>> {
        Ok(host.to_vec())
    }

    fn download(&self, buf: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(buf.clone())
    }

    fn linear(
        &self,
        x: &Vec<f32>,
        rows: usize,
        layer: &LinearLayer<'_, Vec<f32>>,
        owners: RowOwners<'_>,
    ) -> Result<Vec<f32>> {
        self.linear_activated(x, rows, layer, owners, Activation::Identity)
    }

    /// Grouped and tagged rows both take the fused fast path: one shared GEMM per chunk, then
    /// each run of rows of one noise stream corrected together.
    fn linear_activated(
        &self,
        x: &Vec<f32>,
        rows: usize,
        layer: &LinearLayer<'_, Vec<f32>>,
        owners: RowOwners<'_>,
        act: Activation,
    ) -> Result<Vec<f32>> {
        linear_forward(&self.cache, x, rows, &host_linear(layer), owners, act)
    }

    fn activate(&self, x: &mut Vec<f32>, act: Activation) -> Result<()> {
        if act != Activation::Identity {
            if x.len() < 1 << 16 || is_serial() {
                activate_in_place(x, act);
            } else {
                x.par_chunks_mut(1 << 14)
                    .for_each(|c| activate_in_place(c, act));
            }
        }
        Ok(())
    }

    /// The CPU: callers may run blocks of work as rayon tasks, each inside [`serial`].
    fn computes_on_host(&self) -> bool {
        true
    }

    fn es_gradient(&self, pop: &Population, spec: &ParamSpec, weights: &[f32]) -> Result<Vec<f32>> {
        gradient::es_gradient(&self.cache, pop, spec, weights)
    }

    fn optimizer_step(
        &self,
        param: &mut Vec<f32>,
        grad: &Vec<f32>,
        state: &mut [Vec<f32>],
        step: &OptimStep,
    ) -> Result<()> {
        if grad.len() != param.len() {
            return Err(CoreError::shape(
                "optimizer gradient",
                param.len(),
                grad.len(),
            ));
        }
        let need = match step {
            OptimStep::Sgd { .. } => 0,
            OptimStep::Adam { .. } => 2,
        };
        if state.len() != need || state.iter().any(|s| s.len() != param.len()) {
            return Err(CoreError::invalid(
                "optimizer state",
                format!("expected {need} buffers of {} elements", param.len()),
            ));
        }
        apply_step_host(param, grad, state, step);
        Ok(())
    }

    fn normals(&self, key: StreamKey, start: u32, len: usize) -> Result<Vec<f32>> {
        let mut out = vec![0.0; len];
        fill_normals(key, start, 1.0, &mut out);
        Ok(out)
    }
}

/// The host view of a layer whose buffers already live on the host.
fn host_linear<'a>(layer: &LinearLayer<'a, Vec<f32>>) -> HostLinear<'a> {
    HostLinear {
        weight: layer.weight,
        weight_id: layer.weight_id,
        out_dim: layer.out_dim,
        in_dim: layer.in_dim,
        bias: layer.bias.map(|(b, id)| (b.as_slice(), id)),
        rows: layer.rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{NoiseKind, PopulationParams};

    #[test]
    fn fused_activation_equals_linear_then_activate() {
        // 512 rows × 64 × 96 is above the parallel threshold: several chunks, each activated
        // on its own; results must equal the separate passes bit for bit.
        let (rows, n_in, n_out) = (512usize, 64usize, 96usize);
        let x: Vec<f32> = (0..rows * n_in)
            .map(|i| ((i % 29) as f32 - 14.0) * 0.05)
            .collect();
        let weight: Vec<f32> = (0..n_out * n_in)
            .map(|i| ((i % 17) as f32 - 8.0) * 0.03)
            .collect();
        let bias: Vec<f32> = (0..n_out).map(|i| i as f32 * 0.01 - 0.4).collect();
        let layer = LinearLayer {
            weight: &weight,
            rows: None,
            weight_id: 0,
            out_dim: n_out,
            in_dim: n_in,
            bias: Some((&bias, 1)),
        };
        let pop = Population::new(PopulationParams {
            seed: 3,
            epoch: 1,
            size: 256,
            sigma: 0.2,
            kind: NoiseKind::LowRank { rank: 2 },
            antithetic: true,
        })
        .unwrap();
        let grouped = RowOwners::Grouped {
            pop: &pop,
            first_member: 0,
            rows_per_member: 2,
        };
        let members: Vec<u32> = (0..rows as u32).map(|r| (r * 7) % 256).collect();
        let tagged = RowOwners::Tagged {
            pop: &pop,
            members: &members,
        };
        let cpu = Cpu::new();
        for owners in [RowOwners::Plain, grouped, tagged] {
            for act in [Activation::Tanh, Activation::Relu, Activation::Identity] {
                let mut want = cpu.linear(&x, rows, &layer, owners).expect("linear");
                cpu.activate(&mut want, act).expect("activate");
                let got = cpu
                    .linear_activated(&x, rows, &layer, owners, act)
                    .expect("fused");
                assert!(want
                    .iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
                assert!(got.iter().any(|v| *v != 0.0));
            }
        }
    }

    #[test]
    fn a_decode_batch_gives_each_row_the_bits_it_gets_alone() {
        // 64 rows of 128 inputs take the unpacked GEMM and, above the parallel threshold,
        // several correction tasks; a row alone is one task. Members in any order, pairs split.
        let (rows, n_in, n_out) = (64usize, 128usize, 256usize);
        let x: Vec<f32> = (0..rows * n_in)
            .map(|i| ((i % 31) as f32 - 15.0) * 0.04)
            .collect();
        let weight: Vec<f32> = (0..n_out * n_in)
            .map(|i| ((i % 23) as f32 - 11.0) * 0.02)
            .collect();
        let bias: Vec<f32> = (0..n_out).map(|i| i as f32 * 0.01 - 1.0).collect();
        let layer = LinearLayer {
            weight: &weight,
            rows: None,
            weight_id: 5,
            out_dim: n_out,
            in_dim: n_in,
            bias: Some((&bias, 6)),
        };
        let pop = Population::new(PopulationParams {
            seed: 11,
            epoch: 2,
            size: 64,
            sigma: 0.1,
            kind: NoiseKind::LowRank { rank: 1 },
            antithetic: true,
        })
        .unwrap();
        let members: Vec<u32> = (0..rows as u32).map(|r| (r * 13 + 5) % 64).collect();
        let cpu = Cpu::new();
        let owners = RowOwners::Tagged {
            pop: &pop,
            members: &members,
        };
        let all = cpu.linear(&x, rows, &layer, owners).expect("batch");
        for r in 0..rows {
            let alone = RowOwners::Tagged {
                pop: &pop,
                members: &members[r..r + 1],
            };
            let one = cpu
                .linear(&x[r * n_in..(r + 1) * n_in].to_vec(), 1, &layer, alone)
                .expect("row");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&one),
                bits(&all[r * n_out..(r + 1) * n_out]),
                "row {r}"
            );
        }
    }
}
