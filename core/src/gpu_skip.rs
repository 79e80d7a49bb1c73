//! GPU tests on a machine without a GPU: skipped with "skipped: no adapter", unless the test
//! command asks for the GPU with [`REQUIRE_GPU`] (as `scripts/test.sh` does, since CI has
//! Mesa's software Vulkan), in which case a missing adapter fails the test.
//!
//! Backend crates' tests open their device once through [`device_or_skip`]; the decision
//! itself is [`missing_device_action`], a pure function of the variable's value.

use std::fmt::Display;

/// The environment variable that turns a missing GPU adapter from a skip into a failure
/// (set to anything but empty or `0`).
pub const REQUIRE_GPU: &str = "EGGROLL_REQUIRE_GPU";

/// What a GPU test does when its device cannot be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingDevice {
    /// Print "skipped: no adapter" and pass.
    Skip,
    /// Fail: the test command requires the GPU.
    Fail,
}

/// The decision for [`REQUIRE_GPU`] set to `value` (`None`: unset). Unset, empty and `0`
/// skip; any other value fails.
pub fn missing_device_action(value: Option<&str>) -> MissingDevice {
    match value.map(str::trim) {
        None | Some("") | Some("0") => MissingDevice::Skip,
        Some(_) => MissingDevice::Fail,
    }
}

/// The decision for this process's environment.
pub fn missing_device_action_from_env() -> MissingDevice {
    let value = std::env::var_os(REQUIRE_GPU).map(|v| v.to_string_lossy().into_owned());
    missing_device_action(value.as_deref())
}

/// The device `opened`, or `None` (after printing "skipped: no adapter") when it failed
/// because no adapter exists (`is_missing`) and `action` is [`MissingDevice::Skip`].
///
/// # Panics
/// With the error's message when the adapter is missing and `action` is
/// [`MissingDevice::Fail`], naming [`REQUIRE_GPU`]; and on every other error (a device that
/// exists but fails is a failure, never a skip).
pub fn device_or_skip_with<T, E: Display>(
    opened: Result<T, E>,
    is_missing: impl FnOnce(&E) -> bool,
    action: MissingDevice,
) -> Option<T> {
    match opened {
        Ok(device) => Some(device),
        Err(e) if is_missing(&e) => match action {
            MissingDevice::Skip => {
                eprintln!("skipped: no adapter ({e}); set {REQUIRE_GPU}=1 to make this a failure");
                None
            }
            MissingDevice::Fail => {
                panic!("{REQUIRE_GPU} is set, so a GPU adapter is required, but there is none: {e}")
            }
        },
        Err(e) => panic!("{e}"),
    }
}

/// [`device_or_skip_with`] with the action from this process's environment.
pub fn device_or_skip<T, E: Display>(
    opened: Result<T, E>,
    is_missing: impl FnOnce(&E) -> bool,
) -> Option<T> {
    device_or_skip_with(opened, is_missing, missing_device_action_from_env())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_set_variable_requires_the_gpu() {
        use MissingDevice::{Fail, Skip};
        for (value, want) in [
            (None, Skip),
            (Some(""), Skip),
            (Some("0"), Skip),
            (Some(" 0 "), Skip),
            (Some("1"), Fail),
            (Some("yes"), Fail),
        ] {
            assert_eq!(missing_device_action(value), want, "{value:?}");
        }
    }

    #[test]
    fn a_missing_adapter_skips_or_fails_and_other_errors_fail() {
        let missing = |e: &String| e.starts_with("no adapter");
        let none: Result<u8, String> = Err("no adapter here".into());
        assert_eq!(
            device_or_skip_with(none.clone(), missing, MissingDevice::Skip),
            None
        );
        let failed = std::panic::catch_unwind(|| {
            device_or_skip_with(none.clone(), missing, MissingDevice::Fail)
        })
        .expect_err("required GPU must fail");
        let msg = failed.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains(REQUIRE_GPU) && msg.contains("no adapter here"),
            "{msg}"
        );
        let broken: Result<u8, String> = Err("shader failed to compile".into());
        assert!(std::panic::catch_unwind(|| {
            device_or_skip_with(broken.clone(), missing, MissingDevice::Skip)
        })
        .is_err());
        assert_eq!(
            device_or_skip_with(Ok::<u8, String>(7), missing, MissingDevice::Fail),
            Some(7)
        );
    }
}
