//! Keeping the CPU backend's ops on the calling thread.
//!
//! A large layer is split over rayon's pool by the op itself. A caller that already owns one
//! rayon task per block of work (an RL rollout runs each block of members as one task, every
//! environment step and layer of it) gains nothing from that split: the nested tasks only add
//! scheduling and wake-ups, and move the block's rows out of the cache of the core that owns
//! them. Inside [`serial`] every op of the CPU backend runs on the calling thread. The ops cut
//! their work into the same chunks either way, so results are the same bit for bit.

use std::cell::Cell;

thread_local! {
    /// Whether CPU ops on this thread must stay on it.
    static SERIAL: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` with every CPU backend op it makes on this thread kept on this thread (no rayon
/// tasks of their own); the previous setting comes back when `f` returns or unwinds.
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    /// Puts the previous setting back on drop.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SERIAL.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SERIAL.with(|s| s.replace(true)));
    f()
}

/// Whether CPU ops called on this thread must stay on it (inside [`serial`]).
pub fn is_serial() -> bool {
    SERIAL.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_is_scoped_to_its_closure_and_thread() {
        assert!(!is_serial());
        let (inner, nested, other_thread) = serial(|| {
            let nested = serial(is_serial);
            let other = std::thread::spawn(is_serial).join().unwrap_or(true);
            (is_serial(), nested, other)
        });
        assert!(inner && nested, "inside serial the flag is set");
        assert!(!other_thread, "another thread is not affected");
        assert!(!is_serial(), "the flag is restored on return");
        let caught = std::panic::catch_unwind(|| serial(|| panic!("unwinds")));
        assert!(caught.is_err());
        assert!(!is_serial(), "the flag is restored on unwind");
    }
}
