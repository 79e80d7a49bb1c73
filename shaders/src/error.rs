//! The one error type of `eggroll-shaders`.

use eggroll_core::CoreError;
use thiserror::Error;

/// Everything the wgpu backend can report: no adapter, a device that refuses, a kernel that
/// fails validation, a buffer too large for the device.
#[derive(Debug, Error)]
pub enum ShaderError {
    /// No GPU adapter (not even a software one) is visible to wgpu.
    #[error(
        "wgpu backend: no graphics adapter found ({detail}); install a GPU driver with Vulkan \
         support, or Mesa's software Vulkan driver (`apt-get install mesa-vulkan-drivers \
         libvulkan1`), and set WGPU_BACKEND=vulkan"
    )]
    NoAdapter {
        /// What wgpu said.
        detail: String,
    },
    /// The adapter exists but refused to open a device.
    #[error("wgpu backend: adapter `{adapter}` refused to open a device: {detail}")]
    Device {
        /// Adapter name.
        adapter: String,
        /// What wgpu said.
        detail: String,
    },
    /// A device operation failed (validation, out of memory, mapping).
    #[error("wgpu backend: {op} failed: {detail}")]
    Op {
        /// The operation (`upload`, `linear`, …).
        op: String,
        /// What wgpu said.
        detail: String,
    },
    /// A tensor or dispatch exceeds a limit of this device.
    #[error("wgpu backend: {what} needs {needed}, but this device allows at most {limit}")]
    TooLarge {
        /// What is too large.
        what: String,
        /// How much it needs.
        needed: u64,
        /// The device limit.
        limit: u64,
    },
    /// An error from the core (bad shapes or populations).
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl ShaderError {
    /// Shorthand for [`ShaderError::Op`].
    pub fn op(op: impl Into<String>, detail: impl ToString) -> Self {
        ShaderError::Op {
            op: op.into(),
            detail: detail.to_string(),
        }
    }
}

impl From<ShaderError> for CoreError {
    fn from(e: ShaderError) -> Self {
        match e {
            ShaderError::Core(c) => c,
            other => CoreError::invalid("wgpu device", other.to_string()),
        }
    }
}

/// Result with [`ShaderError`].
pub type Result<T, E = ShaderError> = std::result::Result<T, E>;
