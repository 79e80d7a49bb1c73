//! A run is never lost and never silently corrupted: non-finite updates stop before the
//! checkpoint, a damaged latest checkpoint falls back to the previous one, a run directory is
//! locked, checkpoints are checksummed, and misnamed settings are refused (issue #13's defects).

#![allow(clippy::unwrap_used)]

mod common;
use common::{Rng, Scratch};
use eggroll::train::{latest_checkpoint, previous_checkpoint, train, TrainOptions};
use eggroll::RunConfig;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::cpu::Cpu;
use std::path::Path;
use std::process::Command;

fn config(extra: &[&str]) -> RunConfig {
    let mut ov: Vec<String> = [
        "generations=6",
        "es.population=32",
        "run.checkpoint_every=1",
        "run.eval_every=2",
        "task.batch=16",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ov.extend(extra.iter().map(|s| s.to_string()));
    RunConfig::from_toml("", "test", &ov).unwrap()
}

fn try_run(
    cfg: &RunConfig,
    dir: &Path,
    resume: bool,
    stop_after: Option<u64>,
) -> eggroll::Result<eggroll::train::TrainSummary> {
    let opts = TrainOptions {
        out_dir: dir.to_path_buf(),
        resume,
        stop_after,
    };
    train(&Cpu::new(), cfg, &opts, &mut |_| {})
}

fn bits(path: &Path) -> Vec<(String, Vec<u32>)> {
    let ck = Checkpoint::load(path).unwrap();
    ck.tensors
        .iter()
        .map(|(k, (_, v))| (k.clone(), v.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

#[test]
fn a_non_finite_update_stops_before_any_checkpoint_is_overwritten() {
    // 1e39 is a finite f64 but infinite as the f32 the update uses: refused by key.
    let err = RunConfig::from_toml("", "c.toml", &["lr.value=1e39".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("lr.value") && err.contains("f32"), "{err}");
    // Weight decay of 1e38 at lr 100 is finite in every setting but multiplies a weight of
    // 0.1 to 1e39 in the update: the update is refused before any checkpoint holds it.
    let cfg = config(&["optimizer.weight_decay=1e38", "lr.value=100"]);
    let dir = Scratch::new("safety", "inf-lr");
    let err = try_run(&cfg, &dir, false, None).unwrap_err().to_string();
    assert!(
        err.contains("generation 0")
            && err.contains("non-finite")
            && err.contains("parameter layers.0"),
        "{err}"
    );
    assert!(!err.contains("were not updated"), "{err}");
    assert!(!latest_checkpoint(&dir).exists());
}

#[test]
fn a_damaged_latest_checkpoint_resumes_from_the_previous_one_to_the_same_result() {
    let cfg = config(&[]);
    let straight = Scratch::new("safety", "straight");
    try_run(&cfg, &straight, false, None).unwrap();

    let split = Scratch::new("safety", "split");
    try_run(&cfg, &split, false, Some(3)).unwrap();
    assert!(previous_checkpoint(&split).exists());
    // Flip one byte in the middle of the latest checkpoint's tensor data.
    let latest = latest_checkpoint(&split);
    let mut bytes = std::fs::read(&latest).unwrap();
    let at = bytes.len() - 7;
    bytes[at] ^= 0x10;
    std::fs::write(&latest, &bytes).unwrap();
    assert!(Checkpoint::load(&latest)
        .unwrap_err()
        .to_string()
        .contains("corrupt"));

    let s = try_run(&cfg, &split, true, None).unwrap();
    assert_eq!(s.generation, 6);
    assert_eq!(
        bits(&latest_checkpoint(&split)),
        bits(&latest_checkpoint(&straight))
    );
}

#[test]
fn a_run_directory_in_use_is_refused() {
    let cfg = config(&[]);
    let dir = Scratch::new("safety", "locked");
    // This test process is alive, so its pid holds the lock.
    std::fs::write(
        dir.join("lock"),
        format!(
            "{} {}\n",
            std::process::id(),
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "unknown-host".into())
        ),
    )
    .unwrap();
    let err = try_run(&cfg, &dir, false, None).unwrap_err().to_string();
    assert!(
        err.contains(&format!("in use by pid {}", std::process::id())),
        "{err}"
    );
    assert!(
        !dir.join("config.toml").exists(),
        "a refused run wrote into the directory"
    );
}

#[test]
fn inconsistent_strategy_state_is_refused() {
    let cfg = config(&[]);
    let dir = Scratch::new("safety", "state");
    try_run(&cfg, &dir, false, Some(2)).unwrap();
    let path = latest_checkpoint(&dir);
    let mut ck = Checkpoint::load(&path).unwrap();
    ck.metadata.insert("generation".into(), "1".into());
    ck.save_atomic(&path).unwrap();
    std::fs::remove_file(previous_checkpoint(&dir)).unwrap();
    let err = try_run(&cfg, &dir, true, None).unwrap_err().to_string();
    assert!(err.contains("disagrees with strategy_state"), "{err}");
}

#[test]
fn stop_after_zero_leaves_a_checkpoint() {
    let cfg = config(&[]);
    let dir = Scratch::new("safety", "stop0");
    assert_eq!(try_run(&cfg, &dir, false, Some(0)).unwrap().generation, 0);
    assert!(latest_checkpoint(&dir).exists());
    assert_eq!(try_run(&cfg, &dir, true, None).unwrap().generation, 6);
}

#[test]
fn misnamed_or_non_finite_stop_settings_are_refused() {
    let cfg = config(&["run.stop_metric=\"eval_retrun\"", "run.stop_value=0.5"]);
    let dir = Scratch::new("safety", "typo");
    let err = try_run(&cfg, &dir, false, None).unwrap_err().to_string();
    assert!(
        err.contains("run.stop_metric")
            && err.contains("eval_retrun")
            && err.contains("eval_accuracy"),
        "{err}"
    );
    let err = RunConfig::from_toml(
        "",
        "test",
        &[
            "run.stop_metric=\"eval_loss\"".into(),
            "run.stop_value=nan".into(),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("run.stop_value"), "{err}");
}

#[test]
fn resume_without_config_reads_the_runs_own_config() {
    let dir = Scratch::new("safety", "cli-resume");
    let eggroll = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_eggroll"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let d = dir.to_str().unwrap();
    let (ok, err) = eggroll(&[
        "train",
        "--out",
        d,
        "--generations",
        "4",
        "--stop-after",
        "2",
        "--set",
        "es.population=32",
        "--set",
        "task.batch=16",
        "--set",
        "model.hidden=[8]",
    ]);
    assert!(ok, "{err}");
    let (ok, err) = eggroll(&["train", "--out", d, "--resume"]);
    assert!(ok, "{err}");
    let ck = Checkpoint::load(&latest_checkpoint(&dir)).unwrap();
    assert_eq!(ck.meta("generation", &dir).unwrap(), "4");
}

#[test]
fn settings_that_could_never_train_are_refused_by_key() {
    let err = RunConfig::from_toml(
        "",
        "t",
        &["es.population=1".into(), "es.antithetic=false".into()],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("population") && err.contains("at least 2"),
        "{err}"
    );
    let err = RunConfig::from_toml("", "t", &["es={population=2}".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("es.population=2"), "{err}");
    let cfg = config(&["es.population=1000000000"]);
    let dir = Scratch::new("safety", "huge");
    let err = try_run(&cfg, &dir, false, None).unwrap_err().to_string();
    assert!(
        err.contains("es.population") && err.contains("GiB"),
        "{err}"
    );
}

#[test]
fn too_many_threads_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_eggroll"))
        .args(["--threads", "5000", "train", "--out", "/nonexistent/never"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--threads 5000"),
        "{err}"
    );
}

#[test]
fn an_egg_validation_split_too_small_to_score_is_refused() {
    let dir = Scratch::new("safety", "egg-small");
    let data: Vec<u8> = (0..400u32).map(|i| b'a' + (i % 13) as u8).collect();
    let path = dir.join("small.txt");
    std::fs::write(&path, data).unwrap();
    let text = format!(
        "[model]\nkind = \"egg_gru\"\nd_model = 8\n[task]\nname = \"text\"\ndata = {:?}\nwindow = 8\neval_streams = 64\n[es]\npopulation = 4\nrank = 1\nshaping = \"pair_sign\"\n",
        path.display()
    );
    let cfg = RunConfig::from_toml(&text, "egg.toml", &[]).unwrap();
    let err = try_run(&cfg, &dir.join("run"), false, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("validation split") && err.contains("eval_streams"),
        "{err}"
    );
}

#[test]
fn messages_name_the_line_or_the_override() {
    let err = RunConfig::from_toml("seed = 1\ngenerations = = 3\n", "bad.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.toml") && err.contains("line 2"), "{err}");
    let err = RunConfig::from_toml("", "file.toml", &["es.sigma=1e400".into()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--set es.sigma=1e400") && err.contains("out of range"),
        "{err}"
    );
}

#[test]
fn an_unknown_strategy_is_named_by_key_before_the_run_directory_is_touched() {
    let err = RunConfig::from_toml("", "x.toml", &["es.strategy=\"opnes\"".into()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("es.strategy") && err.contains("opnes") && err.contains("eggroll"),
        "{err}"
    );
}

/// Mutate `text` once: delete, duplicate or replace a character, or swap in an extreme value.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = rng.below(chars.len());
    let pieces = [
        "0",
        "-1",
        "1e400",
        "nan",
        "inf",
        "18446744073709551616",
        "\"x\"",
        "[",
        "]",
        "=",
        "\n",
        "[[a]]",
        "{",
        "true",
        "0.0",
        "99999999999",
    ];
    match rng.below(4) {
        0 if !chars.is_empty() => {
            chars.remove(at);
        }
        1 if !chars.is_empty() => {
            let c = chars[at];
            chars.insert(at, c);
        }
        _ => {
            let piece = pieces[rng.below(pieces.len())];
            for (i, c) in piece.chars().enumerate() {
                chars.insert(at.min(chars.len()) + i, c);
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn mutated_configs_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for _ in 0..400 {
            let mut m = text.clone();
            for _ in 0..1 + rng.below(3) {
                m = mutate(&m, &mut rng);
            }
            let outcome = std::panic::catch_unwind(|| RunConfig::from_toml(&m, "fuzz", &[]));
            assert!(
                outcome.is_ok(),
                "{} mutated to:\n{m}\npanicked",
                path.display()
            );
            if let Ok(Ok(cfg)) = outcome {
                // Whatever parses must also validate its task and serialise again.
                assert!(cfg.to_toml().is_ok());
            }
            cases += 1;
        }
    }
    assert!(
        cases >= 400,
        "no example configs found in {}",
        dir.display()
    );
}

/// Run the `eggroll` binary: (success, stderr).
fn run_cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eggroll"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `args` fail with one `error:` line containing every needle, and no panic.
fn refused(args: &[&str], needles: &[&str]) {
    let (ok, err) = run_cli(args);
    assert!(!ok, "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{n}` missing from:\n{err}");
    }
}

#[test]
fn seeds_above_toml_integers_are_refused_and_the_largest_round_trips() {
    let dir = Scratch::new("safety", "seed");
    let d = dir.join("run");
    let d = d.to_str().unwrap();
    refused(
        &["train", "--seed", "18446744073709551615", "--out", d],
        &["--seed 18446744073709551615", "9223372036854775807"],
    );
    assert!(
        !dir.join("run").exists(),
        "a refused seed must not touch --out"
    );
    let small = [
        "--generations",
        "1",
        "--set",
        "es.population=8",
        "--set",
        "task.batch=8",
        "--set",
        "model.hidden=[4]",
    ];
    let mut args = vec!["train", "--seed", "9223372036854775807", "--out", d];
    args.extend(small);
    let (ok, err) = run_cli(&args);
    assert!(ok, "{err}");
    let written = std::fs::read_to_string(dir.join("run").join("config.toml")).unwrap();
    let cfg = RunConfig::from_toml(&written, "config.toml", &[]).unwrap();
    assert_eq!(cfg.seed, i64::MAX as u64);
}

#[test]
fn a_file_named_checkpoints_in_out_is_named_before_training() {
    let dir = Scratch::new("safety", "ckfile");
    std::fs::write(dir.join("checkpoints"), b"in the way").unwrap();
    let named = dir.join("checkpoints").display().to_string();
    // The default run is 500 generations: it is refused at the start, not at a checkpoint.
    refused(
        &["train", "--out", dir.to_str().unwrap()],
        &[&format!("{named} is a file")],
    );
    assert!(!dir.join("metrics.jsonl").exists());
}

#[test]
fn bench_and_generate_sizes_beyond_any_machine_are_refused_naming_the_flag() {
    refused(
        &["bench", "lowrank", "--hidden", "1000000"],
        &["--hidden 1000000", "GiB", "available"],
    );
    refused(
        &["bench", "lowrank", "-n", "2000000000", "--hidden", "4096"],
        &["-n 2000000000", "GiB"],
    );
    refused(
        &["bench", "envs", "--batch", "1000000000000000"],
        &["--batch 1000000000000000", "GiB"],
    );
    refused(
        &["bench", "rl", "--hidden", "100000000"],
        &["--hidden 100000000", "GiB"],
    );
    // Checked before the checkpoint is even read.
    refused(
        &["generate", "no-such-run", "--bytes", "1000000000000000"],
        &["--bytes 1000000000000000", "GiB"],
    );
}

#[test]
fn a_digits_batch_beyond_the_data_set_is_refused_by_key() {
    let dir = Scratch::new("safety", "digits-batch");
    refused(
        &[
            "train",
            "--out",
            dir.to_str().unwrap(),
            "--set",
            "task.batch=100000",
        ],
        &["task.batch", "100000", "at most 1437"],
    );
}
