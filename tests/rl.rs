//! RL tasks: population rollouts, batching modes, sharding, learning CartPole.

#![allow(clippy::unwrap_used)]

use eggroll::models::model_config;
use eggroll::tasks::rl::{Batching, RlConfig, RlTask};
use eggroll::tasks::Task;
use eggroll::train::{train, TrainOptions};
use eggroll::RunConfig;
use eggroll_core::cpu::Cpu;
use eggroll_core::mlp::Mlp;
use eggroll_core::population::{NoiseKind, Population, PopulationParams};

fn setup(env: &str, batching: Batching) -> (RunConfig, RlTask, Mlp<Cpu>) {
    let text =
        format!("[task]\nname = \"rl\"\nenv = \"{env}\"\nepisodes = 2\n[model]\nhidden = [16]\n");
    let cfg = RunConfig::from_toml(&text, "test", &[]).unwrap();
    let rl = RlConfig {
        env: env.into(),
        episodes: 2,
        eval_episodes: 3,
        batching,
        obs_norm: false,
    };
    let task = RlTask::new(rl, 9).unwrap();
    let model = Mlp::init(&Cpu::new(), model_config::<Cpu, _>(&cfg, &task).unwrap(), 4).unwrap();
    (cfg, task, model)
}

fn pop() -> Population {
    Population::new(PopulationParams {
        seed: 5,
        epoch: 0,
        size: 12,
        sigma: 0.5,
        kind: NoiseKind::LowRank { rank: 2 },
        antithetic: true,
    })
    .unwrap()
}

#[test]
fn batching_modes_give_identical_returns() {
    for env in ["CartPole-v1", "Pendulum-v1", "MountainCarContinuous-v0"] {
        let results: Vec<Vec<f32>> = [Batching::Compact, Batching::Mask, Batching::Full]
            .into_iter()
            .map(|b| {
                let (_, task, model) = setup(env, b);
                task.fitness(&Cpu::new(), &model, &pop(), 0..12, 3).unwrap()
            })
            .collect();
        assert_eq!(results[0], results[1], "{env}: compact vs mask");
        assert_eq!(results[0], results[2], "{env}: compact vs full");
        assert!(
            results[0].iter().any(|&r| r != results[0][0]),
            "{env}: members differ"
        );
    }
}

#[test]
fn sharded_rollouts_equal_one_rollout() {
    let (_, task, model) = setup("CartPole-v1", Batching::Compact);
    let whole = task.fitness(&Cpu::new(), &model, &pop(), 0..12, 1).unwrap();
    let mut parts = task.fitness(&Cpu::new(), &model, &pop(), 0..5, 1).unwrap();
    parts.extend(task.fitness(&Cpu::new(), &model, &pop(), 5..12, 1).unwrap());
    assert_eq!(whole, parts);
}

#[test]
fn wide_policy_returns_do_not_depend_on_threads_or_shards() {
    // Width 64 takes the CPU's unpacked GEMM for batches of at most 128 rows and the blocked
    // one above, whose sums differ in the last bits: 96 members × 3 episodes must still give
    // every member the same return with one thread or two, and when scored in two uneven
    // shards (as MPI ranks would). Pendulum's reward is continuous in the action, so any bit
    // of difference in the policy's output shows in the returns.
    let text =
        "[task]\nname = \"rl\"\nenv = \"Pendulum-v1\"\nepisodes = 3\n[model]\nhidden = [64, 64]\n";
    let cfg = RunConfig::from_toml(text, "test", &[]).unwrap();
    let rl = RlConfig {
        env: "Pendulum-v1".into(),
        episodes: 3,
        eval_episodes: 1,
        batching: Batching::Full,
        obs_norm: false,
    };
    let task = RlTask::new(rl, 9).unwrap();
    let model = Mlp::init(&Cpu::new(), model_config::<Cpu, _>(&cfg, &task).unwrap(), 4).unwrap();
    let pop = Population::new(PopulationParams {
        seed: 5,
        epoch: 0,
        size: 96,
        sigma: 0.5,
        kind: NoiseKind::LowRank { rank: 1 },
        antithetic: true,
    })
    .unwrap();
    let with_threads = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| task.fitness(&Cpu::new(), &model, &pop, 0..96, 2).unwrap())
    };
    let one = with_threads(1);
    assert_eq!(one, with_threads(2), "one thread vs two");
    let mut shards = task.fitness(&Cpu::new(), &model, &pop, 0..34, 2).unwrap();
    shards.extend(task.fitness(&Cpu::new(), &model, &pop, 34..96, 2).unwrap());
    assert_eq!(one, shards, "whole vs two shards");
    assert!(one.iter().any(|&r| r != one[0]), "members differ");
}

