//! Reinforcement learning as an ES task: every member plays episodes of a batched
//! environment, and its fitness is its mean episode return.
//!
//! At every step the policy forward of a batch of members × episodes is ONE batched low-rank
//! forward (shared GEMM + rank-r corrections). On the CPU the batch is a block of members that
//! one core plays from reset to fitness, so it stays in cache (`blocks`); on a device backend it
//! is the whole population. Antithetic partners play from the same initial states
//! (common random numbers). Episodes of different lengths are handled by compaction (default:
//! finished rows leave the batch and the forward runs on the rest, each row tagged with its
//! member) or by masking (every row stays; finished rows are ignored).

mod blocks;
mod obs_norm;
mod policy;
mod rollout;

pub use obs_norm::ObsStats;

pub use policy::Policy;
pub use rollout::{play_episode, EpisodeTrace};

use super::Task;
use crate::error::{Error, Result};
use eggroll_core::population::Population;
use eggroll_core::vec_env::Space;
use eggroll_core::{Backend, Model};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How rollouts deal with members whose episodes end at different steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Batching {
    /// Drop finished rows from the batch (the forward runs on active rows only).
    #[default]
    Compact,
    /// Keep every row until the longest episode ends; ignore finished rows.
    Mask,
    /// Step every row for the environment's full episode limit (fixed-length rollouts, as
    /// JAX implementations scan them); only each row's first episode counts.
    Full,
}

/// Settings of an RL task (the `[task]` section with `name = "rl"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlConfig {
    /// Registered environment name (e.g. `CartPole-v1`).
    pub env: String,
    /// Episodes per member per generation (fitness = mean return).
    #[serde(default = "one")]
    pub episodes: usize,
    /// Episodes of the unperturbed policy per evaluation.
    #[serde(default = "ten")]
    pub eval_episodes: usize,
    /// Compaction or masking of finished rows.
    #[serde(default)]
    pub batching: Batching,
    /// Normalise observations by running statistics (as OpenAI-ES does), clipped to ±5.
    #[serde(default)]
    pub obs_norm: bool,
}

fn one() -> usize {
    1
}
fn ten() -> usize {
    10
}

/// An RL task on one environment kind.
pub struct RlTask {
    cfg: RlConfig,
    seed: u64,
    obs_dim: usize,
    policy: Policy,
    stats: std::sync::RwLock<ObsStats>,
}

impl RlTask {
    /// Build the task, checking the environment exists.
    pub fn new(cfg: RlConfig, seed: u64) -> Result<Self> {
        let probe = eggroll_rl_envs::make(&cfg.env, 1).map_err(|e| Error::Config {
            origin: "task.env".into(),
            why: e.to_string(),
        })?;
        let policy = Policy::for_space(probe.action_space());
        Ok(RlTask {
            obs_dim: probe.obs_dim(),
            stats: std::sync::RwLock::new(ObsStats::new(probe.obs_dim())),
            cfg,
            seed,
            policy,
        })
    }

    /// The task's settings.
    pub fn config(&self) -> &RlConfig {
        &self.cfg
    }

    /// The policy head (discrete argmax or squashed continuous actions).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The observation normaliser in force (identity when `obs_norm` is off).
    pub fn normaliser(&self) -> Option<ObsStats> {
        if !self.cfg.obs_norm {
            return None;
        }
        self.stats.read().ok().map(|s| s.clone())
    }

    /// Mean and standard deviation of the unperturbed policy's return over `episodes`
    /// episodes with fixed evaluation seeds.
    pub fn evaluate_returns<B: Backend, M: Model<B> + ?Sized>(
        &self,
        backend: &B,
        model: &M,
        episodes: usize,
    ) -> Result<(f64, f64)> {
        let returns = rollout::evaluate(self, backend, model, episodes)?;
        let n = returns.len().max(1) as f64;
        let mean = returns.iter().sum::<f64>() / n;
        let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n;
        Ok((mean, var.sqrt()))
    }
}

impl<B: Backend, M: Model<B> + Sync> Task<B, M> for RlTask {
    type Error = Error;

    fn input_dim(&self) -> usize {
        self.obs_dim
    }

    fn output_dim(&self) -> usize {
        self.policy.outputs()
    }

    fn fitness(
        &self,
        backend: &B,
        model: &M,
        pop: &Population,
        members: Range<u32>,
        generation: u64,
    ) -> Result<Vec<f32>> {
        // On the CPU: one rayon task per fixed block of members, each a complete rollout on
        // one core (`blocks`). A device backend: the whole population in one batch per step.
        // A member's return does not depend on which members share its batch, so both give
        // the same result for any thread count.
        if backend.computes_on_host() {
            blocks::block_returns(self, backend, model, pop, members, generation)
        } else {
            rollout::population_returns(self, backend, model, pop, members, generation)
        }
    }

    fn rows_per_member(&self) -> usize {
        self.cfg.episodes
    }

    fn metric_names(&self) -> Vec<&'static str> {
        vec!["eval_return", "eval_return_std"]
    }

    fn evaluate(&self, backend: &B, model: &M) -> Result<Vec<(&'static str, f64)>> {
        let (mean, std) = self.evaluate_returns(backend, model, self.cfg.eval_episodes)?;
        Ok(vec![("eval_return", mean), ("eval_return_std", std)])
    }

    /// With `obs_norm`, update the statistics from one unperturbed episode per generation,
    /// played identically on every process (so ranks and threads never disagree).
    fn after_generation(&self, backend: &B, model: &M, generation: u64) -> Result<()> {
        if !self.cfg.obs_norm {
            return Ok(());
        }
        let seed = rollout::generation_seed(self.seed, 0x0b5, generation);
        let trace = rollout::play_episode(self, backend, model, seed)?;
        if let Ok(mut stats) = self.stats.write() {
            for obs in &trace.observations {
                stats.push(obs);
            }
        }
        Ok(())
    }

    fn state_json(&self) -> Option<String> {
        let stats = self.normaliser()?;
        serde_json::to_string(&stats).ok()
    }

    fn load_state_json(&self, json: &str) -> Result<()> {
        let loaded: ObsStats = serde_json::from_str(json).map_err(|e| Error::Config {
            origin: "checkpoint task_state".into(),
            why: e.to_string(),
        })?;
        if loaded.dim() != self.obs_dim {
            return Err(Error::Config {
                origin: "checkpoint task_state".into(),
                why: format!(
                    "observation statistics of width {}, expected {}",
                    loaded.dim(),
                    self.obs_dim
                ),
            });
        }
        if let Ok(mut stats) = self.stats.write() {
            *stats = loaded;
        }
        Ok(())
    }
}

/// Validate RL settings, naming the key.
pub fn validate(cfg: &RlConfig) -> std::result::Result<(), String> {
    if !eggroll_rl_envs::env_names().contains(&cfg.env.as_str()) {
        return Err(format!(
            "task.env: unknown environment `{}`; registered: {}",
            cfg.env,
            eggroll_rl_envs::env_names().join(", ")
        ));
    }
    if cfg.episodes == 0 || cfg.eval_episodes == 0 {
        return Err("task.episodes and task.eval_episodes must be at least 1".into());
    }
    Ok(())
}

/// Whether a space is discrete (for messages).
pub fn is_discrete(space: &Space) -> bool {
    matches!(space, Space::Discrete { .. })
}
