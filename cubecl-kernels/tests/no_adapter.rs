//! Without a usable device, `Cubecl::new` fails with an error that names the backend and says
//! how to get one. (Its own test binary: it changes the process environment before any
//! Vulkan instance exists, pointing the Vulkan loader at no driver at all.)

use eggroll_cubecl::{Cubecl, CubeclError};

#[test]
fn missing_device_is_a_clear_error() {
    for var in ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"] {
        std::env::set_var(var, "/nonexistent/eggroll-no-such-icd.json");
    }
    let err = match Cubecl::new() {
        Ok(gpu) => panic!("expected no device, got {gpu:?}"),
        Err(e) => e,
    };
    assert!(matches!(err, CubeclError::NoDevice { .. }), "{err:?}");
    let msg = err.to_string();
    for needle in ["cubecl backend", "mesa-vulkan-drivers", "Vulkan", "cuda"] {
        assert!(msg.contains(needle), "`{needle}` missing from: {msg}");
    }
    // Through the Backend trait's error type the explanation survives.
    let core: eggroll_core::CoreError = err.into();
    assert!(core.to_string().contains("mesa-vulkan-drivers"), "{core}");
}
