//! A short training run on each GPU backend follows the CPU run's fitness curve, with every
//! noise strategy (`eggroll`, `open_es`, `eggroll_sign`, `eggroll_baseline`), and a tiny EGG
//! language-model run on each gives the CPU's bits exactly (runs on
//! Mesa's software Vulkan in the test command; needs the backend's cargo feature). Without an
//! adapter they are skipped, unless `EGGROLL_REQUIRE_GPU` is set (the test command sets it).

#![cfg(any(feature = "wgpu", feature = "cubecl"))]
#![allow(clippy::unwrap_used)]

use eggroll::dist::SingleProcess;

mod common;

use eggroll::train::{train, TrainOptions};
use eggroll::RunConfig;
use eggroll_core::cpu::Cpu;
use eggroll_core::Backend;

fn curve<B: Backend>(backend: &B, name: &str, strategy: &str) -> Vec<f64> {
    let mut ov: Vec<String> = vec![
        "generations=5".into(),
        "es.population=32".into(),
        "task.batch=8".into(),
        "model.hidden=[16]".into(),
        "optimizer.name=\"sgd\"".into(),
        "lr.value=0.5".into(),
        format!("es.strategy=\"{strategy}\""),
    ];
    if strategy == "eggroll_baseline" {
        ov.push("es.group_size=8".into());
    }
    let cfg = RunConfig::from_toml("", "test", &ov).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "eggroll-gpu-{}-{name}-{strategy}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = TrainOptions {
        out_dir: dir.clone(),
        resume: false,
        stop_after: None,
    };
    let mut means = Vec::new();
    train(backend, &cfg, &opts, &mut |r| means.push(r.fitness_mean)).unwrap();
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
    for s in eggroll_populations::noise_strategy_names() {
        assert_close(
            &curve(&gpu, "wgpu", s),
            &curve(&Cpu::new(), "cpu-w", s),
            &format!("wgpu {s}"),
        );
    }
}

#[cfg(feature = "cubecl")]
#[test]
fn cubecl_training_follows_the_cpu() {
    let Some(gpu) = common::cubecl_or_skip(eggroll_cubecl::Cubecl::new()) else {
        return;
    };
    for s in eggroll_populations::noise_strategy_names() {
        assert_close(
            &curve(&gpu, "cubecl", s),
            &curve(&Cpu::new(), "cpu-c", s),
            &format!("cubecl {s}"),
        );
    }
}

/// Per generation: mean fitness, validation bits/byte when evaluated, training bits/byte.
type EggCurve = Vec<(f64, Option<f64>, Option<u64>)>;

/// Generation-by-generation figures and final int8 output-head weights of a tiny EGG language-model run
/// whose matrix products run on `kernels` (`None`: the CPU).
fn egg_run(kernels: Option<&dyn eggroll_llm::DynIntKernels>, name: &str) -> (EggCurve, Vec<i8>) {
    let text = common::words_text(2000).into_bytes();
    let dir = std::env::temp_dir().join(format!("eggroll-gpu-egg-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("text.txt");
    std::fs::write(&data, &text).unwrap();
    let cfg = RunConfig::from_toml(
        &format!(
            "generations = 3\n[model]\nkind = \"egg_gru\"\nd_model = 16\nchunk_members = 8\n\
             [task]\nname = \"text\"\ndata = {:?}\nwindow = 12\neval_bytes = 128\neval_streams = 4\n\
             [es]\npopulation = 16\nrank = 1\nshaping = \"pair_sign\"\n[run]\neval_every = 2\n",
            data.display()
        ),
        "tiny egg",
        &[],
    )
    .unwrap();
    let opts = TrainOptions {
        out_dir: dir.join("run"),
        resume: false,
        stop_after: None,
    };
    let mut curve = Vec::new();
    let get = |m: &[(&str, f64)], k: &str| m.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    eggroll::models::train_run(
        &Cpu::new(),
        kernels,
        &cfg,
        &opts,
        &SingleProcess,
        &mut |r| {
            curve.push((
                r.fitness_mean,
                get(&r.eval, "eval_bits_per_byte"),
                get(&r.extra, "train_bits_per_byte").map(f64::to_bits),
            ))
        },
    )
    .unwrap();
    let ck = eggroll_core::checkpoint::Checkpoint::load(&eggroll::train::latest_checkpoint(
        &opts.out_dir,
    ))
    .unwrap();
    let weights = ck
        .tensors
        .get("param.head")
        .unwrap()
        .1
        .iter()
        .map(|&v| v as i8)
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    (curve, weights)
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_egg_training_is_bit_identical_to_the_cpu() {
    let Some(gpu) = common::wgpu_or_skip(eggroll_shaders::WgpuInt::new()) else {
        return;
    };
    let want = egg_run(None, "cpu-w");
    assert_eq!(egg_run(Some(&gpu), "wgpu"), want);
    assert!(
        want.0.windows(2).any(|g| g[0].0 != g[1].0),
        "the run must change the fitness"
    );
}

#[cfg(feature = "cubecl")]
#[test]
fn cubecl_egg_training_is_bit_identical_to_the_cpu() {
    let Some(gpu) = common::cubecl_or_skip(eggroll_cubecl::Cubecl::new()) else {
        return;
    };
    assert_eq!(egg_run(Some(&gpu), "cubecl"), egg_run(None, "cpu-c"));
}