#[test]
fn antithetic_partners_start_from_the_same_states() {
    // With σ so small that no weight changes, every member plays the same policy, so a
    // member's returns depend only on its episodes' initial states: partners (2k, 2k + 1) must
    // return the same, also when a shard boundary separates them, and pairs must differ.
    let (_, task, model) = setup("Pendulum-v1", Batching::Compact);
    let pop = Population::new(PopulationParams {
        sigma: 1e-30,
        ..*pop().params()
    })
    .unwrap();
    let mut returns = task.fitness(&Cpu::new(), &model, &pop, 0..5, 2).unwrap();
    returns.extend(task.fitness(&Cpu::new(), &model, &pop, 5..12, 2).unwrap());
    for k in 0..6 {
        assert_eq!(returns[2 * k], returns[2 * k + 1], "pair {k}: {returns:?}");
    }
    assert!(
        returns.iter().any(|&r| r != returns[0]),
        "pairs must play different states: {returns:?}"
    );
}

#[test]
fn fitness_changes_with_generation_seed_but_is_reproducible() {
    // The same population and model: only the generation (which picks the episodes'
    // initial states) varies, so any change in fitness comes from the episode seeds.
    let (_, task, model) = setup("CartPole-v1", Batching::Compact);
    let at = |g: u64| task.fitness(&Cpu::new(), &model, &pop(), 0..12, g).unwrap();
    let first = at(1);
    assert_eq!(first, at(1), "one generation must replay the same episodes");
    let others: Vec<Vec<f32>> = (2..6).map(at).collect();
    for (g, f) in (2..).zip(&others) {
        assert_ne!(
            &first, f,
            "generation {g} played the episodes of generation 1"
        );
    }
}

#[test]
fn evaluation_uses_fixed_seeds() {
    // `evaluate_returns` plays fixed evaluation seeds, so repeated calls agree exactly; its
    // episodes start from different states, so an untrained policy's returns spread.
    let (_, task, model) = setup("CartPole-v1", Batching::Compact);
    let (mean, std) = task.evaluate_returns(&Cpu::new(), &model, 5).unwrap();
    assert_eq!(
        (mean, std),
        task.evaluate_returns(&Cpu::new(), &model, 5).unwrap()
    );
    assert!(
        std > 0.0,
        "5 episodes from different states all returned {mean}"
    );
}

#[test]
fn cartpole_example_is_solved() {
    let text = include_str!("../examples/cartpole.toml");
    let cfg = RunConfig::from_toml(text, "examples/cartpole.toml", &[]).unwrap();
    let dir = std::env::temp_dir().join(format!("eggroll-rl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = TrainOptions {
        out_dir: dir.clone(),
        resume: false,
        stop_after: None,
    };
    let s = train(&Cpu::new(), &cfg, &opts, &mut |_| {}).unwrap();
    let ret = s.eval.iter().find(|(k, _)| *k == "eval_return").unwrap().1;
    assert!(ret >= 475.0, "eval return {ret}");
    assert!(s.stopped_early);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_environment_lists_the_registry() {
    let err = RunConfig::from_toml("[task]\nname = \"rl\"\nenv = \"Chess-v0\"\n", "c.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CartPole-v1") && err.contains("Chess-v0"),
        "{err}"
    );
}

#[test]
fn observation_normalisation_resumes_exactly() {
    let text = "[task]\nname = \"rl\"\nenv = \"Pendulum-v1\"\neval_episodes = 2\nobs_norm = true\n\
                [model]\nhidden = [8]\n[es]\npopulation = 16\n[run]\ncheckpoint_every = 2\neval_every = 2\n";
    let cfg = RunConfig::from_toml(text, "test", &["generations=4".into()]).unwrap();
    let run = |dir: &std::path::Path, resume: bool, stop: Option<u64>| {
        let opts = TrainOptions {
            out_dir: dir.to_path_buf(),
            resume,
            stop_after: stop,
        };
        train(&Cpu::new(), &cfg, &opts, &mut |_| {}).unwrap();
        eggroll_core::checkpoint::Checkpoint::load(&eggroll::train::latest_checkpoint(dir)).unwrap()
    };
    let base = std::env::temp_dir().join(format!("eggroll-obsnorm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let straight = run(&base.join("a"), false, None);
    run(&base.join("b"), false, Some(2));
    let resumed = run(&base.join("b"), true, None);
    assert_eq!(straight.tensors, resumed.tensors);
    let stats = straight.metadata.get("task_state").unwrap();
    assert_eq!(stats, resumed.metadata.get("task_state").unwrap());
    let parsed: eggroll::tasks::rl::ObsStats = serde_json::from_str(stats).unwrap();
    assert_eq!(parsed.dim(), 3);
    let _ = std::fs::remove_dir_all(&base);
}
