//! The test device of this crate's GPU tests, opened once per test binary; without an
//! adapter the tests print "skipped: no adapter" and pass, unless `EGGROLL_REQUIRE_GPU` is
//! set (the test command sets it), see `eggroll_core::gpu_skip`.

use eggroll_core::gpu_skip::device_or_skip;
use eggroll_shaders::{ShaderError, Wgpu, WgpuInt};
use std::sync::OnceLock;

/// Whether `e` says that this machine has no adapter (the one error a test may skip on).
pub fn is_missing(e: &ShaderError) -> bool {
    matches!(e, ShaderError::NoAdapter { .. })
}

/// `opened`, or `None` when it failed for want of an adapter and the GPU is not required.
pub fn or_skip<T>(opened: Result<T, ShaderError>) -> Option<T> {
    device_or_skip(opened, is_missing)
}

/// The shared float backend (`None`: skipped, no adapter).
#[allow(dead_code)]
pub fn wgpu() -> Option<&'static Wgpu> {
    static GPU: OnceLock<Option<Wgpu>> = OnceLock::new();
    GPU.get_or_init(|| or_skip(Wgpu::new())).as_ref()
}

/// The shared integer kernels (`None`: skipped, no adapter).
#[allow(dead_code)]
pub fn wgpu_int() -> Option<&'static WgpuInt> {
    static GPU: OnceLock<Option<WgpuInt>> = OnceLock::new();
    GPU.get_or_init(|| or_skip(WgpuInt::new())).as_ref()
}
