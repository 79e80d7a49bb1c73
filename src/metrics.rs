//! `metrics.jsonl`: one JSON object per generation, appended and flushed as the run goes.

use crate::error::{Error, Result};
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An append-only metrics file.
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Open for appending from generation `from`: lines of later generations (written after the
    /// last checkpoint by a run that was then killed) are dropped so a resumed run logs each
    /// generation once.
    pub fn open(path: &Path, from: u64) -> Result<Self> {
        let io = |e| Error::Io {
            path: path.display().to_string(),
            error: e,
        };
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(io)?;
            let kept: String = text
                .lines()
                .filter(|l| {
                    serde_json::from_str::<Value>(l)
                        .ok()
                        .and_then(|v| v.get("generation").and_then(Value::as_u64))
                        .is_some_and(|g| g < from)
                })
                .map(|l| format!("{l}\n"))
                .collect();
            eggroll_core::checkpoint::write_atomic(path, kept.as_bytes())?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(MetricsLog {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Append one line and flush it.
    pub fn append(&mut self, v: &Value) -> Result<()> {
        writeln!(self.file, "{v}")
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::Io {
                path: self.path.display().to_string(),
                error: e,
            })
    }
}
