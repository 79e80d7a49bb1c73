//! Every registered strategy through `eggroll train`: the search strategies resume exactly from
//! their checkpointed search state, the noise strategies (`eggroll`, `open_es`, `eggroll_sign`,
//! `eggroll_baseline`) from their checkpointed model; both give bit-identical runs for any thread
//! count and any split of the population over ranks, and are refused with a clear message
//! where they do not fit.

#![allow(clippy::unwrap_used)]

mod common;
use common::Scratch;
use eggroll::dist::SingleProcess;
use eggroll::models::FloatLearner;
use eggroll::models::VectorLearner;
use eggroll::train::{latest_checkpoint, run_loop, TrainOptions, TrainSummary};
use eggroll::RunConfig;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::cpu::Cpu;
use eggroll_core::learner::Learner;
use eggroll_populations::shard::member_shard;
use eggroll_populations::{make_relay, StrategyState};
use eggroll_populations::{make_strategy, noise_strategy_names, search_strategy_names};
use std::path::Path;

fn config(strategy: &str, extra: &[&str]) -> RunConfig {
    let mut ov: Vec<String> = [
        "generations=12",
        "task.name=\"benchmark\"",
        "task.problem=\"rastrigin\"",
        "task.dim=6",
        "model.kind=\"vector\"",
        "es.population=8",
        "es.sigma=0.5",
        "run.checkpoint_every=3",
        "run.eval_every=4",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ov.push(format!("es.strategy=\"{strategy}\""));
    ov.extend(extra.iter().map(|s| s.to_string()));
    RunConfig::from_toml("", "test", &ov).unwrap()
}

fn run(cfg: &RunConfig, dir: &Path, resume: bool, stop_after: Option<u64>) -> TrainSummary {
    let opts = TrainOptions {
        out_dir: dir.to_path_buf(),
        resume,
        stop_after,
    };
    run_loop(
        &mut VectorLearner::new(cfg).unwrap(),
        cfg,
        &opts,
        &SingleProcess,
        &mut |_| {},
    )
    .unwrap()
}

/// The checkpointed search state (exact JSON) and the logged fitness of every generation.
fn outcome(dir: &Path) -> (String, Vec<String>) {
    let ck = Checkpoint::load(&latest_checkpoint(dir)).unwrap();
    let fitness = std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{} {}", v["fitness_mean"], v["fitness_max"])
        })
        .collect();
    (ck.metadata["search_state"].clone(), fitness)
}

#[test]
fn every_search_strategy_resumes_exactly() {
    for name in search_strategy_names() {
        let cfg = config(name, &[]);
        let straight = Scratch::new("strategies", &format!("straight-{name}"));
        run(&cfg, &straight, false, None);
        let split = Scratch::new("strategies", &format!("split-{name}"));
        assert_eq!(run(&cfg, &split, false, Some(5)).generation, 5);
        assert_eq!(run(&cfg, &split, true, None).generation, 12);
        let (a, b) = (outcome(&straight), outcome(&split));
        assert_eq!(a, b, "{name}: the resumed run differs");
        assert!(a.0.contains("\"generation\":12"), "{name}: {}", a.0);
    }
}

#[test]
fn every_search_strategy_is_identical_for_any_thread_count() {
    for name in search_strategy_names() {
        let cfg = config(name, &[]);
        let runs: Vec<_> = [1, 3]
            .iter()
            .map(|&threads| {
                let dir = Scratch::new("strategies", &format!("threads{threads}-{name}"));
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| run(&cfg, &dir, false, None));
                outcome(&dir)
            })
            .collect();
        assert_eq!(runs[0], runs[1], "{name}");
    }
}

#[test]
fn every_search_strategy_scores_any_split_of_the_population_the_same() {
    for name in search_strategy_names() {
        let cfg = config(name, &[]);
        let relay = make_relay(&cfg.es, cfg.generations).unwrap();
        let mut learner = VectorLearner::new(&cfg).unwrap();
        let state = StrategyState {
            seed: cfg.seed,
            generation: 0,
            total_generations: cfg.generations,
        };
        let pop = relay.ask(&state).unwrap();
        let whole = learner.fitness(&pop, 0..pop.size, 0).unwrap();
        for ranks in [2u32, 3] {
            let joined: Vec<f32> = (0..ranks)
                .flat_map(|r| {
                    learner
                        .fitness(&pop, member_shard(&pop, ranks, r), 0)
                        .unwrap()
                })
                .collect();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&joined), bits(&whole), "{name}: {ranks} ranks");
        }
    }
}

