//! Throughput of every registered environment: steps per second on one thread and on all.

use std::time::Instant;

use eggroll_core::noise::StreamKey;
use eggroll_core::vec_env::{Space, VecEnv};
use eggroll_core::{CoreError, Result};
use serde::Serialize;

use crate::registry::{env_names, make};

/// Number of distinct pre-drawn action batches cycled through during a benchmark.
const ACTION_SETS: usize = 8;

/// Throughput of one environment kind.
#[derive(Clone, Debug, Serialize)]
pub struct EnvBenchResult {
    /// Registered name.
    pub name: String,
    /// Environments per batch.
    pub batch: usize,
    /// Timed batch steps per measurement.
    pub steps: usize,
    /// Measurements on each thread count (the figures are the best and the median of them).
    pub repeats: usize,
    /// Environment steps actually taken in each measurement, counted as they are stepped
    /// (`batch × steps` when every batch step stepped the whole batch).
    pub env_steps: u64,
    /// Threads of the "all threads" measurement.
    pub threads: usize,
    /// Environment steps per second (batch × steps / seconds) on one thread, best measurement.
    pub steps_per_s_single: f64,
    /// The same, median measurement.
    pub steps_per_s_single_median: f64,
    /// Environment steps per second on `threads` threads, best measurement.
    pub steps_per_s_all: f64,
    /// The same, median measurement.
    pub steps_per_s_all_median: f64,
}

/// Best and median of `repeats ≥ 1` timings of `steps` batch steps: steps per second, and the
/// environment steps each timing took.
fn best_and_median(
    env: &mut dyn VecEnv,
    actions: &[Vec<f32>],
    steps: usize,
    repeats: usize,
) -> Result<(f64, f64, u64)> {
    let mut rates = Vec::with_capacity(repeats);
    let mut stepped = 0;
    for _ in 0..repeats.max(1) {
        let (seconds, took) = time_steps(env, actions, steps)?;
        stepped = took;
        rates.push(took as f64 / seconds.max(1e-12));
    }
    rates.sort_by(f64::total_cmp);
    Ok((
        rates[rates.len() - 1],
        rates[(rates.len() - 1) / 2],
        stepped,
    ))
}

/// Uniform random actions for one batch: valid indices, or values inside the box.
fn random_actions(space: &Space, num_envs: usize, set: usize) -> Vec<f32> {
    let key = StreamKey::new(0xbe9c, 17, set as u32, 0);
    let unit = |j: usize| (key.bits(j as u32) >> 8) as f32 / (1u32 << 24) as f32;
    match space {
        Space::Discrete { n } => (0..num_envs)
            .map(|j| ((unit(j) * *n as f32) as usize).min(n - 1) as f32)
            .collect(),
        Space::Continuous { low, high } => (0..num_envs * low.len())
            .map(|j| {
                let k = j % low.len();
                low[k] + (high[k] - low[k]) * unit(j)
            })
            .collect(),
    }
}

/// Seconds taken by `steps` batch steps of `env` (after a short warm-up), and the environment
/// steps they took (the environments of every timed batch step, counted as stepped).
fn time_steps(env: &mut dyn VecEnv, actions: &[Vec<f32>], steps: usize) -> Result<(f64, u64)> {
    let n = env.num_envs();
    let (mut rew, mut term, mut trunc) = (vec![0.0; n], vec![false; n], vec![false; n]);
    for a in actions {
        env.step(a, &mut rew, &mut term, &mut trunc)?;
    }
    let mut stepped = 0u64;
    let start = Instant::now();
    for t in 0..steps {
        env.step(&actions[t % actions.len()], &mut rew, &mut term, &mut trunc)?;
        stepped += env.num_envs() as u64;
    }
    Ok((start.elapsed().as_secs_f64(), stepped))
}

