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

mod common;

/// Without a device the GPU tests skip, unless `EGGROLL_REQUIRE_GPU` asks for the GPU (as the
/// test command does), and then they fail naming the variable.
#[test]
fn without_a_device_gpu_tests_skip_unless_the_gpu_is_required() {
    use eggroll_core::gpu_skip::REQUIRE_GPU;
    for var in ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"] {
        std::env::set_var(var, "/nonexistent/eggroll-no-such-icd.json");
    }
    std::env::remove_var(REQUIRE_GPU);
    assert!(common::or_skip(Cubecl::new()).is_none());
    std::env::set_var(REQUIRE_GPU, "0");
    assert!(common::or_skip(Cubecl::new()).is_none());
    std::env::set_var(REQUIRE_GPU, "1");
    let failed = std::panic::catch_unwind(|| common::or_skip(Cubecl::new()))
        .expect_err("a required GPU without a device must fail");
    let msg = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains(REQUIRE_GPU) && msg.contains("cubecl backend"),
        "{msg}"
    );
}
