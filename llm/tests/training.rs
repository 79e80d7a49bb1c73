//! End-to-end training: a tiny run learns, resume equals a straight run, and bad checkpoints
//! or mismatched resumes are refused with a clear error.
#![allow(clippy::unwrap_used)]

mod common;

use eggroll_core::checkpoint::Checkpoint;
use eggroll_llm::generate::generate;
use eggroll_llm::train::{latest_checkpoint, train, GenerationReport};
use std::path::Path;

fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn tiny_run_lowers_validation_bits_per_byte() {
    let text = common::tiny_text(20_000);
    let mut cfg = common::tiny_config();
    cfg.population = 128;
    cfg.chunk_members = 32;
    cfg.checkpoint_every = 100;
    let dir = common::temp_dir("learn");
    let mut reports: Vec<GenerationReport> = Vec::new();
    let summary = train(&cfg, &text, &dir, Some(60), false, &mut |r| {
        reports.push(r.clone())
    })
    .unwrap();
    let first = reports[0].eval_bits_per_byte.unwrap();
    let last = summary.eval_bits_per_byte;
    assert!(last < first - 1.0, "bits/byte {first} -> {last}");
    assert_eq!(reports.len(), 60);
    assert_eq!(metrics(&dir).len(), 60);
    assert!(summary.baselines.bigram_val < summary.baselines.unigram_val);
    // The trained checkpoint samples reproducibly.
    let ckpt = latest_checkpoint(&dir);
    let a = generate(&ckpt, b"the ", 40, 7).unwrap();
    assert_eq!(a, generate(&ckpt, b"the ", 40, 7).unwrap());
    assert_eq!(a.len(), 40);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn resume_continues_bit_identically() {
    let text = common::tiny_text(6000);
    let cfg = common::tiny_config(); // checkpoint every 3 generations
    let straight = common::temp_dir("straight");
    train(&cfg, &text, &straight, Some(7), false, &mut |_| {}).unwrap();
    let split = common::temp_dir("split");
    train(&cfg, &text, &split, Some(4), false, &mut |_| {}).unwrap();
    // Simulate a kill after generation 5 was logged but before it was checkpointed: the
    // resumed run must drop that line and redo generation 5.
    let mut m = std::fs::read_to_string(split.join("metrics.jsonl")).unwrap();
    m.push_str("{\"generation\":5,\"fitness_mean\":123.0}\n");
    std::fs::write(split.join("metrics.jsonl"), m).unwrap();
    train(&cfg, &text, &split, Some(7), true, &mut |_| {}).unwrap();
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
    // A different model config is refused on resume.
    let mut other = cfg.clone();
    other.d_model = 32;
    let err = train(&other, &text, &split, Some(8), true, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("different"), "{err}");
    // Different data too.
    let err = train(
        &cfg,
        &common::tiny_text(6001),
        &split,
        Some(8),
        true,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("different data"), "{err}");
    std::fs::remove_dir_all(straight).ok();
    std::fs::remove_dir_all(split).ok();
}

#[test]
fn truncated_and_foreign_checkpoints_are_refused() {
    let text = common::tiny_text(6000);
    let cfg = common::tiny_config();
    let dir = common::temp_dir("badckpt");
    train(&cfg, &text, &dir, Some(3), false, &mut |_| {}).unwrap();
    let good = latest_checkpoint(&dir);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = generate(&cut, b"a", 5, 0).unwrap_err().to_string();
    assert!(err.contains("cut.safetensors"), "{err}");
    // An eggroll checkpoint of another model (no egg.model marker).
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
    // A missing file names the path.
    let err = generate(&dir.join("nope.safetensors"), b"a", 5, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope.safetensors"), "{err}");
    // Data too short for the window.
    let err = train(&cfg, b"tiny", &dir, Some(1), false, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("training split"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}