/// Benchmark the registered environments named in `only` (every one when it is empty) at
/// `batch` environments, `repeats` timings of `steps` batch steps on a one-thread rayon pool
/// and as many on `threads` threads (default: rayon's current thread count), with uniform
/// random actions and auto-reset on. An unknown name is an error listing the registered ones.
pub fn bench_envs(
    batch: usize,
    steps: usize,
    repeats: usize,
    threads: Option<usize>,
    only: &[String],
) -> Result<Vec<EnvBenchResult>> {
    if let Some(unknown) = only.iter().find(|n| !env_names().contains(&n.as_str())) {
        return Err(CoreError::invalid(
            "bench envs --env",
            format!(
                "{unknown:?} is not registered (known: {})",
                env_names().join(", ")
            ),
        ));
    }
    let threads = threads.unwrap_or_else(rayon::current_num_threads).max(1);
    let pool = |t: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| CoreError::invalid("bench thread pool", e.to_string()))
    };
    let (one, all) = (pool(1)?, pool(threads)?);
    let mut results = Vec::new();
    let names = env_names()
        .into_iter()
        .filter(|n| only.is_empty() || only.iter().any(|o| o == n));
    for name in names {
        let mut env = make(name, batch)?;
        let space = env.action_space();
        let actions: Vec<Vec<f32>> = (0..ACTION_SETS)
            .map(|s| random_actions(&space, batch, s))
            .collect();
        env.reset(1);
        let (single, single_median, stepped_single) =
            one.install(|| best_and_median(env.as_mut(), &actions, steps, repeats))?;
        env.reset(2);
        let (multi, multi_median, stepped_all) =
            all.install(|| best_and_median(env.as_mut(), &actions, steps, repeats))?;
        if stepped_single != stepped_all {
            return Err(CoreError::invalid(
                format!("bench {name}"),
                format!("stepped {stepped_single} environments on one thread but {stepped_all} on {threads}"),
            ));
        }
        results.push(EnvBenchResult {
            name: name.to_string(),
            batch,
            steps,
            repeats: repeats.max(1),
            env_steps: stepped_single,
            threads,
            steps_per_s_single: single,
            steps_per_s_single_median: single_median,
            steps_per_s_all: multi,
            steps_per_s_all_median: multi_median,
        });
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_actions_are_valid() {
        for name in env_names() {
            let mut env = make(name, 50).unwrap();
            let a = random_actions(&env.action_space(), 50, 3);
            let (mut r, mut t, mut u) = (vec![0.0; 50], vec![false; 50], vec![false; 50]);
            env.step(&a, &mut r, &mut t, &mut u).unwrap();
        }
    }

    #[test]
    fn bench_reports_every_env_with_the_steps_it_took() {
        let (batch, steps) = (9, 3);
        let res = bench_envs(batch, steps, 3, Some(2), &[]).unwrap();
        let names: Vec<&str> = res.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, env_names());
        for r in &res {
            assert_eq!(
                (r.batch, r.steps, r.repeats, r.threads),
                (batch, steps, 3, 2),
                "{}",
                r.name
            );
            // Counted while stepping: a bench that stepped fewer environments or batch steps
            // than it reports would differ here.
            assert_eq!(r.env_steps, (batch * steps) as u64, "{}", r.name);
            assert!(
                r.steps_per_s_single.is_finite() && r.steps_per_s_all.is_finite(),
                "{}",
                r.name
            );
            assert!(
                r.steps_per_s_single >= r.steps_per_s_single_median,
                "{}",
                r.name
            );
            assert!(r.steps_per_s_all >= r.steps_per_s_all_median, "{}", r.name);
        }
    }

    #[test]
    fn bench_takes_only_the_named_envs_and_refuses_unknown_names() {
        let one = vec!["CartPole-v1".to_string()];
        let res = bench_envs(4, 2, 1, Some(1), &one).unwrap();
        assert_eq!(res.len(), 1);
        assert_eq!(res[0].name, "CartPole-v1");
        let err = bench_envs(4, 2, 1, Some(1), &["CartPol".to_string()]).unwrap_err();
        assert!(err.to_string().contains("CartPol"), "{err}");
    }

    #[test]
    fn counted_steps_follow_the_batch_actually_stepped() {
        let mut env = make(env_names()[0], 5).unwrap();
        let actions = vec![random_actions(&env.action_space(), 5, 0)];
        let (_, stepped) = time_steps(env.as_mut(), &actions, 4).unwrap();
        assert_eq!(stepped, 20);
        let (_, stepped) = time_steps(env.as_mut(), &actions, 0).unwrap();
        assert_eq!(stepped, 0);
    }
}
