//! A short training run on each GPU backend follows the CPU run's fitness curve (runs on
//! Mesa's software Vulkan in the test command; needs the backend's cargo feature).

#![cfg(any(feature = "wgpu", feature = "cubecl"))]
#![allow(clippy::unwrap_used)]

use eggroll::train::{train, TrainOptions};
use eggroll::RunConfig;
use eggroll_core::cpu::Cpu;
use eggroll_core::Backend;

fn curve<B: Backend>(backend: &B, name: &str) -> Vec<f64> {
    let cfg = RunConfig::from_toml(
        "",
        "test",
        &[
            "generations=5".into(),
            "es.population=32".into(),
            "task.batch=8".into(),
            "model.hidden=[16]".into(),
            "optimizer.name=\"sgd\"".into(),
            "lr.value=0.5".into(),
        ],
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("eggroll-gpu-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let task = cfg.task.build::<B>(cfg.seed).unwrap();
    let opts = TrainOptions {
        out_dir: dir.clone(),
        resume: false,
        stop_after: None,
    };
    let mut means = Vec::new();
    train(backend, &cfg, &*task, &opts, &mut |r| {
        means.push(r.fitness_mean)
    })
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    means
}

fn assert_close(got: &[f64], want: &[f64], backend: &str) {
    assert_eq!(got.len(), want.len());
    for (g, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-3 * b.abs().max(1.0),
            "{backend} generation {g}: {a} vs {b}"
        );
    }
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_training_follows_the_cpu() {
    let gpu = eggroll_shaders::Wgpu::new().unwrap();
    assert_close(&curve(&gpu, "wgpu"), &curve(&Cpu, "cpu-w"), "wgpu");
}

#[cfg(feature = "cubecl")]
#[test]
fn cubecl_training_follows_the_cpu() {
    let gpu = eggroll_cubecl::Cubecl::new().unwrap();
    assert_close(&curve(&gpu, "cubecl"), &curve(&Cpu, "cpu-c"), "cubecl");
}
