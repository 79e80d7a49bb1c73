//! Multi-process training through `mpirun` on the built `eggroll` binary: the same parameters
//! for any number of ranks (uneven shards included) and without MPI, resuming on another rank
//! count, refusing ranks with different configs, a panicking rank ending the whole job, and
//! only N fitness floats exchanged per generation.
#![cfg(feature = "mpi")]
#![allow(clippy::unwrap_used)]

mod common;
use common::Scratch;
use eggroll::dist_mpi::{all_gather_bytes, LAUNCHER_VARS, MPI_SWITCH_VAR, TEST_PANIC_VAR};
use eggroll::train::latest_checkpoint;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_populations::shard::member_shard;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_eggroll");
const N: u32 = 64;

/// Tiny digits run: 64 members (not divisible by 3), batch 8, 4 generations.
fn tiny(extra: &[&str]) -> Vec<String> {
    tiny_for(4, extra)
}

/// [`tiny`] for `generations` generations.
fn tiny_for(generations: u64, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--threads",
        "1",
        "train",
        "--set",
        "es.population=64",
        "--set",
        "task.batch=8",
        "--set",
        "run.checkpoint_every=1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(["--generations".to_string(), generations.to_string()]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn tmp(name: &str) -> Scratch {
    Scratch::new("mpi", name)
}

