//! One wgpu device shared by every test of a test binary (opening one is slow on lavapipe).

use eggroll_shaders::Wgpu;
use std::sync::OnceLock;

/// The shared backend; panics with the backend's own explanation when no adapter exists.
pub fn gpu() -> &'static Wgpu {
    static GPU: OnceLock<Wgpu> = OnceLock::new();
    GPU.get_or_init(|| match Wgpu::new() {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    })
}
