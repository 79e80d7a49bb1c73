//! The one error type of `eggroll-cubecl`.

use eggroll_core::CoreError;
use thiserror::Error;

/// Everything the cubecl backend can report: no device, a failed device operation, a tensor
/// beyond the device's limits, or a core error (bad shapes or populations).
#[derive(Debug, Error)]
pub enum CubeclError {
    /// No device of the requested runtime is visible (no GPU, no software Vulkan driver).
    #[error(
        "cubecl backend: no device found ({detail}); install a GPU driver with Vulkan support, \
         or Mesa's software Vulkan driver (`apt-get install mesa-vulkan-drivers libvulkan1`), \
         and set WGPU_BACKEND=vulkan (NVIDIA GPUs: build eggroll-cubecl with the `cuda` feature)"
    )]
    NoDevice {
        /// What cubecl said.
        detail: String,
    },
    /// A device operation failed (compilation, launch, transfer, synchronisation).
    #[error("cubecl backend: {op} failed: {detail}")]
    Op {
        /// The operation (`upload`, `linear`, …).
        op: String,
        /// What cubecl said.
        detail: String,
    },
    /// A tensor or launch exceeds a limit of this device or of 32-bit indexing.
    #[error("cubecl backend: {what} needs {needed}, but at most {limit} is allowed")]
    TooLarge {
        /// What is too large.
        what: String,
        /// How much it needs.
        needed: u64,
        /// The limit.
        limit: u64,
    },
    /// An error from the core (bad shapes or populations).
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl CubeclError {
    /// Shorthand for [`CubeclError::Op`].
    pub fn op(op: impl Into<String>, detail: impl ToString) -> Self {
        CubeclError::Op {
            op: op.into(),
            detail: detail.to_string(),
        }
    }
}

impl From<CubeclError> for CoreError {
    fn from(e: CubeclError) -> Self {
        match e {
            CubeclError::Core(c) => c,
            other => CoreError::invalid("cubecl device", other.to_string()),
        }
    }
}

/// Result with [`CubeclError`].
pub type Result<T, E = CubeclError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_pass_through_and_device_errors_keep_their_text() {
        let core: CoreError = CubeclError::Core(CoreError::shape("x", 1, 2)).into();
        assert!(matches!(core, CoreError::Shape { .. }), "{core}");
        let none: CoreError = CubeclError::NoDevice {
            detail: "nothing".into(),
        }
        .into();
        let msg = none.to_string();
        assert!(
            msg.contains("cubecl backend") && msg.contains("mesa-vulkan-drivers"),
            "{msg}"
        );
    }
}
