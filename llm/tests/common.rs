//! Shared helpers for the EGG integration tests: a small generated corpus and a tiny config.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use eggroll_llm::EggConfig;

/// A few kilobytes of repetitive English-like text built from a fixed word list by a hash.
pub fn tiny_text(len: usize) -> Vec<u8> {
    let words = [
        "the ", "cat ", "sat ", "on ", "a ", "mat ", "and ", "dog ", "ran ", "to ", "her ",
        "house. ",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0u32;
    while out.len() < len {
        let w = words[(eggroll_core::noise::hash32(i) % words.len() as u32) as usize];
        out.extend_from_slice(w.as_bytes());
        if i % 37 == 36 {
            out.push(b'\n');
        }
        i += 1;
    }
    out.truncate(len);
    out
}

/// A config small enough for tests: D = 16, one block, 32 members, windows of 24 bytes.
pub fn tiny_config() -> EggConfig {
    EggConfig {
        d_model: 16,
        n_layers: 1,
        population: 32,
        window: 24,
        eval_every: 5,
        eval_bytes: 2048,
        eval_streams: 8,
        val_fraction: 0.1,
        checkpoint_every: 3,
        chunk_members: 8,
        alpha_generations: 100,
        ..EggConfig::default()
    }
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("egg-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