/// A small MLP regression run for noise strategy `name` (groups of 4 for `eggroll_baseline`).
fn noise_config(name: &str) -> RunConfig {
    let mut ov: Vec<String> = [
        "generations=8",
        "task.name=\"regression\"",
        "task.batch=8",
        "es.population=16",
        "es.rank=2",
        "run.checkpoint_every=3",
        "run.eval_every=4",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ov.push(format!("es.strategy=\"{name}\""));
    if name == "eggroll_baseline" {
        ov.push("es.group_size=4".into());
    }
    RunConfig::from_toml("", "test", &ov).unwrap()
}

fn noise_run(cfg: &RunConfig, dir: &Path, resume: bool, stop_after: Option<u64>) -> TrainSummary {
    let opts = TrainOptions {
        out_dir: dir.to_path_buf(),
        resume,
        stop_after,
    };
    eggroll::train::train(&Cpu::new(), cfg, &opts, &mut |_| {}).unwrap()
}

/// Every tensor of the latest checkpoint, as bits.
fn tensor_bits(dir: &Path) -> Vec<(String, Vec<u32>)> {
    let ck = Checkpoint::load(&latest_checkpoint(dir)).unwrap();
    ck.tensors
        .iter()
        .map(|(k, (_, v))| (k.clone(), v.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

#[test]
fn every_noise_strategy_resumes_exactly() {
    assert!(noise_strategy_names().contains(&"eggroll_baseline"));
    for name in noise_strategy_names() {
        let cfg = noise_config(name);
        let straight = Scratch::new("strategies", &format!("noise-straight-{name}"));
        noise_run(&cfg, &straight, false, None);
        let split = Scratch::new("strategies", &format!("noise-split-{name}"));
        assert_eq!(noise_run(&cfg, &split, false, Some(5)).generation, 5);
        assert_eq!(noise_run(&cfg, &split, true, None).generation, 8);
        assert_eq!(
            tensor_bits(&straight),
            tensor_bits(&split),
            "{name}: the resumed run differs"
        );
    }
}

#[test]
fn every_noise_strategy_is_identical_for_any_thread_count() {
    for name in noise_strategy_names() {
        let cfg = noise_config(name);
        let runs: Vec<_> = [1, 3]
            .iter()
            .map(|&threads| {
                let dir = Scratch::new("strategies", &format!("noise-threads{threads}-{name}"));
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| noise_run(&cfg, &dir, false, None));
                tensor_bits(&dir)
            })
            .collect();
        assert_eq!(runs[0], runs[1], "{name}");
    }
}

#[test]
fn every_noise_strategy_scores_any_split_of_the_population_the_same() {
    let cpu = Cpu::new();
    for name in noise_strategy_names() {
        let cfg = noise_config(name);
        let strategy = make_strategy(&cfg.es, cfg.generations).unwrap();
        let mut learner = FloatLearner::mlp(&cpu, &cfg).unwrap();
        let state = StrategyState {
            seed: cfg.seed,
            generation: 0,
            total_generations: cfg.generations,
        };
        let pop = strategy.ask(&state).unwrap();
        let whole = learner.fitness(&pop, 0..pop.size, 0).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for ranks in [2u32, 3] {
            let joined: Vec<f32> = (0..ranks)
                .flat_map(|r| {
                    learner
                        .fitness(&pop, member_shard(&pop, ranks, r), 0)
                        .unwrap()
                })
                .collect();
            assert_eq!(bits(&joined), bits(&whole), "{name}: {ranks} ranks");
        }
        // eggroll_baseline's members 0 and 1 of every group are the same unperturbed model.
        for g in 0..pop.size as usize / 4 {
            let same = whole[4 * g] == whole[4 * g + 1];
            assert_eq!(
                same,
                name == "eggroll_baseline",
                "{name}: group {g}: {whole:?}"
            );
        }
    }
}

#[test]
fn the_example_reaches_its_precision() {
    let text = std::fs::read_to_string("examples/cma-es-rosenbrock.toml").unwrap();
    let cfg = RunConfig::from_toml(&text, "example", &[]).unwrap();
    let dir = Scratch::new("strategies", "example");
    let summary = run(&cfg, &dir, false, None);
    assert!(summary.stopped_early, "{:?}", summary.eval);
    assert!(summary.eval[0].1 <= 1e-8);
    // ≈ 10⁴ evaluations, as the literature reports for D = 10.
    assert!(summary.generation * 10 <= 10_000, "{}", summary.generation);
}

#[test]
fn mismatches_are_refused_naming_the_key() {
    let err = |ov: &[&str]| {
        let ov: Vec<String> = ov.iter().map(|s| s.to_string()).collect();
        RunConfig::from_toml("", "test", &ov)
            .err()
            .unwrap()
            .to_string()
    };
    // eggroll_baseline needs groups that hold its two baseline members and a pair.
    let e = err(&["es.strategy=\"eggroll_baseline\""]);
    assert!(e.contains("es.group_size") && e.contains("baseline"), "{e}");
    let e = err(&["es.strategy=\"cma_es\""]);
    assert!(e.contains("es.strategy") && e.contains("vector"), "{e}");
    let e = err(&[
        "task.name=\"benchmark\"",
        "task.problem=\"sphere\"",
        "model.kind=\"vector\"",
    ]);
    assert!(e.contains("es.strategy") && e.contains("eggroll"), "{e}");
    let e = err(&["task.name=\"benchmark\"", "task.problem=\"sphere\""]);
    assert!(e.contains("task.name") && e.contains("vector"), "{e}");
    let e = err(&["model.kind=\"vector\""]);
    assert!(e.contains("task.name") && e.contains("benchmark"), "{e}");
    let e = err(&[
        "task.name=\"benchmark\"",
        "task.problem=\"sphere\"",
        "task.dim=2000",
        "model.kind=\"vector\"",
        "es.strategy=\"cma_es\"",
    ]);
    assert!(e.contains("es.strategy") && e.contains("1000"), "{e}");
    let e = err(&[
        "task.name=\"benchmark\"",
        "task.problem=\"sphere\"",
        "task.dim=0",
        "model.kind=\"vector\"",
        "es.strategy=\"snes\"",
    ]);
    assert!(e.contains("task.dim"), "{e}");
}
