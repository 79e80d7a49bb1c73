//! The language model's integer kernels on wgpu: [`WgpuInt`] implements
//! [`eggroll_core::int::IntKernels`] with WGSL compute shaders (`wgsl/int8_*.wgsl`), bit-identical
//! to the CPU reference [`eggroll_core::int::CpuInt`] (checked by `eggroll_core`'s integer
//! conformance suite in `tests/int_conformance.rs`).
//!
//! The perturbed matmul: `project` computes every row's `u = (x·B) >> 4` (one thread per pair
//! and rank index, B regenerated), then one tiled int32 GEMM `x·Wᵀ` whose epilogue adds
//! `s·((u·A) >> σ_shift)` with A regenerated.
//!
//! Inputs and weights travel packed four int8 to a word; only stream keys (never noise) are
//! uploaded. Pipelines are compiled once, when the [`WgpuInt`] is made.

use crate::buffer::WgpuBuffer;
use crate::device::Wgpu;
use crate::dispatch::{to_u32, Batch, Uniform};
use crate::error::{Result, ShaderError};
use crate::kernels::Kernel;
use eggroll_core::int::{check_matmul, matmul_keys, pack_int8, IntKernels, IntMatmul};

/// The int8 pipelines.
struct Int8Kernels {
    project: Kernel,
    matmul: Kernel,
}

/// The shared pieces every int8 kernel is assembled from: the noise constants, the hash,
/// the normal table lookup and the integer helpers; `gemm` appends the tiled GEMM body.
fn assemble(body: &str, gemm: bool) -> String {
    let mut src = crate::kernels::noise_header();
    for part in [
        include_str!("wgsl/hash.wgsl"),
        include_str!("wgsl/normal.wgsl"),
        include_str!("wgsl/int8_common.wgsl"),
        body,
    ] {
        src.push_str(part);
    }
    if gemm {
        src.push_str("alias Scalar = i32;\n");
        src.push_str(crate::kernels::GEMM_TILE);
    }
    src
}

fn compile(device: &wgpu::Device, name: &'static str, src: &str, entry: &str) -> Kernel {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(src.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(name),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    });
    Kernel {
        name,
        pipeline,
        knots: true,
    }
}

/// The wgpu backend of the language model's integer kernels: a [`Wgpu`] device plus the
/// compiled int8 pipelines.
pub struct WgpuInt {
    gpu: Wgpu,
    kernels: Int8Kernels,
}

impl std::fmt::Debug for WgpuInt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WgpuInt")
            .field("adapter", &self.gpu.adapter_description())
            .finish()
    }
}

fn invalid(op: &str, e: eggroll_core::CoreError) -> ShaderError {
    ShaderError::op(op, e)
}

impl WgpuInt {
    /// Open the best adapter ([`Wgpu::new`]) and compile the int8 kernels.
    pub fn new() -> Result<WgpuInt> {
        Self::with(Wgpu::new()?)
    }

    /// Compile the int8 kernels on an open device.
    pub fn with(gpu: Wgpu) -> Result<WgpuInt> {
        let kernels = gpu.checked("compiling the int8 kernels", || {
            let device = &gpu.device;
            let matmul = assemble(include_str!("wgsl/int8_matmul.wgsl"), true);
            Ok(Int8Kernels {
                project: compile(device, "int8 project", &matmul, "project"),
                matmul: compile(device, "int8 matmul", &matmul, "main"),
            })
        })?;
        Ok(WgpuInt { gpu, kernels })
    }

    /// The device, for the f32 [`eggroll_core::Backend`] operations.
    pub fn gpu(&self) -> &Wgpu {
        &self.gpu
    }

    /// Download a buffer of int32 words.
    fn download_i32(&self, buf: &WgpuBuffer) -> Result<Vec<i32>> {
        Ok(self
            .gpu
            .download_f32(buf)?
            .into_iter()
            .map(|v| v.to_bits() as i32)
            .collect())
    }

    /// The perturbed matmul: validated inputs in, int32 words out.
    fn matmul(&self, op: &str, mm: &IntMatmul<'_>) -> Result<Vec<i32>> {
        check_matmul(mm).map_err(|e| invalid(op, e))?;
        let IntMatmul {
            x,
            rows,
            w,
            out,
            inp,
            noise,
        } = *mm;
        if rows == 0 || out == 0 {
            return Ok(vec![0; rows * out]);
        }
        let gpu = &self.gpu;
        let (m, n, k) = (
            to_u32("int8 rows", rows)?,
            to_u32("int8 out", out)?,
            to_u32("int8 inp", inp)?,
        );
        let y = gpu.checked(op, || {
            let xb = gpu.upload_words("int8 x", &pack_int8(x))?;
            let wb = gpu.upload_words("int8 w", &pack_int8(w))?;
            let y = gpu.alloc("int8 y", rows * out)?;
            let (rank, shift) = noise.map_or((1, 0), |n| (n.rank, n.sigma_shift));
            let pairs = rows.div_ceil(2);
            let keys = match noise {
                Some(n) => gpu.upload_words("int8 keys", &matmul_keys(n, rows))?,
                // A runtime array of vec4 binds at least one element.
                None => gpu.alloc("int8 keys", 4)?,
            };
            let u = gpu.alloc("int8 u", if noise.is_some() { rows * rank } else { 0 })?;
            let params = || {
                Uniform::new()
                    .u(m)
                    .u(n)
                    .u(k)
                    .u(rank as u32)
                    .u(shift)
                    .u(noise.is_some() as u32)
                    .u(pairs as u32)
            };
            let mut batch = Batch::new(gpu);
            if noise.is_some() {
                let grid = gpu.grid_for("int8 project", pairs * rank, 64)?;
                let bufs = [&xb.buffer, &keys.buffer, &u.buffer];
                batch.dispatch(&self.kernels.project, params(), &bufs, grid);
            }
            let grid = gpu.gemm_grid("int8 matmul", rows, out)?;
            let bufs = [&xb.buffer, &keys.buffer, &u.buffer, &wb.buffer, &y.buffer];
            batch.dispatch(&self.kernels.matmul, params(), &bufs, grid);
            batch.submit();
            Ok(y)
        })?;
        self.download_i32(&y)
    }
}

impl IntKernels for WgpuInt {
    type Error = ShaderError;

    fn name(&self) -> String {
        format!("wgpu {}", self.gpu.adapter_description())
    }

    fn perturbed_matmul(&self, m: &IntMatmul<'_>) -> Result<Vec<i32>> {
        self.matmul("int8 matmul", m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_assembled_from_their_parts() {
        let src = assemble(include_str!("wgsl/int8_matmul.wgsl"), true);
        for needle in [
            "fn hash32",
            "fn normal_fixed",
            "fn q8",
            "fn project",
            "fn main",
            "fn store_c",
            "KNOT_ROW",
        ] {
            assert!(src.contains(needle), "missing {needle}");
        }
        assert!(!src.contains("fn rescale8"));
    }
}
