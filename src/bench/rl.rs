//! `eggroll bench rl`: ES on CartPole-v1 — generations/s with fixed 500-step episodes (the
//! JAX reference's setting), env-steps/s, and wall time until the example config is solved.
//! [`RlShape::JAX_REF`] is the reference's own shape (`--preset jax-ref`).

use crate::config::RunConfig;
use crate::error::Result;
use crate::models::model_config;
use crate::tasks::rl::{Batching, RlTask};
use crate::tasks::{Task, TaskConfig};
use crate::train::{train, TrainOptions};
use eggroll_core::cpu::Cpu;
use eggroll_core::mlp::Mlp;
use eggroll_populations::{make_strategy, StrategyState};
use serde::Serialize;
use std::time::Instant;

/// The example config that `bench rl` solves.
pub const CARTPOLE_EXAMPLE: &str = include_str!("../../examples/cartpole.toml");

/// The policy and population a throughput phase measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RlShape {
    /// Population size.
    pub population: u32,
    /// Hidden width.
    pub hidden: usize,
    /// Linear layers of the policy.
    pub layers: usize,
    /// Rank of the perturbations.
    pub rank: u32,
}

impl RlShape {
    /// The JAX reference's CartPole shape (`../shared/peers/rerun_reference.sh rl`: its
    /// `ActorCriticMLP` with `n_layers = 3` is 5 linear layers of width 64, rank 1, N = 256).
    pub const JAX_REF: RlShape = RlShape {
        population: 256,
        hidden: 64,
        layers: 5,
        rank: 1,
    };
}

/// Figures of `eggroll bench rl`.
#[derive(Clone, Debug, Serialize)]
pub struct RlReport {
    /// Population size of the throughput phase.
    pub population: u32,
    /// Hidden width.
    pub hidden: usize,
    /// Linear layers of the policy.
    pub layers: usize,
    /// Rank of the perturbations.
    pub rank: u32,
    /// Generations timed.
    pub generations: u64,
    /// Generations per second with every episode run to 500 steps.
    pub generations_per_s: f64,
    /// Environment steps per second in that phase (N × 500 per generation).
    pub env_steps_per_s: f64,
    /// CPU seconds (all threads, user + system) per generation in that phase, where the
    /// system reports it (`/proc/self/stat`): unlike wall time, it does not grow when other
    /// jobs share the cores.
    pub cpu_seconds_per_generation: Option<f64>,
    /// Seconds from building the example task until an evaluation reached 475.
    pub seconds_to_solve: f64,
    /// Generations the example needed.
    pub generations_to_solve: u64,
    /// Final evaluation return of the example run.
    pub solved_return: f64,
    /// Seconds per generation of the untrained example policy (episodes of uneven length)
    /// with compaction (finished rows leave the batch).
    pub compact_seconds: f64,
    /// The same with masking (every row stays until the longest episode ends).
    pub mask_seconds: f64,
}

