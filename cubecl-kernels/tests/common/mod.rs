//! Shared helpers: one cubecl device per test binary (opening one is slow on lavapipe),
//! deterministic data, and the suite's relative-error measure.

#![allow(dead_code)]

use eggroll_core::noise::{normal_at, StreamKey};
use eggroll_cubecl::Cubecl;
use std::sync::OnceLock;

/// The shared backend; panics with the backend's own explanation when no device exists.
pub fn gpu() -> &'static Cubecl {
    static GPU: OnceLock<Cubecl> = OnceLock::new();
    GPU.get_or_init(|| match Cubecl::new() {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    })
}

/// `n` deterministic values ~ N(0, scale²).
pub fn values(n: usize, salt: u32, scale: f32) -> Vec<f32> {
    let key = StreamKey::new(5, salt, 0, 0);
    (0..n).map(|j| normal_at(key, j as u32) * scale).collect()
}

/// Largest absolute difference relative to the largest magnitude of `want` (as the core
/// conformance suite measures).
pub fn max_rel_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let scale = want.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .fold(0.0f32, |m, (g, w)| m.max((g - w).abs() / scale))
}
