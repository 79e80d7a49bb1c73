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
    /// Environment steps actually taken in each measurement, counted as they are stepped
    /// (`batch × steps` when every batch step stepped the whole batch).
    pub env_steps: u64,
    /// Threads of the "all threads" measurement.
    pub threads: usize,
    /// Environment steps per second (batch × steps / seconds) on one thread.
    pub steps_per_s_single: f64,
    /// Environment steps per second on `threads` threads.
    pub steps_per_s_all: f64,
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

/// Benchmark every registered environment at `batch` environments for `steps` batch steps,
/// once on a one-thread rayon pool and once on `threads` threads (default: rayon's current
/// thread count), with uniform random actions and auto-reset on.
pub fn bench_envs(
    batch: usize,
    steps: usize,
    threads: Option<usize>,
) -> Result<Vec<EnvBenchResult>> {
    let threads = threads.unwrap_or_else(rayon::current_num_threads).max(1);
    let pool = |t: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| CoreError::invalid("bench thread pool", e.to_string()))
    };
    let (one, all) = (pool(1)?, pool(threads)?);
    let mut results = Vec::new();
    for name in env_names() {
        let mut env = make(name, batch)?;
        let space = env.action_space();
        let actions: Vec<Vec<f32>> = (0..ACTION_SETS)
            .map(|s| random_actions(&space, batch, s))
            .collect();
        env.reset(1);
        let (single, stepped_single) = one.install(|| time_steps(env.as_mut(), &actions, steps))?;
        env.reset(2);
        let (multi, stepped_all) = all.install(|| time_steps(env.as_mut(), &actions, steps))?;
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
            env_steps: stepped_single,
            threads,
            steps_per_s_single: stepped_single as f64 / single.max(1e-12),
            steps_per_s_all: stepped_all as f64 / multi.max(1e-12),
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
        let res = bench_envs(batch, steps, Some(2)).unwrap();
        let names: Vec<&str> = res.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, env_names());
        for r in &res {
            assert_eq!(
                (r.batch, r.steps, r.threads),
                (batch, steps, 2),
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
        }
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
