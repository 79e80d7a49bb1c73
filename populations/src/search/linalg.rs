//! The dense linear algebra of the full-covariance strategies: core's
//! [`eggroll_core::linalg`], and the largest dimension those strategies accept.

pub use eggroll_core::linalg::{identity, mat_mul, mat_vec, symmetric_eigen, symmetric_expm};

/// Largest dimension of the full-matrix strategies (`cma_es`, `xnes`): their state holds
/// n × n matrices and each eigendecomposition costs O(n³).
pub const MAX_FULL_DIM: usize = 1000;