struct Job {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Run `cmd` with its output in files under `dir`; a job that hangs (a rank left waiting in a
/// collective) is killed after two minutes and fails the test instead of blocking CI.
fn finish(mut cmd: Command, dir: &Path, tag: &str) -> Job {
    let out_path = dir.join(format!("{tag}.stdout"));
    let err_path = dir.join(format!("{tag}.stderr"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().expect("start mpirun (is Open MPI installed?)");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{tag}: job still running after 120 s (hung?):\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Job {
        ok: status.success(),
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
    }
}

/// `mpirun` with the settings a root CI container on 2 cores needs.
fn mpirun(dir: &Path) -> Command {
    let mut c = Command::new("mpirun");
    c.current_dir(dir)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env_remove(MPI_SWITCH_VAR)
        .env_remove(TEST_PANIC_VAR);
    c
}

/// Train under `mpirun -np ranks`, or as a plain process for `ranks == 0`.
fn train(dir: &Path, ranks: usize, args: &[String], tag: &str) -> Job {
    let cmd = if ranks == 0 {
        let mut c = Command::new(BIN);
        c.current_dir(dir).args(args);
        for v in LAUNCHER_VARS
            .iter()
            .chain([&MPI_SWITCH_VAR, &TEST_PANIC_VAR])
        {
            c.env_remove(v);
        }
        c
    } else {
        let mut c = mpirun(dir);
        c.arg("-np").arg(ranks.to_string()).arg(BIN).args(args);
        c
    };
    finish(cmd, dir, tag)
}

fn train_ok(dir: &Path, ranks: usize, args: &[String], tag: &str) -> Job {
    let job = train(dir, ranks, args, tag);
    assert!(
        job.ok,
        "{tag} ({ranks} ranks) failed:\n{}\n{}",
        job.stdout, job.stderr
    );
    job
}

/// Every tensor of the latest checkpoint (parameters and optimiser state), as bits.
fn params(run: &Path) -> Vec<(String, Vec<u32>)> {
    let ck = Checkpoint::load(&latest_checkpoint(run)).unwrap();
    let mut t: Vec<(String, Vec<u32>)> = ck
        .tensors
        .iter()
        .map(|(k, (_, v))| (k.clone(), v.iter().map(|x| x.to_bits()).collect()))
        .collect();
    t.sort();
    assert!(t.iter().any(|(k, _)| k.starts_with("params.")));
    t
}

fn generation(run: &Path) -> String {
    let ck = Checkpoint::load(&latest_checkpoint(run)).unwrap();
    ck.metadata.get("generation").cloned().unwrap_or_default()
}

fn metrics(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn parameters_are_identical_for_any_rank_count() {
    let dir = tmp("ranks");
    train_ok(&dir, 0, &tiny(&["--out", "plain"]), "plain");
    let want = params(&dir.join("plain"));
    for ranks in [1, 2, 3] {
        let run = format!("np{ranks}");
        let job = train_ok(&dir, ranks, &tiny(&["--out", &run]), &run);
        assert_eq!(generation(&dir.join(&run)), "4");
        assert!(
            params(&dir.join(&run)) == want,
            "{ranks} ranks: parameters differ from the run without MPI"
        );
        // Rank 0 alone prints: one header line for the whole job.
        assert_eq!(
            job.stdout.matches("eggroll train:").count(),
            1,
            "{ranks} ranks:\n{}",
            job.stdout
        );
        let lines = metrics(&dir.join(&run));
        assert_eq!(lines.len(), 4, "one metrics line per generation");
        if ranks > 1 {
            assert_eq!(lines[0]["ranks"], ranks);
        }
    }
}

#[test]
fn every_noise_strategy_is_identical_for_any_rank_count() {
    let dir = tmp("strategies");
    for name in eggroll_populations::noise_strategy_names() {
        let mut set = vec!["--set".to_string(), format!("es.strategy=\"{name}\"")];
        if name == "eggroll_baseline" {
            set.extend(["--set".to_string(), "es.group_size=4".to_string()]);
        }
        let args = |out: &str| {
            let mut a = tiny_for(2, &["--out", out]);
            a.extend(set.iter().cloned());
            a
        };
        let plain = format!("{name}-plain");
        train_ok(&dir, 0, &args(&plain), &plain);
        let three = format!("{name}-np3");
        train_ok(&dir, 3, &args(&three), &three);
        assert!(
            params(&dir.join(&three)) == params(&dir.join(&plain)),
            "{name}: 3 ranks give other parameters than the run without MPI"
        );
    }
}

#[test]
fn resume_on_a_different_rank_count() {
    let dir = tmp("resume");
    train_ok(&dir, 0, &tiny(&["--out", "straight"]), "straight");
    train_ok(
        &dir,
        2,
        &tiny(&["--out", "split", "--stop-after", "2"]),
        "first-half",
    );
    assert_eq!(generation(&dir.join("split")), "2");
    train_ok(
        &dir,
        3,
        &tiny(&["--out", "split", "--resume"]),
        "second-half",
    );
    assert_eq!(generation(&dir.join("split")), "4");
    assert!(
        params(&dir.join("split")) == params(&dir.join("straight")),
        "2 ranks then 3 ranks differs from a straight run"
    );
    assert_eq!(metrics(&dir.join("split")).len(), 4);
}

#[test]
fn ranks_with_different_configs_are_refused() {
    let dir = tmp("mismatch");
    let same = tiny(&["--out", "run"]);
    let other = tiny(&["--out", "run", "--set", "es.sigma=0.07"]);
    let mut cmd = mpirun(&dir);
    cmd.args(["-np", "1", BIN])
        .args(&same)
        .args([":", "-np", "1", BIN])
        .args(&other);
    let job = finish(cmd, &dir, "mpmd");
    assert!(!job.ok, "mismatched configs were accepted:\n{}", job.stdout);
    assert!(
        job.stderr.contains("different config"),
        "stderr does not explain the refusal:\n{}",
        job.stderr
    );
    assert!(!job.stderr.contains("panicked"), "{}", job.stderr);
    assert!(!latest_checkpoint(&dir.join("run")).exists());
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_panicking_rank_ends_the_job_and_is_named() {
    let dir = tmp("panic");
    let mut cmd = mpirun(&dir);
    cmd.env(TEST_PANIC_VAR, "1")
        .args(["-np", "3", BIN])
        .args(tiny_for(1000, &["--out", "run"]));
    let job = finish(cmd, &dir, "panic");
    assert!(!job.ok, "the job survived a panicking rank");
    assert!(
        job.stderr.contains("rank 1 of 3 panicked"),
        "stderr does not name the rank:\n{}",
        job.stderr
    );
    // The panic is in generation 0's exchange: no generation completed, nothing written.
    assert!(!latest_checkpoint(&dir.join("run")).exists());
}

#[test]
fn only_fitness_is_exchanged_whatever_the_model_size() {
    let dir = tmp("bytes");
    let ranks = 3u32;
    let pop = eggroll_core::Population::new(eggroll_core::PopulationParams {
        seed: 0,
        epoch: 0,
        size: N,
        sigma: 0.1,
        kind: eggroll_core::NoiseKind::LowRank { rank: 4 },
        antithetic: true,
    })
    .unwrap();
    let counts: Vec<usize> = (0..ranks)
        .map(|r| member_shard(&pop, ranks, r).len())
        .collect();
    let want = all_gather_bytes(&counts, 0, 4);
    assert!(want <= 8 * N as u64 + 1024);
    let mut seen = Vec::new();
    for hidden in ["[8]", "[256, 256]"] {
        let run = format!("h{}", hidden.len());
        let set = format!("model.hidden={hidden}");
        train_ok(
            &dir,
            ranks as usize,
            &tiny(&["--out", &run, "--set", &set]),
            &run,
        );
        for line in metrics(&dir.join(&run)) {
            let bytes = line["bytes_exchanged"].as_u64().unwrap();
            assert!(bytes <= 8 * N as u64 + 1024, "{bytes} bytes per generation");
            seen.push(bytes);
        }
    }
    assert_eq!(seen.len(), 8);
    assert!(
        seen.iter().all(|&b| b == want),
        "bytes per generation {seen:?}, expected {want} for every generation and model size"
    );
}

/// Every tensor (weights and hidden states) and the read positions of an EGG checkpoint.
fn egg_state(run: &Path) -> (Vec<(String, Vec<u32>)>, Option<String>) {
    let ck = Checkpoint::load(&latest_checkpoint(run)).unwrap();
    let mut t: Vec<(String, Vec<u32>)> = ck
        .tensors
        .iter()
        .map(|(k, (_, v))| (k.clone(), v.iter().map(|x| x.to_bits()).collect()))
        .collect();
    t.sort();
    assert!(t.iter().any(|(k, _)| k == "state.hidden"));
    (t, ck.metadata.get("egg.positions").cloned())
}

#[test]
fn egg_is_identical_for_any_rank_count_and_resumes_on_another() {
    let dir = tmp("egg");
    let text = common::words_text(3000);
    std::fs::write(dir.join("text.txt"), text).unwrap();
    // 32 members = 16 pairs: shards of 6, 5 and 5 pairs on three ranks.
    std::fs::write(
        dir.join("egg.toml"),
        "generations = 3\n[model]\nkind = \"egg_gru\"\nd_model = 16\nchunk_members = 4\n\
         [task]\nname = \"text\"\ndata = \"text.txt\"\nwindow = 16\neval_bytes = 256\neval_streams = 4\n\
         [es]\npopulation = 32\nrank = 1\nshaping = \"pair_sign\"\n[run]\neval_every = 2\n",
    )
    .unwrap();
    let args = |out: &str, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["--threads", "1", "train", "egg.toml", "--out", out]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    train_ok(&dir, 0, &args("plain", &[]), "egg-plain");
    let want = egg_state(&dir.join("plain"));
    for ranks in [1, 2, 3] {
        let run = format!("egg-np{ranks}");
        train_ok(&dir, ranks, &args(&run, &[]), &run);
        assert!(
            egg_state(&dir.join(&run)) == want,
            "{ranks} ranks: the EGG run differs from the one without MPI"
        );
        // The whole file, metadata included, is the same bytes.
        let bytes = |r: &str| std::fs::read(latest_checkpoint(&dir.join(r))).unwrap();
        assert!(
            bytes(&run) == bytes("plain"),
            "{ranks} ranks: checkpoint bytes differ"
        );
    }
    // Stopped on 2 ranks, resumed on 3: every member's hidden state was gathered.
    train_ok(&dir, 2, &args("split", &["--stop-after", "2"]), "egg-first");
    train_ok(&dir, 3, &args("split", &["--resume"]), "egg-second");
    assert!(egg_state(&dir.join("split")) == want);
}

#[test]
fn llama_finetuning_is_identical_for_any_rank_count() {
    let dir = tmp("llama");
    let spec = eggroll_llm::llama::tiny::TinySpec::default();
    std::fs::write(
        dir.join("tiny.gguf"),
        eggroll_llm::llama::tiny::tiny_gguf(&spec)
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    // 8 members = 4 pairs, each pair its own 2 problems: shards of 2 and 2 pairs on two
    // ranks. AdamW's decay moves the weights even where the random model's rewards are flat.
    // With group_norm every member sends one reward per problem (16 values gathered).
    std::fs::write(
        dir.join("llama.toml"),
        "generations = 3\n[model]\nkind = \"llama\"\npath = \"tiny.gguf\"\n\
         [task]\nname = \"reasoning\"\nproblem = { kind = \"arith\", level = \"plain\" }\n\
         prompts = 2\nlayout = \"pair\"\ngroup_norm = true\nmax_new_tokens = 4\neval_problems = 4\n\
         [es]\npopulation = 8\nrank = 1\nsigma = 0.05\n\
         [optimizer]\nname = \"adam\"\nweight_decay = 0.1\n[lr]\nvalue = 0.01\n[run]\neval_every = 2\n",
    )
    .unwrap();
    let args = |out: &str| -> Vec<String> {
        ["--threads", "1", "train", "llama.toml", "--out", out]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    train_ok(&dir, 0, &args("plain"), "llama-plain");
    let bytes = |r: &str| std::fs::read(latest_checkpoint(&dir.join(r))).unwrap();
    for ranks in [1, 2] {
        let run = format!("llama-np{ranks}");
        train_ok(&dir, ranks, &args(&run), &run);
        assert!(params(&dir.join(&run)) == params(&dir.join("plain")));
        assert!(
            bytes(&run) == bytes("plain"),
            "{ranks} ranks: checkpoint bytes differ"
        );
    }
}
