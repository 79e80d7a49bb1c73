//! End-to-end training: learning, resume exactness, thread-count determinism, NaN policy.

#![allow(clippy::unwrap_used)]

mod common;
use common::Scratch;
use eggroll::config::NanPolicy;
use eggroll::dist::SingleProcess;
use eggroll::models::{model_config, FloatLearner};
use eggroll::tasks::{MlpTask, Task};
use eggroll::train::{latest_checkpoint, run_loop, train, TrainOptions, TrainSummary};
use eggroll::RunConfig;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::cpu::Cpu;
use eggroll_core::mlp::Mlp;
use eggroll_core::population::Population;
use std::ops::Range;
use std::path::Path;

fn tmp(name: &str) -> Scratch {
    Scratch::new("test", name)
}

fn small_config(extra: &[&str]) -> RunConfig {
    let mut ov: Vec<String> = [
        "generations=12",
        "es.population=64",
        "es.rank=2",
        "run.checkpoint_every=3",
        "run.eval_every=4",
        "task.batch=16",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ov.extend(extra.iter().map(|s| s.to_string()));
    RunConfig::from_toml("", "test", &ov).unwrap()
}

fn run(
    cfg: &RunConfig,
    dir: &Path,
    resume: bool,
    stop_after: Option<u64>,
) -> eggroll::train::TrainSummary {
    let opts = TrainOptions {
        out_dir: dir.to_path_buf(),
        resume,
        stop_after,
    };
    train(&Cpu::new(), cfg, &opts, &mut |_| {}).unwrap()
}

fn params(dir: &Path) -> Vec<(String, Vec<u32>)> {
    let ck = Checkpoint::load(&latest_checkpoint(dir)).unwrap();
    ck.tensors
        .iter()
        .map(|(k, (_, v))| (k.clone(), v.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

#[test]
fn digits_default_learns() {
    let cfg = RunConfig::from_toml(
        "",
        "test",
        &[
            "generations=60".into(),
            "es.population=128".into(),
            "run.eval_every=60".into(),
        ],
    )
    .unwrap();
    let dir = tmp("learns");
    let s = run(&cfg, &dir, false, None);
    let acc = |e: &[(&str, f64)]| e.iter().find(|(k, _)| *k == "eval_accuracy").unwrap().1;
    assert!(acc(&s.initial_eval) < 0.3, "{:?}", s.initial_eval);
    assert!(acc(&s.eval) > 0.75, "{:?}", s.eval);
    let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 60);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    for key in ["generation", "fitness_mean", "fitness_max", "seconds"] {
        assert!(first.get(key).is_some(), "metrics lack {key}");
    }
    assert!(dir.join("config.toml").exists());
}

#[test]
fn resume_equals_straight_run() {
    for opt in [
        &["optimizer.name=\"adam\""][..],
        &[
            "optimizer.name=\"sgd\"",
            "lr.schedule=\"cosine\"",
            "lr.end=0.001",
        ],
    ] {
        let cfg = small_config(opt);
        let straight = tmp("straight");
        run(&cfg, &straight, false, None);
        let split = tmp("split");
        let first = run(&cfg, &split, false, Some(7));
        assert_eq!(first.generation, 7);
        let second = run(&cfg, &split, true, None);
        assert_eq!(second.generation, 12);
        assert_eq!(params(&straight), params(&split));
        let count = |d: &Path| {
            std::fs::read_to_string(d.join("metrics.jsonl"))
                .unwrap()
                .lines()
                .count()
        };
        assert_eq!(count(&split), 12, "each generation logged once");
    }
}

#[test]
fn refuses_to_overwrite_or_resume_nothing() {
    let cfg = small_config(&["generations=2"]);
    let dir = tmp("overwrite");
    let opts = |resume| TrainOptions {
        out_dir: dir.to_path_buf(),
        resume,
        stop_after: None,
    };
    let err = train(&Cpu::new(), &cfg, &opts(true), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("no checkpoint to resume"), "{err}");
    train(&Cpu::new(), &cfg, &opts(false), &mut |_| {}).unwrap();
    let err = train(&Cpu::new(), &cfg, &opts(false), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("--resume"), "{err}");
    let other = small_config(&["generations=2", "es.sigma=0.07"]);
    let err = train(&Cpu::new(), &other, &opts(true), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("different config"), "{err}");
}

#[test]
fn same_parameters_with_one_or_two_threads() {
    let cfg = small_config(&["task.name=\"regression\"", "es.strategy=\"eggroll\""]);
    let mut results = Vec::new();
    for threads in [1, 2] {
        let dir = tmp(&format!("threads{threads}"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| run(&cfg, &dir, false, None));
        results.push(params(&dir));
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn open_es_trains_too() {
    let cfg = small_config(&["es.strategy=\"open_es\"", "generations=3"]);
    let dir = tmp("openes");
    assert_eq!(run(&cfg, &dir, false, None).generation, 3);
    // open_es must perturb with full-rank noise, not EGGROLL's low-rank factors …
    let strategy = eggroll_populations::make_strategy(&cfg.es, cfg.generations).unwrap();
    let state = eggroll_populations::StrategyState {
        seed: cfg.seed,
        generation: 0,
        total_generations: cfg.generations,
    };
    let pop = strategy.ask(&state).unwrap();
    assert_eq!(pop.kind, eggroll_core::NoiseKind::Full);
    // … and so train to other parameters than EGGROLL from the same seed.
    let low = small_config(&["generations=3"]);
    let low_dir = tmp("openes-vs-eggroll");
    run(&low, &low_dir, false, None);
    assert_ne!(params(&dir), params(&low_dir));
}

/// A task whose member 3 returns NaN in every generation.
struct NanTask(Box<MlpTask<Cpu>>);

impl Task<Cpu, Mlp<Cpu>> for NanTask {
    type Error = eggroll::Error;
    fn input_dim(&self) -> usize {
        self.0.input_dim()
    }
    fn output_dim(&self) -> usize {
        self.0.output_dim()
    }
    fn fitness(
        &self,
        b: &Cpu,
        m: &Mlp<Cpu>,
        p: &Population,
        members: Range<u32>,
        g: u64,
    ) -> eggroll::Result<Vec<f32>> {
        let mut f = self.0.fitness(b, m, p, members, g)?;
        f[3] = f32::NAN;
        Ok(f)
    }
    fn rows_per_member(&self) -> usize {
        self.0.rows_per_member()
    }
    fn metric_names(&self) -> Vec<&'static str> {
        self.0.metric_names()
    }
    fn evaluate(&self, b: &Cpu, m: &Mlp<Cpu>) -> eggroll::Result<Vec<(&'static str, f64)>> {
        self.0.evaluate(b, m)
    }
}

/// The custom task in the one loop, as a new model family or task would use it.
fn train_nan(cfg: &RunConfig, opts: &TrainOptions) -> eggroll::Result<TrainSummary> {
    let task = NanTask(cfg.task.build::<Cpu>(cfg.seed).unwrap());
    let cpu = Cpu::new();
    let model = Mlp::init(&cpu, model_config::<Cpu, _>(cfg, &task)?, cfg.seed)?;
    let mut learner = FloatLearner::new(&cpu, "mlp", model, Box::new(task), cfg)?;
    run_loop(&mut learner, cfg, opts, &SingleProcess, &mut |_| {})
}

#[test]
fn nan_fitness_policies() {
    let mut cfg = small_config(&["generations=4"]);
    let dir = tmp("nan");
    let opts = TrainOptions {
        out_dir: dir.to_path_buf(),
        resume: false,
        stop_after: None,
    };
    let err = train_nan(&cfg, &opts).unwrap_err().to_string();
    assert!(
        err.contains("member 3") && err.contains("generation 0"),
        "{err}"
    );
    assert!(
        !latest_checkpoint(&dir).exists(),
        "no checkpoint of a failed generation"
    );

    cfg.run.nan_policy = NanPolicy::Worst;
    let dir = tmp("nan-worst");
    let opts = TrainOptions {
        out_dir: dir.to_path_buf(),
        ..opts
    };
    let s = train_nan(&cfg, &opts).unwrap();
    assert_eq!(s.generation, 4);
    let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    assert!(lines.lines().all(|l| l.contains("\"nonfinite\":1")));
    let ck = Checkpoint::load(&latest_checkpoint(&dir)).unwrap();
    assert!(ck
        .tensors
        .values()
        .all(|(_, v)| v.iter().all(|x| x.is_finite())));
}
