//! The integer language-model kernels' conformance suite (eggroll-core's `int::conformance`), run against the
//! wgpu backend on one shared device (opening a device is slow on lavapipe).

#![allow(clippy::unwrap_used)]

use eggroll_shaders::WgpuInt;
use std::sync::OnceLock;

/// The shared backend; panics with the backend's own explanation when no adapter exists.
fn gpu() -> &'static WgpuInt {
    static GPU: OnceLock<WgpuInt> = OnceLock::new();
    GPU.get_or_init(|| match WgpuInt::new() {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    })
}

eggroll_core::int_conformance_suite!(*gpu());
