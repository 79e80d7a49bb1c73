//! `eggroll_core::int::IntKernels` for [`Cubecl`]: the language model's integer kernels
//! ([`crate::kernels::int8`]) on resident buffers, bit-identical to the CPU reference
//! `eggroll_core::int::CpuInt` (checked by eggroll-core's integer conformance suite in
//! `tests/int_conformance.rs`). Inputs and weights travel packed four int8 to a word; only
//! stream keys are uploaded, the noise is regenerated inside the kernels.

use crate::buffer::CubeBuffer;
use crate::device::Cubecl;
use crate::error::{CubeclError, Result};
use crate::kernels::int8;
use crate::launch::to_u32;
use eggroll_core::int::{check_matmul, matmul_keys, pack_int8, IntKernels, IntMatmul};

fn invalid(op: &str, e: eggroll_core::CoreError) -> CubeclError {
    CubeclError::op(op, e)
}

impl Cubecl {
    /// Upload 32-bit words.
    fn upload_u32(&self, what: &str, words: &[u32]) -> Result<CubeBuffer> {
        self.upload_words(what, words, |w| w)
    }

    /// Download a buffer of int32 words (two's-complement bits).
    fn download_i32(&self, buf: &CubeBuffer) -> Result<Vec<i32>> {
        Ok(self
            .download_f32(buf)?
            .into_iter()
            .map(|v| v.to_bits() as i32)
            .collect())
    }

    /// The perturbed matmul: validated inputs in, int32 words out.
    fn int8_matmul(&self, op: &str, mm: &IntMatmul<'_>) -> Result<Vec<i32>> {
        check_matmul(mm).map_err(|e| invalid(op, e))?;
        let IntMatmul {
            x,
            rows,
            w,
            out,
            inp,
            noise,
        } = *mm;
        let (m, n, k) = (
            to_u32("int8 rows", rows)?,
            to_u32("int8 out", out)?,
            to_u32("int8 inp", inp)?,
        );
        let Some((cubes, dim)) = self.gemm_grid(op, rows, out)? else {
            return Ok(vec![0; rows * out]);
        };
        let xb = self.upload_u32("int8 x", &pack_int8(x))?;
        let wb = self.upload_u32("int8 w", &pack_int8(w))?;
        let y = self.alloc("int8 y", rows * out)?;
        match noise {
            Some(spec) => {
                let rank = to_u32("rank", spec.rank)?;
                let pairs = rows.div_ceil(2);
                let keys = self.upload_u32("int8 keys", &matmul_keys(spec, rows))?;
                let u = self.alloc("int8 u", rows * spec.rank)?;
                if let Some((pc, pd)) = self.grid_1d(op, pairs * spec.rank, int8::PROJECT_DIM)? {
                    int8::project::launch(
                        &self.client,
                        pc,
                        pd,
                        xb.arg(),
                        keys.arg(),
                        self.knots_arg(),
                        u.arg(),
                        m,
                        k,
                        rank,
                        pairs as u32,
                    );
                }
                int8::matmul::launch(
                    &self.client,
                    cubes,
                    dim,
                    xb.arg(),
                    wb.arg(),
                    u.arg(),
                    keys.arg(),
                    self.knots_arg(),
                    y.arg(),
                    m,
                    n,
                    k,
                    rank,
                    spec.sigma_shift,
                    true,
                );
            }
            None => {
                let dummy = || crate::buffer::handle_arg(&self.dummy, 1);
                int8::matmul::launch(
                    &self.client,
                    cubes,
                    dim,
                    xb.arg(),
                    wb.arg(),
                    dummy(),
                    dummy(),
                    self.knots_arg(),
                    y.arg(),
                    m,
                    n,
                    k,
                    1,
                    0,
                    false,
                );
            }
        }
        self.check(op, [&y.handle])?;
        self.download_i32(&y)
    }
}

impl IntKernels for Cubecl {
    type Error = CubeclError;

    fn name(&self) -> String {
        format!("cubecl {}", self.description())
    }

    fn perturbed_matmul(&self, m: &IntMatmul<'_>) -> Result<Vec<i32>> {
        self.int8_matmul("int8 matmul", m)
    }
}
