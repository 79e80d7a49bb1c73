//! The integer language-model kernels' conformance suite (eggroll-core's `int::conformance`), run against the
//! wgpu backend on one shared device (opening a device is slow on lavapipe); skipped without
//! an adapter unless `EGGROLL_REQUIRE_GPU` is set (see `common`).

#![allow(clippy::unwrap_used)]

mod common;

eggroll_core::int_conformance_suite!(optional: common::wgpu_int());
