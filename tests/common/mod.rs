//! Helpers shared by the integration tests.

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
