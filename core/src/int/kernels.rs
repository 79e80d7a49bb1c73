//! The integer kernel contract, [`IntKernels`], and its object-safe form [`DynIntKernels`].
//! What each kernel computes is specified in [`super::spec`]'s module doc.

use super::spec::{IntMatmul, UpdateSpec};
use crate::error::{CoreError, Result};

/// The integer kernels of the language model, bit-identical on every backend.
pub trait IntKernels: Send + Sync {
    /// The backend's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// A short name for reports, e.g. `cpu` or the device description.
    fn name(&self) -> String;

    /// `x·wᵀ` (rows × out, int32) plus each row's low-rank correction when `noise` is given.
    fn perturbed_matmul(&self, m: &IntMatmul<'_>) -> Result<Vec<i32>, Self::Error>;

    /// [`IntKernels::perturbed_matmul`] rescaled to int8 range:
    /// `clip((acc·rescale_multiplier(inp)) >> 32, −127, 127)`.
    fn perturbed_matmul_rescaled(&self, m: &IntMatmul<'_>) -> Result<Vec<i16>, Self::Error>;

    /// `Z` (int32, `spec.shape.numel()` values) for the active pairs `(pair, f)`.
    fn update_sum(&self, spec: &UpdateSpec, active: &[(u32, i8)]) -> Result<Vec<i32>, Self::Error>;
}

/// The perturbed matmul of any [`IntKernels`] behind one object-safe interface, so the model's
/// forward pass (the language model's `Runner::with_kernels` in `eggroll-llm`) can run on a backend chosen at run time.
pub trait DynIntKernels: Send + Sync {
    /// The backend's name.
    fn backend_name(&self) -> String;

    /// [`IntKernels::perturbed_matmul`], its error turned into [`CoreError::Backend`].
    fn matmul(&self, m: &IntMatmul<'_>) -> Result<Vec<i32>>;
}

impl<K: IntKernels> DynIntKernels for K {
    fn backend_name(&self) -> String {
        self.name()
    }

    fn matmul(&self, m: &IntMatmul<'_>) -> Result<Vec<i32>> {
        self.perturbed_matmul(m).map_err(|e| CoreError::Backend {
            backend: self.name(),
            why: e.to_string(),
        })
    }
}
