//! The integer kernel contract, [`IntKernels`], and its object-safe form [`DynIntKernels`].
//! What each kernel computes is specified in [`super::spec`]'s module doc.

use super::spec::IntMatmul;
use crate::error::{CoreError, Result};

/// The integer kernels of the language model, bit-identical on every backend.
pub trait IntKernels: Send + Sync {
    /// The backend's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// A short name for reports, e.g. `cpu` or the device description.
    fn name(&self) -> String;

    /// `x·wᵀ` (rows × out, int32) plus each row's low-rank correction when `noise` is given.
    ///
    /// The language model rescales the result to int8 on the host
    /// ([`rescale_into`](super::rescale_into)) and sums its update on the host
    /// ([`matrix_update_sum`](super::matrix_update_sum)): those steps are cheap next to the
    /// matmul, so no backend implements them.
    fn perturbed_matmul(&self, m: &IntMatmul<'_>) -> Result<Vec<i32>, Self::Error>;
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
