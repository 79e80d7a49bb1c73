//! eggroll-shaders: the wgpu backend of eggroll.
//!
//! WGSL compute kernels (plain `.wgsl` files under `src/wgsl/`, embedded with
//! `include_str!`) implement [`eggroll_core::Backend`]: bit-exact counter-based noise, the
//! fused low-rank batched linear layer (one shared GEMM plus per-member rank-r corrections
//! whose noise is regenerated in registers), the ES direction as one GEMM over N·r, and
//! the optimiser steps. Parameters stay resident on the device. Open it with [`Wgpu::new`].
//!
//! ```no_run
//! use eggroll_core::Backend;
//! use eggroll_core::noise::StreamKey;
//!
//! let gpu = eggroll_shaders::Wgpu::new()?; // a clear error when no adapter exists
//! let z = gpu.normals(StreamKey::new(1, 2, 3, 4), 0, 8)?;
//! assert_eq!(gpu.download(&z)?.len(), 8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The integer language model's kernels (`eggroll_core::int::IntKernels`: the perturbed int8 matmul
//! with each member's rank-r correction) run on [`WgpuInt`], with the int8 noise regenerated inside the WGSL
//! kernels; their integer results are bit-identical to the CPU reference
//! `eggroll_core::int::CpuInt` (conformance-tested by `tests/int_conformance.rs`).
//!
//! Timing: operations are queued, not awaited; [`Wgpu::sync`] (`Backend::sync`, or any
//! download) waits for them. `eggroll bench lowrank --backend wgpu` syncs before every timer.

mod backend;
mod buffer;
mod device;
mod dispatch;
pub mod error;
mod gradient;
mod int8;
mod kernels;
mod linear;

pub use buffer::WgpuBuffer;
pub use device::Wgpu;
pub use error::ShaderError;
pub use int8::WgpuInt;
