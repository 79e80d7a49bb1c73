//! eggroll-cubecl: the cubecl backend of eggroll.
//!
//! `#[cube]` kernels (in `src/kernels/`) written once for every cubecl runtime implement
//! [`eggroll_core::Backend`]: bit-exact counter-based noise, the fused low-rank batched
//! linear layer (one shared GEMM plus per-member rank-r corrections whose noise is
//! regenerated in registers, never stored), the ES direction as one GEMM over N·r, and the
//! SGD/Adam steps. Parameters stay resident on the device. [`Cubecl::new`] opens the wgpu
//! runtime on Vulkan (Mesa lavapipe works); with the `cuda` feature, `Cubecl::cuda` opens
//! an NVIDIA GPU through cubecl's CUDA runtime.
//!
//! The wgpu runtime is built with cubecl's WGSL compiler only (no `vulkan`/SPIR-V feature):
//! cubecl 0.11's direct SPIR-V output for the shared-memory GEMM kernels crashes Mesa 22's
//! lavapipe inside `vkCreateComputePipelines` (SIGSEGV), while the WGSL route (WGSL → naga →
//! SPIR-V, as the `shaders` crate takes) compiles and runs them; it also builds faster.
//!
//! ```no_run
//! use eggroll_core::Backend;
//! use eggroll_core::noise::StreamKey;
//!
//! let gpu = eggroll_cubecl::Cubecl::new()?; // a clear error when no device exists
//! let z = gpu.normals(StreamKey::new(1, 2, 3, 4), 0, 8)?;
//! assert_eq!(gpu.download(&z)?.len(), 8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The integer language model's kernels (`eggroll_core::int::IntKernels`: the perturbed int8 matmul
//! with each member's rank-r correction) are implemented for [`Cubecl`] too, with the int8 noise regenerated
//! inside the `#[cube]` kernels; their integer results are bit-identical to the CPU reference
//! `eggroll_core::int::CpuInt` (conformance-tested by `tests/int_conformance.rs`).
//!
//! Timing: operations are queued, not awaited; [`Cubecl::sync`] (or any download) waits
//! for them. `eggroll bench lowrank --backend cubecl` syncs before every timer.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod backend;
mod buffer;
mod device;
pub mod error;
mod gradient;
mod int8;
mod kernels;
mod launch;
mod linear;

pub use buffer::CubeBuffer;
pub use device::Cubecl;
pub use error::CubeclError;
