//! ES finetuning of a Llama-family model through the one training loop, on tiny random models
//! the tests write as GGUF files: the run trains only the chosen projections, checkpoints
//! hold just those plus the base model's sha256, resume equals a straight run, thread counts
//! do not matter, and configs or checkpoints that do not fit are refused by name.
#![allow(clippy::unwrap_used)]

mod common;

use common::Scratch;
use eggroll::models::{evaluate_checkpoint, load_checkpoint};
use eggroll::train::{latest_checkpoint, train, TrainOptions, TrainSummary};
use eggroll::RunConfig;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::cpu::Cpu;
use eggroll_llm::llama::tiny::{tiny_gguf, TinySpec};
use std::path::{Path, PathBuf};

/// A tiny random model written to `dir` (weights from `seed`).
fn tiny_model(dir: &Path, seed: u64) -> PathBuf {
    let path = dir.join(format!("tiny-{seed}.gguf"));
    let spec = TinySpec {
        seed,
        ..TinySpec::default()
    };
    std::fs::write(&path, tiny_gguf(&spec).to_bytes().unwrap()).unwrap();
    path
}

/// A tiny finetuning config on `model`: 8 members answering 2 plain sums each, 4 new tokens.
fn config(model: &Path, generations: u64, extra: &[&str]) -> RunConfig {
    let text = format!(
        "seed = 1\ngenerations = {generations}\n\
         [model]\nkind = \"llama\"\npath = {:?}\ntrain = [\"q\", \"v\", \"down\"]\n\
         [task]\nname = \"reasoning\"\nproblem = {{ kind = \"arith\", level = \"plain\" }}\n\
         prompts = 2\nlayout = \"pair\"\nmax_new_tokens = 4\neval_problems = 4\n\
         [es]\npopulation = 8\nrank = 1\nsigma = 0.05\nshaping = \"centered_ranks\"\n\
         [optimizer]\nname = \"sgd\"\n[lr]\nvalue = 0.5\n\
         [run]\neval_every = 2\ncheckpoint_every = 2\n",
        model.display()
    );
    let overrides: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    RunConfig::from_toml(&text, "tiny llama", &overrides).unwrap()
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

#[test]
fn a_run_trains_only_the_chosen_projections_and_resumes_exactly() {
    let dir = Scratch::new("llama", "resume");
    let model = tiny_model(&dir, 1);
    let cfg = config(&model, 5, &[]);
    let straight = dir.join("straight");
    let s = run(&cfg, &straight, false, None).unwrap();
    assert_eq!(s.generation, 5);
    let names: Vec<&str> = s.eval.iter().map(|(k, _)| *k).collect();
    assert!(
        names.contains(&"eval_accuracy") && names.contains(&"eval_format_only"),
        "{names:?}"
    );
    let ck = Checkpoint::load(&latest_checkpoint(&straight)).unwrap();
    // Two blocks × (q, v, down), and nothing else (SGD keeps no state).
    let mut tensors: Vec<&str> = ck.tensors.keys().map(String::as_str).collect();
    tensors.sort();
    assert_eq!(
        tensors,
        [
            "params.blk.0.attn_q.weight",
            "params.blk.0.attn_v.weight",
            "params.blk.0.ffn_down.weight",
            "params.blk.1.attn_q.weight",
            "params.blk.1.attn_v.weight",
            "params.blk.1.ffn_down.weight",
        ]
    );
    let sha = eggroll_llm::finetune::base::sha256_file(&model).unwrap();
    assert_eq!(ck.metadata.get("base_model_sha256"), Some(&sha));
    // A random tiny model never answers a sum, so its fitness is flat and SGD leaves the
    // weights alone; AdamW's decay moves them, and its state must resume too. Stopped after
    // 2 generations, resumed: the same weights and optimiser state as the straight run.
    let adam = config(
        &model,
        5,
        &[
            "optimizer.name=\"adam\"",
            "optimizer.weight_decay=0.1",
            "lr.value=0.01",
        ],
    );
    let (straight, split) = (dir.join("adam-straight"), dir.join("adam-split"));
    run(&adam, &straight, false, None).unwrap();
    run(&adam, &split, false, Some(2)).unwrap();
    run(&adam, &split, true, None).unwrap();
    let a = Checkpoint::load(&latest_checkpoint(&straight)).unwrap();
    let b = Checkpoint::load(&latest_checkpoint(&split)).unwrap();
    assert_eq!(a.tensors, b.tensors);
    assert!(a.tensors.contains_key("optim.1.blk.1.ffn_down.weight"));
    let base = eggroll_llm::llama::Llama::load(&model).unwrap();
    let q0 = &a.tensors["params.blk.0.attn_q.weight"];
    assert_ne!(
        &q0.1,
        base.weights.proj(0, eggroll_llm::llama::Proj::Q).data
    );
    // `eval` of the checkpoint gives the loop's last evaluation.
    let path = latest_checkpoint(&straight);
    let (c, loaded) = load_checkpoint(&path).unwrap();
    assert_eq!(evaluate_checkpoint(&c, &loaded, &path).unwrap(), s.eval);
}

#[test]
fn training_is_identical_with_one_and_two_threads() {
    let dir = Scratch::new("llama", "threads");
    let model = tiny_model(&dir, 2);
    let cfg = config(&model, 2, &[]);
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
fn a_checkpoint_of_another_base_model_is_refused() {
    let dir = Scratch::new("llama", "base");
    let (a, b) = (tiny_model(&dir, 3), tiny_model(&dir, 4));
    let out = dir.join("run");
    run(&config(&a, 2, &[]), &out, false, None).unwrap();
    let path = latest_checkpoint(&out);
    let (_, ck) = load_checkpoint(&path).unwrap();
    let err = evaluate_checkpoint(&config(&b, 2, &[]), &ck, &path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("base_model_sha256") && err.contains("another base model"),
        "{err}"
    );
}

#[test]
fn configs_that_do_not_fit_are_refused_by_name() {
    let dir = Scratch::new("llama", "config");
    let model = tiny_model(&dir, 5);
    let out = dir.join("run");
    let err = |extra: &[&str]| {
        run(&config(&model, 1, extra), &out, false, None)
            .unwrap_err()
            .to_string()
    };
    let e = err(&["model.train=[\"q\", \"wq\"]"]);
    assert!(e.contains("model.train") && e.contains("wq"), "{e}");
    let e = err(&["model.layers=[0, 7]"]);
    assert!(e.contains("model.layers") && e.contains("block 7"), "{e}");
    let e = err(&["model.path=\"missing.gguf\""]);
    assert!(
        e.contains("model.path") && e.contains("missing.gguf"),
        "{e}"
    );
    let text = "[model]\nkind = \"llama\"\npath = \"x.gguf\"\n[task]\nname = \"reasoning\"\nproblem = { kind = \"arith\", level = \"plain\" }\nreward = \"tiny_zero\"\n";
    let e = RunConfig::from_toml(text, "t", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("exact_match"), "{e}");
    let text = "[model]\nkind = \"llama\"\npath = \"x.gguf\"\n[task]\nname = \"digits\"\n";
    let e = RunConfig::from_toml(text, "t", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("reasoning"), "{e}");
}

/// SmolLM2 when `scripts/fetch_smollm2.sh` has fetched it (the test command does).
fn smollm2(test: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if p.is_file() {
        return Some(p);
    }
    assert!(
        std::env::var("EGGROLL_REQUIRE_MODEL").map_or(true, |v| v != "1"),
        "{test}: {} is missing and EGGROLL_REQUIRE_MODEL=1: run scripts/fetch_smollm2.sh",
        p.display()
    );
    println!("{test}: skipped: run scripts/fetch_smollm2.sh");
    None
}

#[test]
fn smollm2_members_disagree_and_the_update_moves_only_the_trained_block() {
    let Some(model) = smollm2("smollm2 finetuning step") else {
        return;
    };
    let dir = Scratch::new("llama", "smollm2");
    let cfg = config(
        &model,
        1,
        &[
            "model.layers=[29]",
            "model.train=[\"down\"]",
            "task.max_new_tokens=8",
            "task.prompts=3",
            "es.sigma=0.1",
            "run.eval_every=100",
        ],
    );
    let out = dir.join("run");
    run(&cfg, &out, false, None).unwrap();
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(out.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    // SmolLM2 solves some plain sums and not others, and members differ.
    let (mean, max) = (
        line["fitness_mean"].as_f64().unwrap(),
        line["fitness_max"].as_f64().unwrap(),
    );
    assert!(max > 0.0 && mean < max, "{line}");
    assert!(
        line["pairs_tied"].as_f64().unwrap() < 1.0,
        "no pair disagreed: {line}"
    );
    assert!(line["train_correct"].as_f64().unwrap() > 0.0, "{line}");
    let ck = Checkpoint::load(&latest_checkpoint(&out)).unwrap();
    assert_eq!(ck.tensors.len(), 1);
    let base = eggroll_llm::llama::Llama::load(&model).unwrap();
    let got = &ck.tensors["params.blk.29.ffn_down.weight"].1;
    let want = base.weights.proj(29, eggroll_llm::llama::Proj::Down).data;
    let moved = got.iter().zip(want).filter(|(a, b)| a != b).count();
    assert!(
        moved > got.len() / 2,
        "only {moved} of {} weights moved",
        got.len()
    );
}

/// Run the built binary; (success, stdout, stderr).
fn eggroll(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eggroll"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn generate_and_export_from_a_model_file_and_from_a_finetuned_run() {
    let dir = Scratch::new("llama", "cli");
    let model = tiny_model(&dir, 6);
    let m = model.to_str().unwrap();
    let json = |source: &str, extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "generate",
            source,
            "--prompt",
            "ab 12",
            "--max-tokens",
            "6",
            "--json",
        ];
        args.extend(extra);
        let (ok, out, err) = eggroll(&args);
        assert!(ok, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let g = json(m, &[]);
    assert_eq!(g["ids"].as_array().unwrap().len(), 6, "{g}");
    assert_eq!(g["finish"], "length");
    // The digits are split one per token; no prefix space is added.
    let prompt: Vec<u64> = g["prompt_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(prompt.len(), 4, "{g}"); // "ab" (a merge), " ", "1", "2"
                                        // Sampling with a seed repeats itself, and differs from greedy somewhere across seeds.
    let hot = ["--temperature", "1.5", "--seed", "3"];
    assert_eq!(json(m, &hot), json(m, &hot));
    let sampled: std::collections::BTreeSet<String> = (0..4)
        .map(|s| json(m, &["--temperature", "1.5", "--seed", &s.to_string()])["ids"].to_string())
        .collect();
    assert!(sampled.len() > 1, "four seeds gave one continuation");
    // A finetuned run: export it, and the Hugging Face directory generates what the run does.
    let out = dir.join("run");
    run(
        &config(
            &model,
            2,
            &[
                "optimizer.name=\"adam\"",
                "optimizer.weight_decay=5",
                "lr.value=0.1",
            ],
        ),
        &out,
        false,
        None,
    )
    .unwrap();
    let o = out.to_str().unwrap();
    let from_run = json(o, &hot);
    assert_ne!(
        from_run["ids"],
        json(m, &hot)["ids"],
        "the finetuned weights changed nothing"
    );
    let hf = dir.join("hf");
    let (ok, _, err) = eggroll(&["export", o, "--out", hf.to_str().unwrap()]);
    assert!(ok, "{err}");
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(hf.join(f).is_file(), "{f} missing");
    }
    assert_eq!(json(hf.to_str().unwrap(), &hot)["ids"], from_run["ids"]);
    // Exporting over a non-empty directory is refused.
    let (ok, _, err) = eggroll(&["export", o, "--out", hf.to_str().unwrap()]);
    assert!(!ok && err.contains("not empty"), "{err}");
    let (ok, _, err) = eggroll(&[
        "generate",
        dir.join("nope.gguf").to_str().unwrap(),
        "--prompt",
        "a",
    ]);
    assert!(!ok && err.contains("nope.gguf"), "{err}");
}
