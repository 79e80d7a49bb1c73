//! Without a usable adapter, `Wgpu::new` fails with an error that names the backend and says
//! how to get one. (Its own test binary: it changes the process environment.)

use eggroll_shaders::{ShaderError, Wgpu};

#[test]
fn missing_adapter_is_a_clear_error() {
    std::env::set_var("WGPU_ADAPTER_NAME", "no-such-adapter-7f3a");
    let err = match Wgpu::new() {
        Ok(gpu) => panic!("expected no adapter, got {gpu:?}"),
        Err(e) => e,
    };
    assert!(matches!(err, ShaderError::NoAdapter { .. }), "{err:?}");
    let msg = err.to_string();
    for needle in [
        "wgpu backend",
        "mesa-vulkan-drivers",
        "no-such-adapter-7f3a",
    ] {
        assert!(msg.contains(needle), "`{needle}` missing from: {msg}");
    }
    // Through the Backend trait's error type the explanation survives.
    let core: eggroll_core::CoreError = err.into();
    assert!(core.to_string().contains("mesa-vulkan-drivers"), "{core}");
}

mod common;

/// Without an adapter the GPU tests skip, unless `EGGROLL_REQUIRE_GPU` asks for the GPU (as
/// the test command does), and then they fail naming the variable.
#[test]
fn without_an_adapter_gpu_tests_skip_unless_the_gpu_is_required() {
    use eggroll_core::gpu_skip::REQUIRE_GPU;
    std::env::set_var("WGPU_ADAPTER_NAME", "no-such-adapter-7f3a");
    std::env::remove_var(REQUIRE_GPU);
    assert!(common::or_skip(Wgpu::new()).is_none());
    std::env::set_var(REQUIRE_GPU, "0");
    assert!(common::or_skip(Wgpu::new()).is_none());
    std::env::set_var(REQUIRE_GPU, "1");
    let failed = std::panic::catch_unwind(|| common::or_skip(Wgpu::new()))
        .expect_err("a required GPU without an adapter must fail");
    let msg = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains(REQUIRE_GPU) && msg.contains("no-such-adapter-7f3a"),
        "{msg}"
    );
}
