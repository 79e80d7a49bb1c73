//! The test device of this crate's GPU tests, opened once per test binary; without a device
//! the tests print "skipped: no adapter" and pass, unless `EGGROLL_REQUIRE_GPU` is set (the
//! test command sets it), see `eggroll_core::gpu_skip`.

use eggroll_core::gpu_skip::device_or_skip;
use eggroll_cubecl::{Cubecl, CubeclError};
use std::sync::OnceLock;

/// Whether `e` says that this machine has no device (the one error a test may skip on).
pub fn is_missing(e: &CubeclError) -> bool {
    matches!(e, CubeclError::NoDevice { .. })
}

/// `opened`, or `None` when it failed for want of a device and the GPU is not required.
pub fn or_skip<T>(opened: Result<T, CubeclError>) -> Option<T> {
    device_or_skip(opened, is_missing)
}

/// The shared backend on cubecl's wgpu runtime (`None`: skipped, no device).
#[allow(dead_code)]
pub fn cubecl() -> Option<&'static Cubecl> {
    static GPU: OnceLock<Option<Cubecl>> = OnceLock::new();
    GPU.get_or_init(|| or_skip(Cubecl::new())).as_ref()
}

/// The shared backend on CUDA device 0 (`None`: skipped, no device).
#[allow(dead_code)]
#[cfg(feature = "cuda")]
pub fn cuda() -> Option<&'static Cubecl> {
    static GPU: OnceLock<Option<Cubecl>> = OnceLock::new();
    GPU.get_or_init(|| or_skip(Cubecl::cuda(0))).as_ref()
}
