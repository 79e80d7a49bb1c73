//! A short training run on each GPU backend follows the CPU run's fitness curve, and a tiny EGG
//! language-model run on each gives the CPU's bits exactly (runs on
//! Mesa's software Vulkan in the test command; needs the backend's cargo feature). Without an
//! adapter they are skipped, unless `EGGROLL_REQUIRE_GPU` is set (the test command sets it).

#![cfg(any(feature = "wgpu", feature = "cubecl"))]
#![allow(clippy::unwrap_used)]

mod common;

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
    let Some(gpu) = common::wgpu_or_skip(eggroll_shaders::Wgpu::new()) else {
        return;
    };
    assert_close(&curve(&gpu, "wgpu"), &curve(&Cpu, "cpu-w"), "wgpu");
}

#[cfg(feature = "cubecl")]
#[test]
fn cubecl_training_follows_the_cpu() {
    let Some(gpu) = common::cubecl_or_skip(eggroll_cubecl::Cubecl::new()) else {
        return;
    };
    assert_close(&curve(&gpu, "cubecl"), &curve(&Cpu, "cpu-c"), "cubecl");
}

/// Per generation: mean fitness, validation bits/byte when evaluated, weights moved.
type EggCurve = Vec<(f64, Option<f64>, u64)>;

/// Generation-by-generation figures and final int8 weights of a tiny EGG language-model run
/// whose matrix products run on `kernels` (`None`: the CPU).
fn egg_run(kernels: Option<&dyn eggroll_llm::DynIntKernels>, name: &str) -> (EggCurve, Vec<i8>) {
    let words = [
        "to ",
        "be ",
        "or ",
        "not ",
        "that ",
        "is ",
        "the ",
        "question. ",
    ];
    let text: Vec<u8> = (0..2000u32)
        .flat_map(|i| words[(eggroll_core::noise::hash32(i) % 8) as usize].bytes())
        .collect();
    let cfg = eggroll_llm::EggConfig {
        d_model: 16,
        n_layers: 1,
        population: 16,
        window: 12,
        eval_every: 2,
        eval_bytes: 128,
        eval_streams: 4,
        checkpoint_every: 100,
        chunk_members: 8,
        ..Default::default()
    };
    let dir = std::env::temp_dir().join(format!("eggroll-gpu-egg-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut curve = Vec::new();
    eggroll_llm::train::train_on(kernels, &cfg, &text, &dir, Some(3), false, &mut |r| {
        curve.push((r.fitness_mean, r.eval_bits_per_byte, r.weights_changed))
    })
    .unwrap();
    let ckpt = eggroll_llm::train::latest_checkpoint(&dir);
    let (_, state, _) = eggroll_llm::checkpoint::load_state(&ckpt).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (curve, state.weights.w)
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_egg_training_is_bit_identical_to_the_cpu() {
    let Some(gpu) = common::wgpu_or_skip(eggroll_shaders::WgpuInt::new()) else {
        return;
    };
    let want = egg_run(None, "cpu-w");
    assert_eq!(egg_run(Some(&gpu), "wgpu"), want);
    assert!(want.0.iter().all(|g| g.2 > 0), "the run must move weights");
}

#[cfg(feature = "cubecl")]
#[test]
fn cubecl_egg_training_is_bit_identical_to_the_cpu() {
    let Some(gpu) = common::cubecl_or_skip(eggroll_cubecl::Cubecl::new()) else {
        return;
    };
    assert_eq!(egg_run(Some(&gpu), "cubecl"), egg_run(None, "cpu-c"));
}
