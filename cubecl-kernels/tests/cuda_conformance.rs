//! Both conformance suites (core's float backend checks and eggroll-core's integer kernels) on
//! cubecl's CUDA runtime. Built only with the `cuda` feature, which needs an NVIDIA GPU and the
//! CUDA toolkit; `scripts/gpu-check.sh` with `CUDA=1` runs it. Skipped without a device unless
//! `EGGROLL_REQUIRE_GPU` is set (see `common`).

#![cfg(feature = "cuda")]
#![allow(clippy::unwrap_used)]

mod common;

mod float {
    use super::common;
    eggroll_core::conformance_suite!(optional: common::cuda());
}

mod int {
    use super::common;
    eggroll_core::int_conformance_suite!(optional: common::cuda());
}
