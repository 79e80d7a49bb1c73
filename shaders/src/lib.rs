//! eggroll-shaders: the wgpu backend of eggroll.
//!
//! WGSL compute kernels (plain `.wgsl` files under `src/wgsl/`, embedded with
//! `include_str!`) implement [`eggroll_core::Backend`]: bit-exact counter-based noise, the
//! fused low-rank batched linear layer (one shared GEMM plus per-member rank-r corrections
//! whose noise is regenerated in registers), the ES direction as one GEMM over N·r, and
//! the optimiser steps. Parameters stay resident on the device. Open it with [`Wgpu::new`].

mod backend;
pub mod bench;
mod buffer;
mod device;
mod dispatch;
pub mod error;
mod gradient;
mod kernels;
mod linear;

pub use bench::{bench_lowrank, BenchConfig, LowRankBench};
pub use buffer::WgpuBuffer;
pub use device::Wgpu;
pub use error::ShaderError;
