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
