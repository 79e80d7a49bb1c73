//! The ES gradient estimate on the device: per-stream coefficients folded on the host (N
//! scalars), keys derived on the device, then one noise-generating GEMM over N·r for a
//! low-rank matrix (of sign factors for `eggroll_sign`), or a dense accumulation for vectors
//! and OpenES matrices.

use crate::buffer::CubeBuffer;
use crate::device::Cubecl;
use crate::error::Result;
use crate::kernels::{correction, elementwise, gemm};
use crate::launch::to_u32;
use eggroll_core::params::{ParamShape, ParamSpec};
use eggroll_core::population::{NoiseKind, Population, UpdateFactors};

impl Cubecl {
    /// `(1/N) Σ_i w_i E_i` for one parameter tensor, as a new device buffer.
    pub fn es_gradient(
        &self,
        pop: &Population,
        spec: &ParamSpec,
        weights: &[f32],
    ) -> Result<CubeBuffer> {
        let coeffs = pop.stream_coefficients(weights)?;
        let streams = pop.streams();
        let inv_n = 1.0 / pop.size as f32;
        let numel = spec.shape.numel();
        let len = to_u32("parameter elements", numel)?;
        let grad = self.alloc("es gradient", numel)?;
        let coef = self.upload_words("stream coefficients", &coeffs, f32::to_bits)?;
        let keys = self.stream_keys(pop, (spec.id, spec.id), 0, streams)?;
        match (spec.shape, pop.kind) {
            (ParamShape::Matrix { rows, cols }, NoiseKind::LowRank { rank }) => {
                let k = to_u32("streams × rank", streams as usize * rank as usize)?;
                if let Some((cubes, dim)) = self.gemm_grid("es_gradient", rows, cols)? {
                    gemm::grad_lowrank::launch(
                        &self.client,
                        cubes,
                        dim,
                        keys.arg(),
                        self.knots_arg(),
                        coef.arg(),
                        grad.arg(),
                        to_u32("matrix rows", rows)?,
                        to_u32("matrix columns", cols)?,
                        k,
                        rank,
                        pop.matrix_scale() * inv_n,
                        pop.variant().factors == UpdateFactors::Sign,
                    );
                }
            }
            _ => {
                if let Some((cubes, dim)) =
                    self.grid_1d("es_gradient", numel, elementwise::ELEMENTWISE_DIM)?
                {
                    correction::grad_dense::launch(
                        &self.client,
                        cubes,
                        dim,
                        keys.arg(),
                        self.knots_arg(),
                        coef.arg(),
                        grad.arg(),
                        len,
                        streams,
                        pop.sigma * inv_n,
                    );
                }
            }
        }
        self.check("es_gradient", [&grad.handle])?;
        Ok(grad)
    }
}
