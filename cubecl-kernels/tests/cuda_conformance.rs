//! Both conformance suites (core's float backend checks and eggroll-core's integer kernels) on
//! cubecl's CUDA runtime. Built only with the `cuda` feature, which needs an NVIDIA GPU and the
//! CUDA toolkit; `scripts/gpu-check.sh` with `CUDA=1` runs it.

#![cfg(feature = "cuda")]
#![allow(clippy::unwrap_used)]

use eggroll_cubecl::Cubecl;
use std::sync::OnceLock;

/// The shared CUDA device 0; panics with the backend's own explanation when there is none.
fn gpu() -> &'static Cubecl {
    static GPU: OnceLock<Cubecl> = OnceLock::new();
    GPU.get_or_init(|| match Cubecl::cuda(0) {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    })
}

mod float {
    use super::gpu;
    eggroll_core::conformance_suite!(*gpu());
}

mod int {
    use super::gpu;
    eggroll_core::int_conformance_suite!(*gpu());
}