/// Run the benchmark; `generations` of the throughput phase.
pub fn bench_rl(shape: RlShape, generations: u64) -> Result<RlReport> {
    let RlShape {
        population,
        hidden,
        layers,
        rank,
    } = shape;
    let overrides = vec![
        format!("es.population={population}"),
        format!("es.rank={rank}"),
        format!(
            "model.hidden=[{}]",
            vec![hidden.to_string(); layers.saturating_sub(1)].join(",")
        ),
    ];
    let mut cfg = RunConfig::from_toml(CARTPOLE_EXAMPLE, "examples/cartpole.toml", &overrides)?;
    if let TaskConfig::Rl(rl) = &mut cfg.task {
        rl.batching = Batching::Full;
    }
    let TaskConfig::Rl(rl_cfg) = cfg.task.clone() else {
        return Err(crate::Error::Config {
            origin: "examples/cartpole.toml".into(),
            why: "is not an RL config".into(),
        });
    };
    let task = RlTask::new(rl_cfg, cfg.seed)?;
    // Refuse a shape beyond this machine before the policy is allocated, naming the flag.
    let [(params, _), (with_rollouts, _)] = crate::memory::estimate(
        &cfg,
        Task::<Cpu, Mlp<Cpu>>::input_dim(&task),
        Task::<Cpu, Mlp<Cpu>>::output_dim(&task),
        Task::<Cpu, Mlp<Cpu>>::rows_per_member(&task),
    );
    crate::memory::check_flags(
        &[
            (
                params,
                format!("--hidden {hidden} (with --layers {layers})"),
            ),
            (
                with_rollouts,
                format!("-n {population} (with --hidden {hidden})"),
            ),
        ],
        crate::memory::available_bytes(),
    )?;
    let cpu = Cpu::new();
    let model = Mlp::init(&cpu, model_config::<Cpu, _>(&cfg, &task)?, cfg.seed)?;
    let strategy = make_strategy(&cfg.es, generations)?;
    let mut state = StrategyState {
        seed: cfg.seed,
        generation: 0,
        total_generations: generations,
    };
    // Warm-up generation, then the timed ones (the model is not updated: throughput only).
    let pop = strategy.ask(&state)?;
    task.fitness(&cpu, &model, &pop, 0..pop.size, 0)?;
    let (t, cpu0) = (Instant::now(), process_cpu_seconds());
    for g in 0..generations {
        state.generation = g;
        let pop = strategy.ask(&state)?;
        let f = task.fitness(&cpu, &model, &pop, 0..pop.size, g)?;
        strategy.tell(&mut state, &pop, &f)?;
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu_per_generation = process_cpu_seconds()
        .zip(cpu0)
        .map(|(end, start)| (end - start) / generations as f64);
    let gps = generations as f64 / secs;

    // Compaction vs masking on the untrained example policy, whose episodes end at very
    // different steps (the case the choice matters for); interleaved, best of three.
    let mut batching_seconds = [f64::INFINITY; 2];
    for _ in 0..3 {
        for (slot, batching) in [Batching::Compact, Batching::Mask].into_iter().enumerate() {
            let mut c = RunConfig::from_toml(CARTPOLE_EXAMPLE, "examples/cartpole.toml", &[])?;
            if let TaskConfig::Rl(rl) = &mut c.task {
                rl.batching = batching;
                let task = RlTask::new(rl.clone(), c.seed)?;
                let model = Mlp::init(&cpu, model_config::<Cpu, _>(&c, &task)?, c.seed)?;
                let strategy = make_strategy(&c.es, 1)?;
                let st = StrategyState {
                    seed: c.seed,
                    generation: 0,
                    total_generations: 1,
                };
                let pop = strategy.ask(&st)?;
                let t = Instant::now();
                task.fitness(&cpu, &model, &pop, 0..pop.size, 0)?;
                batching_seconds[slot] = batching_seconds[slot].min(t.elapsed().as_secs_f64());
            }
        }
    }

    let solve_cfg = RunConfig::from_toml(CARTPOLE_EXAMPLE, "examples/cartpole.toml", &[])?;
    let dir = std::env::temp_dir().join(format!("eggroll-bench-rl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    let opts = TrainOptions {
        out_dir: dir.clone(),
        resume: false,
        stop_after: None,
    };
    let summary = train(&cpu, &solve_cfg, &opts, &mut |_| {})?;
    let seconds_to_solve = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    let solved_return = summary
        .eval
        .iter()
        .find(|(k, _)| *k == "eval_return")
        .map_or(f64::NAN, |(_, v)| *v);
    Ok(RlReport {
        population,
        hidden,
        layers,
        rank,
        generations,
        generations_per_s: gps,
        env_steps_per_s: gps * population as f64 * 500.0,
        cpu_seconds_per_generation: cpu_per_generation,
        seconds_to_solve,
        generations_to_solve: summary.generation,
        solved_return,
        compact_seconds: batching_seconds[0],
        mask_seconds: batching_seconds[1],
    })
}

/// User + system CPU seconds of this process so far (all threads), from `/proc/self/stat`;
/// `None` where that file is missing or unreadable. Clock ticks are taken as 1/100 s, the
/// value of every Linux build this runs on (`getconf CLK_TCK`).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3; utime and
    // stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_cpu_time_grows_with_work() {
        let Some(start) = process_cpu_seconds() else {
            eprintln!("skipped: no /proc/self/stat here");
            return;
        };
        // Work until the counter moves (a tick is 10 ms); bounded, so a counter that never
        // moves fails instead of hanging.
        let mut x = 1u64;
        let mut end = start;
        for _ in 0..100_000 {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            end = process_cpu_seconds().unwrap_or(start);
            if end > start {
                break;
            }
        }
        assert!(end > start, "{start} -> {end} after spinning");
    }
}
