//! The ES gradient estimate on the device: per-stream coefficients folded on the host (N
//! scalars), keys derived on the device, then one noise-generating GEMM over N·r for a
//! low-rank matrix (of sign factors for `eggroll_sign`), or a dense accumulation for vectors
//! and OpenES matrices.

use crate::buffer::WgpuBuffer;
use crate::device::Wgpu;
use crate::dispatch::{to_u32, Batch, Uniform};
use crate::error::Result;
use eggroll_core::params::{ParamShape, ParamSpec};
use eggroll_core::population::{NoiseKind, Population, UpdateFactors};

impl Wgpu {
    /// `(1/N) Σ_i w_i E_i` for one parameter tensor, as a new device buffer.
    pub fn es_gradient(
        &self,
        pop: &Population,
        spec: &ParamSpec,
        weights: &[f32],
    ) -> Result<WgpuBuffer> {
        let coeffs = pop.stream_coefficients(weights)?;
        let streams = pop.streams();
        let inv_n = 1.0 / pop.size as f32;
        let numel = spec.shape.numel();
        to_u32("parameter elements", numel)?;
        self.checked("es_gradient", || {
            let grad = self.alloc("es gradient", numel)?;
            let coef = self.upload_words("stream coefficients", &coeffs)?;
            let mut batch = Batch::new(self);
            let keys = self.record_keys(&mut batch, pop, (spec.id, spec.id), 0, streams)?;
            let buffers = [&keys.buffer, &coef.buffer, &grad.buffer];
            match (spec.shape, pop.kind) {
                (ParamShape::Matrix { rows, cols }, NoiseKind::LowRank { rank }) => {
                    let k = to_u32("streams × rank", streams as usize * rank as usize)?;
                    let params = Uniform::new()
                        .u(rows as u32)
                        .u(cols as u32)
                        .u(k)
                        .u(rank)
                        .f(pop.matrix_scale() * inv_n)
                        .u((pop.variant().factors == UpdateFactors::Sign) as u32);
                    let grid = self.gemm_grid("es_gradient", rows, cols)?;
                    batch.dispatch(&self.kernels.grad_lowrank, params, &buffers, grid);
                }
                _ => {
                    let params = Uniform::new()
                        .u(numel as u32)
                        .u(streams)
                        .f(pop.sigma * inv_n);
                    let grid = self.grid_for("es_gradient", numel, 256)?;
                    batch.dispatch(&self.kernels.grad_dense, params, &buffers, grid);
                }
            }
            batch.submit();
            Ok(grad)
        })
    }
}
