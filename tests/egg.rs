//! The EGG language model in the one training loop: a tiny run learns, resume equals a
//! straight run, thread counts do not matter, `--stop-after` and `eval` work, and bad
//! checkpoints or mismatched resumes are refused with a clear error.
#![allow(clippy::unwrap_used)]

mod common;

use common::Scratch;
use eggroll::models::{evaluate_checkpoint, load_checkpoint};
use eggroll::train::{latest_checkpoint, train, GenerationReport, TrainOptions, TrainSummary};
use eggroll::RunConfig;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::cpu::Cpu;
use eggroll_llm::egg::generate::generate;
use std::path::Path;

/// About `len` bytes of the shared tiny corpus.
fn tiny_text(len: usize) -> Vec<u8> {
    let mut t = common::words_text(len as u32 / 3).into_bytes();
    t.truncate(len);
    t
}

/// A tiny EGG config on `data` (D = 16, one block, 32 members, windows of 24 bytes,
/// checkpoints every 3 generations), with `extra` overrides.
fn config(data: &Path, generations: u64, extra: &[&str]) -> RunConfig {
    let text = format!(
        "seed = 0\ngenerations = {generations}\n\
         [model]\nkind = \"egg_gru\"\nd_model = 16\nn_layers = 1\nchunk_members = 8\nalpha_generations = 100\n\
         [task]\nname = \"text\"\ndata = {:?}\nwindow = 24\neval_bytes = 2048\neval_streams = 8\nval_fraction = 0.1\n\
         [es]\npopulation = 32\nrank = 1\nshaping = \"pair_sign\"\n\
         [run]\neval_every = 5\ncheckpoint_every = 3\n",
        data.display()
    );
    let overrides: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    RunConfig::from_toml(&text, "tiny egg", &overrides).unwrap()
}

fn write_text(dir: &Path, len: usize) -> std::path::PathBuf {
    let path = dir.join(format!("text-{len}.txt"));
    std::fs::write(&path, tiny_text(len)).unwrap();
    path
}

fn run(
    cfg: &RunConfig,
    out: &Path,
    resume: bool,
    stop_after: Option<u64>,
) -> eggroll::Result<TrainSummary> {
    let opts = TrainOptions {
        out_dir: out.to_path_buf(),
        resume,
        stop_after,
    };
    train(&Cpu::new(), cfg, &opts, &mut |_| {})
}

fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn tiny_run_lowers_validation_bits_per_byte() {
    let dir = Scratch::new("egg", "learn");
    let data = write_text(&dir, 20_000);
    let cfg = config(
        &data,
        60,
        &[
            "es.population=128",
            "model.chunk_members=32",
            "run.checkpoint_every=100",
        ],
    );
    let out = dir.join("run");
    let mut reports: Vec<GenerationReport> = Vec::new();
    let opts = TrainOptions {
        out_dir: out.clone(),
        resume: false,
        stop_after: None,
    };
    let summary = train(&Cpu::new(), &cfg, &opts, &mut |r| reports.push(r.clone())).unwrap();
    let bits = |m: &[(&str, f64)]| {
        m.iter()
            .find(|(k, _)| *k == "eval_bits_per_byte")
            .unwrap()
            .1
    };
    let (first, last) = (bits(&summary.initial_eval), bits(&summary.eval));
    assert!(last < first - 1.0, "bits/byte {first} -> {last}");
    assert_eq!(reports.len(), 60);
    let lines = metrics(&out);
    assert_eq!(lines.len(), 60);
    assert_eq!(lines[0]["generation"], 0);
    assert!(lines[0]["train_bits_per_byte"].as_f64().unwrap() > 0.0);
    assert!(lines[0]["weights_changed"].as_u64().unwrap() > 0);
    let base = |k: &str| summary.baselines.iter().find(|(n, _)| *n == k).unwrap().1;
    assert!(base("bigram_val") < base("unigram_val"));
    assert!(out.join("baselines.json").exists());
    // `eval` of the checkpoint gives the loop's own last evaluation.
    let ckpt = latest_checkpoint(&out);
    let (c, ck) = load_checkpoint(&ckpt).unwrap();
    assert_eq!(bits(&evaluate_checkpoint(&c, &ck, &ckpt).unwrap()), last);
    // The trained checkpoint samples reproducibly.
    let a = generate(&ckpt, b"the ", 40, 7).unwrap();
    assert_eq!(a, generate(&ckpt, b"the ", 40, 7).unwrap());
    assert_eq!(a.len(), 40);
}

