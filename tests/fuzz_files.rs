//! Seeded fuzzing of the files a user hands eggroll: checkpoints of every model family
//! (truncated, bit-flipped, bytes overwritten) and EGG data files (empty, tiny, binary, all
//! separators). None may panic, and a damaged checkpoint either is refused with an error or
//! evaluates exactly as the original (never silently to other figures).
#![allow(clippy::unwrap_used)]

mod common;

use common::{Rng, Scratch};
use eggroll::models::{evaluate_checkpoint, load_checkpoint};
use eggroll::train::{latest_checkpoint, train, TrainOptions};
use eggroll::RunConfig;
use eggroll_core::cpu::Cpu;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

fn train_into(cfg: &RunConfig, out: &Path) -> eggroll::Result<eggroll::train::TrainSummary> {
    let opts = TrainOptions {
        out_dir: out.to_path_buf(),
        resume: false,
        stop_after: None,
    };
    train(&Cpu::new(), cfg, &opts, &mut |_| {})
}

fn egg_config(data: &Path, generations: u64) -> RunConfig {
    let text = format!(
        "generations = {generations}\n[model]\nkind = \"egg_gru\"\nd_model = 8\nchunk_members = 4\n\
         [task]\nname = \"text\"\ndata = {:?}\nwindow = 8\neval_bytes = 256\neval_streams = 2\nval_fraction = 0.2\n\
         [es]\npopulation = 8\nrank = 1\nshaping = \"pair_sign\"\n",
        data.display()
    );
    RunConfig::from_toml(&text, "fuzz egg", &[]).unwrap()
}

/// Mutate checkpoint bytes: a truncation, a few flipped bits, or overwritten bytes.
fn damage(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = bytes.to_vec();
    match rng.below(3) {
        0 => b.truncate(rng.below(b.len())),
        1 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
        }
        _ => {
            let start = rng.below(b.len());
            let len = 1 + rng.below(16);
            for x in b.iter_mut().skip(start).take(len) {
                *x = rng.next() as u8;
            }
        }
    }
    b
}

/// Every damaged copy of `ckpt` is refused or evaluates as the original; returns how many
/// were refused.
fn fuzz_checkpoint(ckpt: &Path, dir: &Path, seed: u64, cases: usize) -> usize {
    let (cfg, ck) = load_checkpoint(ckpt).unwrap();
    let want = evaluate_checkpoint(&cfg, &ck, ckpt).unwrap();
    let bytes = std::fs::read(ckpt).unwrap();
    let mut rng = Rng(seed);
    let mut refused = 0;
    for case in 0..cases {
        let path = dir.join(format!("damaged-{case}.safetensors"));
        std::fs::write(&path, damage(&bytes, &mut rng)).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let (cfg, ck) = load_checkpoint(&path)?;
            evaluate_checkpoint(&cfg, &ck, &path)
        }));
        match outcome {
            Err(_) => panic!("case {case}: loading a damaged checkpoint panicked"),
            Ok(Err(e)) => {
                assert!(
                    e.to_string().contains(&path.display().to_string())
                        || e.to_string().contains("config"),
                    "case {case}: the error does not name the file: {e}"
                );
                refused += 1;
            }
            Ok(Ok(got)) => assert_eq!(
                got, want,
                "case {case}: a damaged checkpoint evaluated to other figures"
            ),
        }
        if ckpt.to_string_lossy().contains("egg") {
            let sampled = catch_unwind(AssertUnwindSafe(|| {
                eggroll_llm::egg::generate::generate(&path, b"a", 4, 0)
            }));
            assert!(sampled.is_ok(), "case {case}: generate panicked");
        }
        std::fs::remove_file(&path).ok();
    }
    refused
}

#[test]
fn damaged_checkpoints_of_every_model_family_are_refused_or_harmless() {
    let dir = Scratch::new("fuzz", "ckpt");
    let mlp = RunConfig::from_toml(
        "",
        "fuzz mlp",
        &[
            "generations=2".into(),
            "es.population=8".into(),
            "task.batch=8".into(),
            "model.hidden=[4]".into(),
        ],
    )
    .unwrap();
    train_into(&mlp, &dir.join("mlp")).unwrap();
    let refused = fuzz_checkpoint(&latest_checkpoint(&dir.join("mlp")), &dir, 0x5eed, 150);
    assert!(
        refused > 100,
        "only {refused} of 150 damaged MLP checkpoints were refused"
    );

    let data = dir.join("egg-text.txt");
    std::fs::write(
        &data,
        b"to be or not to be, that is the question. ".repeat(40),
    )
    .unwrap();
    train_into(&egg_config(&data, 2), &dir.join("egg")).unwrap();
    let refused = fuzz_checkpoint(&latest_checkpoint(&dir.join("egg")), &dir, 0xe66, 150);
    assert!(
        refused > 100,
        "only {refused} of 150 damaged EGG checkpoints were refused"
    );
}

#[test]
fn odd_egg_data_files_never_panic() {
    let dir = Scratch::new("fuzz", "data");
    let mut rng = Rng(0xda7a);
    let mut files: Vec<Vec<u8>> = vec![Vec::new(), vec![b'a'], vec![0; 500], vec![0xff; 3000]];
    for _ in 0..12 {
        let len = rng.below(4000);
        files.push((0..len).map(|_| rng.next() as u8).collect());
    }
    let mut trained = 0;
    for (i, bytes) in files.iter().enumerate() {
        let data = dir.join(format!("data-{i}.bin"));
        std::fs::write(&data, bytes).unwrap();
        let out = dir.join(format!("run-{i}"));
        let cfg = egg_config(&data, 1);
        match catch_unwind(AssertUnwindSafe(|| train_into(&cfg, &out))) {
            Err(_) => panic!("data file {i} ({} bytes) panicked", bytes.len()),
            Ok(Ok(_)) => trained += 1,
            Ok(Err(e)) => assert!(
                e.to_string().contains("split") || e.to_string().contains("data"),
                "data file {i}: {e}"
            ),
        }
    }
    // The long files train; the empty and tiny ones are refused.
    assert!(trained >= 4, "only {trained} data files trained");
}
