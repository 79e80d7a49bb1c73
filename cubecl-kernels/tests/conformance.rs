//! The whole core conformance suite, run against the cubecl backend on one shared device.

#![allow(clippy::unwrap_used)]

mod common;

eggroll_core::conformance_suite!(*common::gpu());
