//! A lock file on a run directory, so that two processes never train into one directory at
//! once (two `--resume` of one run used to interleave their metrics and lose lines).

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the lock file inside a run directory.
pub const LOCK_FILE: &str = "lock";

/// Holds `DIR/lock` (this process's pid and host) until dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Whether process `pid` is alive on this machine (Linux: `/proc/PID` exists).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

impl RunLock {
    /// Take the lock of run directory `dir` (created if missing). A lock left by a process
    /// that no longer runs on this host is stale and taken over; a live holder, or one on
    /// another host, gives "run directory DIR is in use by pid P on HOST".
    pub fn acquire(dir: &Path) -> Result<Self> {
        let err = |why: String| Error::RunDir {
            dir: dir.display().to_string(),
            why,
        };
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        // Checkpoints go to DIR/checkpoints/: a file of that name would fail only at the
        // first checkpoint, after the training time is spent.
        let checkpoints = dir.join("checkpoints");
        if checkpoints.exists() && !checkpoints.is_dir() {
            return Err(err(format!(
                "{} is a file, not a directory, so no checkpoint can be written there; move it away or choose another --out",
                checkpoints.display()
            )));
        }
        let path = dir.join(LOCK_FILE);
        let me = format!("{} {}\n", std::process::id(), host());
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(me.as_bytes())
                        .and_then(|_| f.sync_all())
                        .map_err(|e| err(format!("{}: {e}", path.display())))?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let mut words = text.split_whitespace();
                    let pid = words.next().and_then(|p| p.parse::<u32>().ok());
                    let holder_host = words.next().unwrap_or("").to_string();
                    match pid {
                        Some(p) if holder_host != host() || alive(p) => {
                            return Err(err(format!(
                                "is in use by pid {p} on {holder_host} (its lock file {} says so; remove it if that process is gone)",
                                path.display()
                            )));
                        }
                        // Stale (dead holder on this host) or unreadable: take it over.
                        _ => {
                            std::fs::remove_file(&path)
                                .map_err(|e| err(format!("{}: {e}", path.display())))?;
                        }
                    }
                }
                Err(e) => return Err(err(format!("{}: {e}", path.display()))),
            }
        }
        Err(err(format!(
            "{}: another process took the lock at the same moment",
            path.display()
        )))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        std::fs::remove_file(&self.path).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_stale_locks_are_taken_over() {
        let dir = std::env::temp_dir().join(format!("eggroll-lock-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let first = RunLock::acquire(&dir).unwrap();
        let err = RunLock::acquire(&dir).unwrap_err().to_string();
        assert!(
            err.contains(&format!("in use by pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        assert!(!dir.join(LOCK_FILE).exists());
        // A lock whose pid is not running on this host is stale.
        std::fs::write(
            dir.join(LOCK_FILE),
            format!("{} {}\n", u32::MAX - 1, host()),
        )
        .unwrap();
        let again = RunLock::acquire(&dir).unwrap();
        drop(again);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_file_named_checkpoints_is_refused_naming_it() {
        let dir = std::env::temp_dir().join(format!("eggroll-lock-ckfile-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("checkpoints"), b"not a directory").unwrap();
        let err = RunLock::acquire(&dir).unwrap_err().to_string();
        let named = dir.join("checkpoints").display().to_string();
        assert!(err.contains(&format!("{named} is a file")), "{err}");
        assert!(
            !dir.join(LOCK_FILE).exists(),
            "a refused run must not leave its lock"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
