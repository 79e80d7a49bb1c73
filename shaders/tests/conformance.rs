//! The whole core conformance suite, run against the wgpu backend on one shared device
//! (opening a device is slow on lavapipe).

#![allow(clippy::unwrap_used)]

use eggroll_shaders::Wgpu;
use std::sync::OnceLock;

/// The shared backend; panics with the backend's own explanation when no adapter exists.
fn gpu() -> &'static Wgpu {
    static GPU: OnceLock<Wgpu> = OnceLock::new();
    GPU.get_or_init(|| match Wgpu::new() {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    })
}

eggroll_core::conformance_suite!(*gpu());
