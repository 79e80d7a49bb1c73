//! The whole core conformance suite, run against the wgpu backend on one shared device
//! (opening a device is slow on lavapipe); skipped without an adapter unless
//! `EGGROLL_REQUIRE_GPU` is set (see `common`).

#![allow(clippy::unwrap_used)]

mod common;

eggroll_core::conformance_suite!(optional: common::wgpu());
