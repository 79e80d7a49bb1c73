//! The integer language-model kernels' conformance suite (eggroll-core's `int::conformance`), run against the
//! cubecl backend on one shared device (opening a device is slow on lavapipe).

#![allow(clippy::unwrap_used)]

use eggroll_cubecl::Cubecl;
use std::sync::OnceLock;

/// The shared backend; panics with the backend's own explanation when no device exists.
fn gpu() -> &'static Cubecl {
    static GPU: OnceLock<Cubecl> = OnceLock::new();
    GPU.get_or_init(|| match Cubecl::new() {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    })
}

eggroll_core::int_conformance_suite!(*gpu());
