//! The `eggroll` command as a user runs it: clear errors, never a panic.

#![allow(clippy::unwrap_used)]

mod common;
use common::Scratch;
use std::process::Command;

fn eggroll(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eggroll"))
        .args(args)
        .output()
        .expect("run eggroll");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tmp(name: &str) -> Scratch {
    Scratch::new("cli", name)
}

fn fails_with(args: &[&str], needle: &str) {
    let (ok, _, err) = eggroll(args);
    assert!(!ok, "{args:?} should fail");
    assert!(
        err.contains(needle),
        "{args:?}: stderr lacks `{needle}`:\n{err}"
    );
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
}

#[test]
fn bad_configs_are_named() {
    let dir = tmp("badcfg");
    let cases = [
        ("unknown.toml", "[es]\nrnak = 2\n", "rnak"),
        (
            "type.toml",
            "[es]\npopulation = \"lots\"\n",
            "es.population",
        ),
        ("rank.toml", "[es]\nrank = 0\n", "es.rank"),
        ("odd.toml", "[es]\npopulation = 9\n", "antithetic"),
        ("sigma.toml", "[es]\nsigma = 0.0\n", "sigma"),
        ("syntax.toml", "[es\n", "syntax.toml"),
        ("task.toml", "[task]\nname = \"chess\"\n", "chess"),
    ];
    for (file, text, needle) in cases {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        fails_with(
            &[
                "train",
                path.to_str().unwrap(),
                "--out",
                dir.join("r").to_str().unwrap(),
            ],
            needle,
        );
    }
    fails_with(
        &["train", dir.join("missing.toml").to_str().unwrap()],
        "missing.toml",
    );
    fails_with(&["train", "--set", "es.rank"], "key=value");
}

#[test]
fn bad_checkpoints_are_named() {
    let dir = tmp("badck");
    let trunc = dir.join("trunc.safetensors");
    std::fs::write(&trunc, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":").unwrap();
    fails_with(&["eval", trunc.to_str().unwrap()], "trunc.safetensors");
    let foreign = dir.join("foreign.safetensors");
    let header = b"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    std::fs::write(&foreign, bytes).unwrap();
    fails_with(
        &["eval", foreign.to_str().unwrap()],
        "not an eggroll checkpoint",
    );
    fails_with(
        &["eval", dir.join("none.safetensors").to_str().unwrap()],
        "none.safetensors",
    );
}

#[test]
fn train_then_eval_and_resume() {
    let dir = tmp("run");
    let out = dir.join("r");
    let o = out.to_str().unwrap();
    let base = [
        "--set",
        "es.population=32",
        "--set",
        "task.batch=8",
        "--set",
        "run.eval_every=2",
    ];
    let mut args = vec![
        "train",
        "--out",
        o,
        "--generations",
        "4",
        "--stop-after",
        "2",
    ];
    args.extend(base);
    let (ok, stdout, err) = eggroll(&args);
    assert!(ok, "{err}");
    assert!(stdout.contains("eval_accuracy"), "{stdout}");
    let mut again = vec!["train", "--out", o, "--generations", "4"];
    again.extend(base);
    fails_with(&again, "--resume");
    again.push("--resume");
    let (ok, stdout, err) = eggroll(&again);
    assert!(ok, "{err}");
    assert!(stdout.contains("generation 4/4"), "{stdout}");
    let (ok, stdout, err) = eggroll(&["eval", o, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["generation"], 4);
    assert!(v["eval_accuracy"].as_f64().is_some());
}

#[test]
fn rl_train_eval_render() {
    let dir = tmp("rl");
    let out = dir.join("cp");
    let o = out.to_str().unwrap();
    let (ok, _, err) = eggroll(&[
        "train",
        "examples/cartpole.toml",
        "--out",
        o,
        "--generations",
        "2",
    ]);
    assert!(ok, "{err}");
    let (ok, stdout, err) = eggroll(&["eval", o, "--episodes", "3"]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("return over 3 episodes of CartPole-v1"),
        "{stdout}"
    );
    let gif = dir.join("ep.gif");
    let (ok, stdout, err) = eggroll(&["render", o, "--out", gif.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(stdout.contains("CartPole-v1"), "{stdout}");
    let bytes = std::fs::read(&gif).unwrap();
    assert!(bytes.starts_with(b"GIF89a"));
    // A directory (existing, or a path ending in `/`) gets DIR/episode.gif.
    let existing = dir.join("gifs");
    std::fs::create_dir_all(&existing).unwrap();
    let fresh = format!("{}/", dir.join("new-gifs").display());
    for (out, file) in [
        (existing.display().to_string(), existing.join("episode.gif")),
        (fresh.clone(), dir.join("new-gifs").join("episode.gif")),
    ] {
        let (ok, stdout, err) = eggroll(&["render", o, "--out", &out]);
        assert!(ok, "--out {out}: {err}");
        assert!(stdout.contains(&file.display().to_string()), "{stdout}");
        assert!(std::fs::read(&file).unwrap().starts_with(b"GIF89a"));
    }
    fails_with(&["eval", o, "--episodes", "0"], "--episodes");
}

#[test]
fn eval_episodes_is_refused_for_supervised_runs() {
    let dir = tmp("sup");
    let out = dir.join("d");
    let o = out.to_str().unwrap();
    let (ok, _, err) = eggroll(&[
        "train",
        "--out",
        o,
        "--generations",
        "1",
        "--set",
        "es.population=8",
    ]);
    assert!(ok, "{err}");
    fails_with(&["eval", o, "--episodes", "5"], "RL tasks");
    fails_with(&["render", o], "RL episodes");
}

#[test]
fn egg_language_model_train_and_generate() {
    let dir = tmp("egg");
    let text = dir.join("text.txt");
    let words = ["the ", "king ", "queen ", "love ", "night\n"];
    let corpus: String = (0..4000)
        .map(|i| words[(i * 7 + i / 3) % words.len()])
        .collect();
    std::fs::write(&text, corpus).unwrap();
    let cfg = dir.join("egg.toml");
    std::fs::write(
        &cfg,
        format!(
            "generations = 4\n[model]\nkind = \"egg_gru\"\nd_model = 16\nn_layers = 1\nchunk_members = 8\n[task]\nname = \"text\"\ndata = {:?}\neval_bytes = 1024\neval_streams = 2\n[es]\npopulation = 32\nrank = 1\nshaping = \"pair_sign\"\n[run]\neval_every = 2\n",
            text.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let (ok, stdout, err) = eggroll(&["train", cfg.to_str().unwrap(), "--out", o]);
    assert!(ok, "{err}");
    assert!(stdout.contains("eval_bits_per_byte"), "{stdout}");
    let (ok, stdout, err) = eggroll(&["generate", o, "--prompt", "the ", "--bytes", "20"]);
    assert!(ok, "{err}");
    assert!(stdout.starts_with("the "), "{stdout}");
    // `eval` reads the EGG checkpoint like any other and gives the run's last evaluation.
    let (ok, stdout, err) = eggroll(&["eval", o, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let last: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(out.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(v["generation"], 4);
    assert_eq!(v["eval_bits_per_byte"], last["eval_bits_per_byte"]);
    // `--stop-after` holds for EGG runs too.
    let (ok, _, err) = eggroll(&[
        "train",
        cfg.to_str().unwrap(),
        "--out",
        dir.join("stopped").to_str().unwrap(),
        "--stop-after",
        "2",
    ]);
    assert!(ok, "{err}");
    let lines = std::fs::read_to_string(dir.join("stopped").join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2);
    // A config in the old flat form is refused with the sections to write instead.
    let old = dir.join("old.toml");
    std::fs::write(&old, "workload = \"egg\"\nd_model = 16\n").unwrap();
    fails_with(&["train", old.to_str().unwrap()], "kind = \"egg_gru\"");
    fails_with(&["train", cfg.to_str().unwrap(), "--out", o], "--resume");
    fails_with(
        &[
            "train",
            cfg.to_str().unwrap(),
            "--out",
            o,
            "--set",
            "model.d_model=0",
        ],
        "model.d_model",
    );
    // The same run with the matrix products on a GPU backend gives the same figures (skipped
    // without an adapter unless EGGROLL_REQUIRE_GPU is set).
    #[cfg(feature = "wgpu")]
    if common::wgpu_or_skip(eggroll_shaders::Wgpu::new()).is_some() {
        let gpu_out = dir.join("run-wgpu");
        let g = gpu_out.to_str().unwrap();
        let args = [
            "train",
            cfg.to_str().unwrap(),
            "--out",
            g,
            "--backend",
            "wgpu",
            "--set",
            "task.eval_bytes=128",
        ];
        let (ok, stdout, err) = eggroll(&args);
        assert!(ok, "{err}");
        // The banner names the backend that runs the matrix products (wgpu and its adapter),
        // not the CPU default.
        assert!(stdout.contains("| backend wgpu "), "{stdout}");
        let cpu_out = dir.join("run-cpu");
        let mut cpu_args = args;
        cpu_args[3] = cpu_out.to_str().unwrap();
        cpu_args[5] = "cpu";
        let (ok, cpu_stdout, err) = eggroll(&cpu_args);
        assert!(ok, "{err}");
        assert!(cpu_stdout.contains("| backend cpu |"), "{cpu_stdout}");
        let figures = |d: &std::path::Path| -> Vec<String> {
            std::fs::read_to_string(d.join("metrics.jsonl"))
                .unwrap()
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    format!(
                        "{} {} {:?}",
                        v["fitness_mean"], v["weights_changed"], v["eval_bits_per_byte"]
                    )
                })
                .collect()
        };
        assert_eq!(figures(&gpu_out), figures(&cpu_out));
    }
}

#[test]
fn bench_rl_preset_takes_the_jax_reference_shape() {
    let (ok, out, err) = eggroll(&[
        "bench",
        "rl",
        "--preset",
        "jax-ref",
        "-n",
        "4",
        "--generations",
        "1",
        "--json",
    ]);
    assert!(ok, "bench rl --preset jax-ref failed:\n{err}");
    let rep: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(rep["layers"], 5, "{out}");
    assert_eq!(rep["hidden"], 64, "{out}");
    assert_eq!(rep["rank"], 1, "{out}");
    assert_eq!(rep["population"], 4, "{out}");
    // The CPU time per generation is a number, or null where /proc is missing.
    assert!(
        rep["cpu_seconds_per_generation"].is_number()
            || (rep["cpu_seconds_per_generation"].is_null()
                && rep.get("cpu_seconds_per_generation").is_some()),
        "{out}"
    );
    fails_with(
        &["bench", "rl", "--preset", "jax-ref", "--hidden", "8"],
        "cannot be used with",
    );
    fails_with(&["bench", "rl", "-n", "3"], "-n must be even");
}
