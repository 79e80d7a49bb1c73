//! Helpers shared by the integration tests (each test binary uses some of them).

#![allow(dead_code)]

use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A scratch directory under the system temp dir, unique to this process and name, created
/// empty and removed again when the test drops it (also when the test fails).
pub struct Scratch(PathBuf);

impl Scratch {
    /// `$TMPDIR/eggroll-<prefix>-<pid>-<name>`, emptied and created.
    pub fn new(prefix: &str, name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("eggroll-{prefix}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
}

impl Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The opened wgpu device, or `None` (the test prints "skipped: no adapter" and passes) when
/// this machine has no adapter and `EGGROLL_REQUIRE_GPU` is not set; see
/// `eggroll_core::gpu_skip`.
#[cfg(feature = "wgpu")]
pub fn wgpu_or_skip<T>(opened: Result<T, eggroll_shaders::ShaderError>) -> Option<T> {
    eggroll_core::gpu_skip::device_or_skip(opened, |e| {
        matches!(e, eggroll_shaders::ShaderError::NoAdapter { .. })
    })
}

/// The opened cubecl device, or `None` when there is none and the GPU is not required.
#[cfg(feature = "cubecl")]
pub fn cubecl_or_skip<T>(opened: Result<T, eggroll_cubecl::CubeclError>) -> Option<T> {
    eggroll_core::gpu_skip::device_or_skip(opened, |e| {
        matches!(e, eggroll_cubecl::CubeclError::NoDevice { .. })
    })
}

/// A small deterministic generator (xorshift) so fuzz cases are the same on every run.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `words` words of English-like text from a fixed list, picked by a hash (a tiny corpus for
/// the language-model tests).
pub fn words_text(words: u32) -> String {
    let list = [
        "to ",
        "be ",
        "or ",
        "not ",
        "that ",
        "is ",
        "the ",
        "question.\n",
    ];
    (0..words)
        .map(|i| list[(eggroll_core::noise::hash32(i) % list.len() as u32) as usize])
        .collect()
}
