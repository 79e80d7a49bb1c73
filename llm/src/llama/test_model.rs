//! Test helpers: the real SmolLM2 file when present, and tiny models written to temp files.

use super::gguf::Gguf;
use super::tiny::{tiny_gguf, TinySpec};
use std::path::PathBuf;

/// Where `scripts/fetch_smollm2.sh` puts the model.
pub fn smollm2_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// The real model's path, or `None` after printing why the test is skipped. With
/// `EGGROLL_REQUIRE_MODEL=1` (set by `scripts/test.sh` after fetching) a missing file fails
/// the test instead.
pub fn smollm2(test: &str) -> Option<PathBuf> {
    let p = smollm2_path();
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("EGGROLL_REQUIRE_MODEL").is_ok_and(|v| v == "1") {
        panic!(
            "{test}: {} is missing and EGGROLL_REQUIRE_MODEL=1: run scripts/fetch_smollm2.sh",
            p.display()
        );
    }
    println!("{test}: skipped: run scripts/fetch_smollm2.sh");
    None
}

/// A tiny random model parsed back through the reader (written to bytes, not disk).
pub fn tiny(spec: &TinySpec) -> Gguf {
    let bytes = tiny_gguf(spec).to_bytes().unwrap();
    Gguf::from_bytes(std::path::Path::new("tiny.gguf"), bytes).unwrap()
}

/// The largest absolute difference of two equally long slices.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
