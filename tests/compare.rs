//! `eggroll compare` end to end on the digits task under an evaluation budget (deterministic:
//! no test depends on the clock), the loop's wall-clock budget `run.max_seconds`, GRPO beside
//! ES on a tiny Llama, and ES beside the gradient methods on a from-scratch byte-level model.

#![allow(clippy::unwrap_used)]

mod common;
use common::Scratch;
use eggroll::compare::{run_compare, spec::CompareSpec};
use eggroll::train::{train, TrainOptions};
use eggroll::RunConfig;
use eggroll_core::cpu::Cpu;

fn spec(dir: &std::path::Path) -> CompareSpec {
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits.toml");
    let text = format!(
        r#"
[compare]
base = "{}"
budget_evaluations = 640     # 10 generations of N = 64
set = {{ generations = 1000, "es.population" = 64, "task.batch" = 16, "run.eval_every" = 5 }}

[[method]]
name = "eggroll-r1"
set = {{ "es.rank" = 1 }}

[[method]]
name = "open_es"
set = {{ "es.strategy" = "open_es" }}
"#,
        base.display()
    );
    let path = dir.join("cmp.toml");
    std::fs::write(&path, text).unwrap();
    CompareSpec::load(&path).unwrap()
}

/// PNG signature, then the IHDR chunk's width and height.
fn png_size(path: &std::path::Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

#[test]
fn compares_methods_under_one_budget_and_reports_them() {
    let dir = Scratch::new("test", "compare");
    let s = spec(&dir);
    let out = dir.join("out");
    let mut lines = Vec::new();
    let (results, written) =
        run_compare(&Cpu::new(), &s, &out, &mut |l| lines.push(l.to_string())).unwrap();
    assert_eq!(results.len(), 2);
    for r in &results {
        // The evaluation budget became 10 generations of 64 members.
        assert_eq!((r.generations, r.evaluations), (10, 640), "{}", r.name);
        assert!(r.initial.is_some() && r.last.is_some());
        assert!(r.dir.join("initial.safetensors").exists());
        // Every parameter of the MLP is trained; ES moves (nearly) all of them.
        assert_eq!(r.update.trainable, 64 * 64 + 64 + 10 * 64 + 10);
        assert!(r.update.changed > r.update.trainable / 2, "{:?}", r.update);
        assert_eq!(r.update.matrices.len(), 2);
    }
    // 10 rank-1 generations of 32 pairs sum to a full-rank change of the 10 × 64 head.
    let head = &results[0]
        .update
        .matrices
        .iter()
        .find(|m| m.shape == (10, 64))
        .unwrap();
    assert_eq!(head.rank, Some(10), "{head:?}");
    let md = std::fs::read_to_string(&written.report).unwrap();
    assert!(
        md.contains("| eggroll-r1 |") && md.contains("| open_es |"),
        "{md}"
    );
    assert!(md.contains("Winner on the final eval_accuracy"), "{md}");
    assert_eq!(written.plots.len(), 2);
    for p in &written.plots {
        assert_eq!(png_size(p), (900, 560));
    }
    // A second comparison into the same directory is refused, naming the method's directory.
    let e = run_compare(&Cpu::new(), &s, &out, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("eggroll-r1") && e.contains("already holds"),
        "{e}"
    );
}

#[test]
fn a_wall_clock_budget_stops_the_loop_with_an_evaluation() {
    let dir = Scratch::new("test", "max-seconds");
    // Any generation takes longer than a nanosecond: the run stops after its first.
    let cfg = RunConfig::from_toml(
        "",
        "test",
        &[
            "generations=50".into(),
            "es.population=16".into(),
            "run.eval_every=25".into(),
            "run.max_seconds=1e-9".into(),
        ],
    )
    .unwrap();
    let opts = TrainOptions {
        out_dir: dir.to_path_buf(),
        resume: false,
        stop_after: None,
    };
    let s = train(&Cpu::new(), &cfg, &opts, &mut |_| {}).unwrap();
    assert_eq!(s.generation, 1);
    assert!(s.out_of_time && !s.stopped_early);
    assert!(
        s.eval.iter().any(|(k, _)| *k == "eval_accuracy"),
        "{:?}",
        s.eval
    );
    let bad = RunConfig::from_toml("", "test", &["run.max_seconds=-1".into()]).unwrap();
    let opts = TrainOptions {
        out_dir: dir.join("bad"),
        ..opts
    };
    let e = train(&Cpu::new(), &bad, &opts, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("run.max_seconds"), "{e}");
}

#[test]
fn grpo_and_es_finetune_one_llama_under_one_evaluation_budget() {
    use eggroll_llm::llama::tiny::{tiny_gguf, TinySpec};
    let dir = Scratch::new("test", "compare-grpo");
    let model = dir.join("tiny.gguf");
    std::fs::write(&model, tiny_gguf(&TinySpec::default()).to_bytes().unwrap()).unwrap();
    let base = dir.join("base.toml");
    std::fs::write(
        &base,
        format!(
            "seed = 1\ngenerations = 100\n\
             [model]\nkind = \"llama\"\npath = {:?}\ntrain = [\"q\", \"v\", \"down\"]\n\
             [task]\nname = \"reasoning\"\nproblem = {{ kind = \"arith\", level = \"plain\" }}\n\
             prompts = 2\nmax_new_tokens = 4\neval_problems = 4\n\
             [es]\npopulation = 8\nrank = 1\nsigma = 0.05\n\
             [optimizer]\nname = \"sgd\"\n[lr]\nvalue = 0.5\n[run]\neval_every = 1\n",
            model.display()
        ),
    )
    .unwrap();
    let text = r#"
[compare]
base = "base.toml"
budget_evaluations = 16

[[method]]
name = "eggroll"

[[method]]
name = "grpo-lora"
kind = "grpo"
grpo = { group_size = 4, prompts = 2, lora_rank = 2, lr = 1e-3 }

[[method]]
name = "grpo-full"
kind = "grpo"
grpo = { group_size = 4, prompts = 2, lora_rank = 0, lr = 1e-4 }
"#;
    std::fs::write(dir.join("cmp.toml"), text).unwrap();
    let spec = CompareSpec::load(&dir.join("cmp.toml")).unwrap();
    let out = dir.join("out");
    let (results, written) = run_compare(&Cpu::new(), &spec, &out, &mut |_| {}).unwrap();
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["eggroll", "grpo-lora", "grpo-full"]);
    for r in &results {
        // 16 evaluations: 2 generations of 8 members, or 2 steps of 2 prompts × 4 samples.
        assert_eq!((r.generations, r.evaluations), (2, 16), "{}", r.name);
        assert!(r.initial.is_some() && r.last.is_some(), "{}", r.name);
        // The q, v and down projections of both blocks: 6 matrices compared.
        assert_eq!(r.update.matrices.len(), 6, "{}", r.name);
        let lines = std::fs::read_to_string(r.dir.join("metrics.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), 2, "{}", r.name);
        assert!(lines.contains("\"evaluations\""), "{}", r.name);
    }
    // LoRA r = 2 trains the adapters only; their merged change has rank at most 2.
    let lora = &results[1].update;
    assert!(lora.trainable < results[2].update.trainable);
    assert!(
        lora.matrices.iter().all(|m| m.rank.is_some_and(|k| k <= 2)),
        "{lora:?}"
    );
    let md = std::fs::read_to_string(&written.report).unwrap();
    assert!(
        md.contains("| grpo-lora |") && md.contains("| grpo-full |"),
        "{md}"
    );
}

#[test]
fn es_and_the_gradient_methods_train_one_byte_level_model_under_one_budget() {
    let dir = Scratch::new("test", "compare-bytelm");
    // A learnable text: sentences drawn in a fixed pseudo-random order.
    let sentences = [
        "to be or not to be, that is the question. ",
        "all the world's a stage. ",
        "the quality of mercy is not strained. ",
        "now is the winter of our discontent. ",
    ];
    let mut text = String::new();
    let mut state = 1u32;
    while text.len() < 20_000 {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        text.push_str(sentences[(state >> 16) as usize % sentences.len()]);
    }
    std::fs::write(dir.join("text.txt"), &text).unwrap();
    std::fs::write(
        dir.join("base.toml"),
        format!(
            "seed = 3\ngenerations = 1000\n\
             [model]\nkind = \"byte_llama\"\nn_layers = 1\nd_model = 16\nn_heads = 2\nffn_dim = 32\n\
             [task]\nname = \"text\"\ndata = {:?}\nwindow = 16\nval_fraction = 0.1\n\
             eval_bytes = 512\neval_streams = 1\n\
             [es]\npopulation = 16\nrank = 2\nsigma = 0.05\nshaping = \"pair_difference\"\n\
             [lr]\nvalue = 0.02\n[run]\neval_every = 2\n",
            dir.join("text.txt").display()
        ),
    )
    .unwrap();
    let text = r#"
[compare]
base = "base.toml"
budget_evaluations = 64

[[method]]
name = "eggroll"

[[method]]
name = "adam"
kind = "gradient"
gradient = { method = "adam", lr = 1e-2, batch = 8 }

[[method]]
name = "lora"
kind = "gradient"
gradient = { method = "lora", rank = 2, alpha = 4, lr = 1e-2, batch = 8 }

[[method]]
name = "relora"
kind = "gradient"
gradient = { method = "relora", rank = 2, alpha = 4, lr = 1e-2, batch = 8, restart_every = 3, optimizer_prune = 0.9 }

[[method]]
name = "plora"
kind = "gradient"
gradient = { method = "plora", rank = 2, alpha = 4, lr = 1e-2, batch = 8, stage_steps = 3 }
"#;
    std::fs::write(dir.join("cmp.toml"), text).unwrap();
    let spec = CompareSpec::load(&dir.join("cmp.toml")).unwrap();
    let mut lines = Vec::new();
    let (results, written) = run_compare(&Cpu::new(), &spec, &dir.join("out"), &mut |l| {
        lines.push(l.to_string())
    })
    .unwrap();
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["eggroll", "adam", "lora", "relora", "plora"]);
    // The projections of the one block: 2·16·16 + 2·16·16 attention, 3·16·32 feed-forward.
    let projections = 4 * 16 * 16 + 3 * 16 * 32;
    for r in &results {
        // 64 evaluations: 4 generations of 16 members, or 8 steps of 8 sequences.
        let steps = if r.name == "eggroll" { 4 } else { 8 };
        assert_eq!((r.generations, r.evaluations), (steps, 64), "{}", r.name);
        assert!(r.initial.is_some() && r.last.is_some(), "{}", r.name);
        assert!(r.dir.join("initial.safetensors").exists(), "{}", r.name);
        assert_eq!(r.update.matrices.len(), 7, "{}", r.name);
        let log = std::fs::read_to_string(r.dir.join("metrics.jsonl")).unwrap();
        assert_eq!(log.lines().count() as u64, steps, "{}", r.name);
        assert!(
            log.contains("\"evaluations\"") && log.contains("\"eval_bits_per_byte\""),
            "{}",
            r.name
        );
    }
    let rank = |r: &eggroll::compare::MethodResult| {
        r.update
            .matrices
            .iter()
            .map(|m| m.rank.unwrap())
            .max()
            .unwrap()
    };
    let (es, adam, lora, relora, plora) = (
        &results[0],
        &results[1],
        &results[2],
        &results[3],
        &results[4],
    );
    // ES and Adam move every projection at full rank; Adam learns within 8 steps.
    for r in [es, adam] {
        assert_eq!(r.update.trainable, projections as u64, "{}", r.name);
        assert!(r.update.changed > r.update.trainable / 2, "{:?}", r.update);
        assert!(rank(r) > 2, "{}: {:?}", r.name, r.update);
    }
    assert!(adam.last.unwrap() < adam.initial.unwrap(), "{adam:?}");
    // Plain LoRA (r = 2) leaves a change of rank ≤ 2; merging every 3 steps (2 merges in 8
    // steps) sums three rank-2 changes.
    assert!(lora.update.trainable < adam.update.trainable);
    assert!(rank(lora) <= 2, "{:?}", lora.update);
    for r in [relora, plora] {
        assert!(rank(r) > 2 && rank(r) <= 6, "{}: {:?}", r.name, r.update);
    }
    assert!(
        lines.iter().any(|l| l.contains("lora: trainable")),
        "{lines:?}"
    );
    let md = std::fs::read_to_string(&written.report).unwrap();
    for n in names {
        assert!(md.contains(&format!("| {n} |")), "{md}");
    }
    assert!(md.contains("eval_bits_per_byte"), "{md}");
}
