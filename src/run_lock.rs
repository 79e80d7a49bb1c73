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
        // The lock appears with its content in one step: written to a file of this process's
        // own, then hard-linked into place (which fails if a lock exists). A lock made empty
        // and filled afterwards was read, empty, by a second process as "unreadable, stale"
        // and taken over, so both ran (2 of 6 probes of two simultaneous resumes).
        static TAKES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let take = TAKES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mine = dir.join(format!("{LOCK_FILE}.{}.{take}.tmp", std::process::id()));
        let io = |p: &Path, e: std::io::Error| err(format!("{}: {e}", p.display()));
        std::fs::File::create(&mine)
            .and_then(|mut f| f.write_all(me.as_bytes()).and_then(|_| f.sync_all()))
            .map_err(|e| io(&mine, e))?;
        let result = Self::link_or_take_over(&mine, &path, &err);
        std::fs::remove_file(&mine).ok();
        result
    }

    /// Link `mine` as the lock at `path`, taking over a stale lock once.
    fn link_or_take_over(mine: &Path, path: &Path, err: &dyn Fn(String) -> Error) -> Result<Self> {
        for _ in 0..2 {
            match std::fs::hard_link(mine, path) {
                Ok(()) => {
                    return Ok(RunLock {
                        path: path.to_path_buf(),
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(path).unwrap_or_default();
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
                        // Stale (dead holder on this host) or unreadable: move it aside and
                        // check that what was moved is what was read (another process may
                        // have taken the stale lock over in between); if not, put it back.
                        _ => {
                            let aside =
                                path.with_extension(format!("stale.{}", std::process::id()));
                            std::fs::rename(path, &aside)
                                .map_err(|e| err(format!("{}: {e}", path.display())))?;
                            let moved = std::fs::read_to_string(&aside).unwrap_or_default();
                            if moved != text {
                                std::fs::hard_link(&aside, path).ok();
                                std::fs::remove_file(&aside).ok();
                                return Err(err(format!(
                                    "{}: another process took the lock at the same moment",
                                    path.display()
                                )));
                            }
                            std::fs::remove_file(&aside).ok();
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
    fn of_two_simultaneous_takers_exactly_one_holds_the_lock() {
        let dir = std::env::temp_dir().join(format!("eggroll-lock-race-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        for round in 0..100 {
            let (start, tried) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
            let held: Vec<bool> = std::thread::scope(|s| {
                let take = || {
                    start.wait();
                    let lock = RunLock::acquire(&dir);
                    let ok = lock.is_ok();
                    // Hold it until both have tried (no timing involved).
                    tried.wait();
                    drop(lock);
                    ok
                };
                let a = s.spawn(take);
                let b = s.spawn(take);
                vec![a.join().unwrap(), b.join().unwrap()]
            });
            assert!(
                held.iter().filter(|&&h| h).count() <= 1,
                "round {round}: both held the lock"
            );
        }
        // An empty lock (a crash between creating and writing one) is stale.
        std::fs::write(dir.join(LOCK_FILE), b"").unwrap();
        drop(RunLock::acquire(&dir).unwrap());
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(leftovers.is_empty(), "files left behind: {leftovers:?}");
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
