//! The integer kernel contract of the integer-only language model (`eggroll-llm`): its hot
//! integer operation (the perturbed int8 matmul `x·Wᵀ` plus each member's rank-r correction)
//! as the [`IntKernels`] trait, its input types and validation ([`spec`]), the q8 noise it
//! regenerates ([`noise`]), the CPU reference [`CpuInt`] with the integer kernels it is built
//! from, and the host-side steps around it (the int8 rescale [`rescale_into`], the update sums
//! [`matrix_update_sum`] / [`vector_update_sum`]).
//! Device backends (`eggroll-shaders`, `eggroll-cubecl`) implement [`IntKernels`] against this
//! module only and are checked bit for bit against [`CpuInt`] by
//! [`int_conformance_suite!`](crate::int_conformance_suite) (feature `testing`).

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod correction;
pub mod cpu;
pub mod gemm;
pub mod gemm8;
#[cfg(target_arch = "x86_64")]
mod gemm8_packed_x86;
#[cfg(target_arch = "x86_64")]
mod gemm8_x86;
pub mod kernels;
pub mod noise;
pub mod packed8;
pub mod rescale;
pub mod spec;
pub mod update_sum;
pub mod upload;

pub use correction::add_correction;
pub use cpu::CpuInt;
pub use gemm::{dot, dot_portable, gemm_i16, gemm_i16_portable, simd_available};
pub use gemm8::{gemm_i8, gemm_i8_portable, gemm_i8_with, narrow_i8, I8Kernel, KERNEL_ENV};
pub use kernels::{DynIntKernels, IntKernels};
pub use noise::{matrix_noise, q8, vector_noise};
pub use packed8::{gemm_i8_packed, PackedI8};
pub use rescale::{rescale_into, rescale_multiplier};
pub use spec::{check_matmul, IntMatmul, NoiseSpec, INT8_MAX};
pub use update_sum::{matrix_update_sum, vector_update_sum};
pub use upload::{matmul_keys, pack_int8};
