//! The `#[cube]` kernels of the backend, written once for every cubecl runtime.
//!
//! - [`noise`]: the counter-based noise stream (hash, keys, table lookup) as cube functions;
//! - [`elementwise`]: stream keys, raw noise, activations, SGD and Adam;
//! - [`correction`]: per-member projections and dense noise corrections and directions;
//! - [`gemm`]: the fused batched linear layer and the low-rank ES direction;
//! - [`int8`]: the integer language model's perturbed int8 matmul.

pub mod correction;
pub mod elementwise;
pub mod gemm;
pub mod int8;
pub mod noise;