#[test]
fn resume_and_stop_after_continue_bit_identically() {
    let dir = Scratch::new("egg", "resume");
    let data = write_text(&dir, 6000);
    let cfg = config(&data, 7, &[]);
    let (straight, split) = (dir.join("straight"), dir.join("split"));
    run(&cfg, &straight, false, None).unwrap();
    // Stopped after 4 generations (checkpointed there), then resumed.
    let s = run(&cfg, &split, false, Some(4)).unwrap();
    assert_eq!(s.generation, 4);
    // Simulate a kill after generation 4 was logged but before it was checkpointed: the
    // resumed run must drop that line and redo generation 4.
    let mut m = std::fs::read_to_string(split.join("metrics.jsonl")).unwrap();
    m.push_str("{\"generation\":4,\"fitness_mean\":123.0}\n");
    std::fs::write(split.join("metrics.jsonl"), m).unwrap();
    run(&cfg, &split, true, None).unwrap();
    let a = Checkpoint::load(&latest_checkpoint(&straight)).unwrap();
    let b = Checkpoint::load(&latest_checkpoint(&split)).unwrap();
    assert_eq!(a.tensors, b.tensors);
    assert_eq!(
        a.metadata.get("egg.positions"),
        b.metadata.get("egg.positions")
    );
    let strip = |v: Vec<serde_json::Value>| -> Vec<(u64, f64)> {
        v.iter()
            .map(|m| {
                (
                    m["generation"].as_u64().unwrap(),
                    m["fitness_mean"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(strip(metrics(&straight)), strip(metrics(&split)));
    // A different model config is refused on resume, naming the key.
    let other = config(&data, 8, &["model.d_model=32"]);
    let err = run(&other, &split, true, None).unwrap_err().to_string();
    assert!(err.contains("model.d_model"), "{err}");
    // Different data too.
    std::fs::write(&data, tiny_text(6001)).unwrap();
    let err = run(&config(&data, 8, &[]), &split, true, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("different data"), "{err}");
}

#[test]
fn training_is_identical_with_one_and_two_threads() {
    let dir = Scratch::new("egg", "threads");
    let data = write_text(&dir, 6000);
    let cfg = config(&data, 4, &[]);
    let mut ckpts = Vec::new();
    for threads in [1, 2] {
        let out = dir.join(format!("t{threads}"));
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run(&cfg, &out, false, None))
            .unwrap();
        ckpts.push(Checkpoint::load(&latest_checkpoint(&out)).unwrap());
    }
    assert_eq!(ckpts[0].tensors, ckpts[1].tensors);
}

#[test]
fn bad_checkpoints_data_and_settings_are_refused() {
    let dir = Scratch::new("egg", "bad");
    let data = write_text(&dir, 6000);
    let out = dir.join("run");
    run(&config(&data, 3, &[]), &out, false, None).unwrap();
    let good = latest_checkpoint(&out);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = generate(&cut, b"a", 5, 0).unwrap_err().to_string();
    assert!(err.contains("cut.safetensors"), "{err}");
    // A checkpoint of another model family.
    let mut foreign = Checkpoint::default();
    foreign.insert("w", vec![1], vec![0.0]);
    let fpath = dir.join("foreign.safetensors");
    foreign.save_atomic(&fpath).unwrap();
    let err = generate(&fpath, b"a", 5, 0).unwrap_err().to_string();
    assert!(err.contains("not an EGG"), "{err}");
    // A weight that is not an int8 value.
    let mut c = Checkpoint::load(&good).unwrap();
    c.tensors.get_mut("param.head").unwrap().1[0] = 0.5;
    let hpath = dir.join("half.safetensors");
    c.save_atomic(&hpath).unwrap();
    let err = generate(&hpath, b"a", 5, 0).unwrap_err().to_string();
    assert!(err.contains("param.head"), "{err}");
    let (cfg, ck) = load_checkpoint(&hpath).unwrap();
    let err = evaluate_checkpoint(&cfg, &ck, &hpath)
        .unwrap_err()
        .to_string();
    assert!(err.contains("param.head"), "{err}");
    // A missing file names the path.
    let err = generate(&dir.join("nope.safetensors"), b"a", 5, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope.safetensors"), "{err}");
    // Data too short for the window.
    std::fs::write(dir.join("tiny.txt"), b"tiny").unwrap();
    let err = run(
        &config(&dir.join("tiny.txt"), 1, &[]),
        &dir.join("r2"),
        false,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("training split"), "{err}");
    // A missing data file names the key and the file.
    let err = run(
        &config(&dir.join("none.txt"), 1, &[]),
        &dir.join("r3"),
        false,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("task.data") && err.contains("none.txt"),
        "{err}"
    );
    // Settings the EGG model cannot take are refused at validation, naming the key.
    for (set, key) in [
        ("es.shaping=\"z_score\"", "es.shaping"),
        ("es.strategy=\"open_es\"", "es.strategy"),
        ("es.population=31", "es.population"),
        ("task.window=0", "task.window"),
        ("model.widht=3", "widht"),
    ] {
        let text = std::fs::read_to_string(out.join("config.toml")).unwrap();
        let err = RunConfig::from_toml(&text, "c.toml", &[set.to_string()])
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{set}: {err}");
    }
    // The EGGROLL variants have no integer form: refused naming es.strategy and why.
    for (strategy, why) in [
        ("eggroll_sign", "sign(A)"),
        ("eggroll_baseline", "baseline"),
    ] {
        let text = std::fs::read_to_string(out.join("config.toml")).unwrap();
        let sets = [
            format!("es.strategy=\"{strategy}\""),
            "es.group_size=4".to_string(),
        ];
        let err = RunConfig::from_toml(&text, "c.toml", &sets)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("es.strategy")
                && err.contains(strategy)
                && err.contains("EGG")
                && err.contains(why),
            "{err}"
        );
    }
    // A population of either variant reaching the learner is refused there too.
    let cfg = config(&data, 3, &[]);
    let mut learner = eggroll::models::egg_learner(&cfg, None).unwrap();
    let plain = eggroll_core::Population::new(eggroll_core::PopulationParams {
        seed: 0,
        epoch: 0,
        size: 32,
        sigma: 0.0625,
        kind: eggroll_core::NoiseKind::LowRank { rank: 1 },
        antithetic: true,
    })
    .unwrap();
    use eggroll_core::learner::Learner;
    assert!(learner.fitness(&plain, 0..32, 0).is_ok());
    for variant in [
        eggroll_core::Variant {
            factors: eggroll_core::UpdateFactors::Sign,
            baseline_group: 0,
        },
        eggroll_core::Variant {
            factors: eggroll_core::UpdateFactors::Plain,
            baseline_group: 4,
        },
    ] {
        let pop = plain.with_variant(variant).unwrap();
        let err = learner.fitness(&pop, 0..32, 0).unwrap_err().to_string();
        assert!(err.contains("es.strategy") && err.contains("EGG"), "{err}");
    }
    // The model and its task must belong together.
    for text in ["[model]\nkind = \"egg_gru\"\n", "[task]\nname = \"text\"\n"] {
        let err = RunConfig::from_toml(text, "c.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("task.name") && err.contains("egg_gru"),
            "{text}: {err}"
        );
    }
}
