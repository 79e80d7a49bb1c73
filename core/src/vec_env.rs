//! The `VecEnv` trait: a batch of environments stepped together over struct-of-arrays buffers.

use crate::error::Result;

/// An observation or action space, described the way a policy head needs it.
#[derive(Clone, Debug, PartialEq)]
pub enum Space {
    /// `n` discrete choices `0..n`; a batch stores one f32 index per environment.
    Discrete {
        /// Number of choices.
        n: usize,
    },
    /// A box of f32 vectors with per-component bounds (`±inf` where unbounded).
    Continuous {
        /// Lower bound of each component.
        low: Vec<f32>,
        /// Upper bound of each component.
        high: Vec<f32>,
    },
}

impl Space {
    /// The box `[-high, high]`.
    pub fn symmetric(high: &[f32]) -> Self {
        Space::Continuous {
            low: high.iter().map(|h| -h).collect(),
            high: high.to_vec(),
        }
    }

    /// Width of one element of this space in a batch buffer (1 for discrete spaces).
    pub fn dim(&self) -> usize {
        match self {
            Space::Discrete { .. } => 1,
            Space::Continuous { low, .. } => low.len(),
        }
    }
}

/// A batch of `num_envs` environments of one kind, stepped with one call.
///
/// Observations are `num_envs × obs_dim` row-major f32; actions are `num_envs × action_dim`
/// (a discrete action is its index stored as f32). `step` auto-resets finished environments:
/// after a step that ends an episode, the observation buffer already holds the next episode's
/// first observation, while `terminated`/`truncated` report how the old one ended and
/// [`VecEnv::final_observations`] holds the old episode's last observation.
pub trait VecEnv: Send {
    /// Registered name of the environment kind (e.g. `CartPole-v1`).
    fn name(&self) -> &str;

    /// Number of environments in the batch.
    fn num_envs(&self) -> usize;

    /// Observation width.
    fn obs_dim(&self) -> usize;

    /// Action width (1 for discrete spaces).
    fn action_dim(&self) -> usize;

    /// The observation space (always [`Space::Continuous`] for the built-in environments).
    fn observation_space(&self) -> Space;

    /// The action space of every environment in the batch.
    fn action_space(&self) -> Space;

    /// Episode step limit after which `truncated` is raised (gymnasium's `TimeLimit`).
    fn max_episode_steps(&self) -> usize;

    /// Reset every environment; env `i` uses seed `seed + i`.
    fn reset(&mut self, seed: u64);

    /// Current observations.
    fn observations(&self) -> &[f32];

    /// Last observation of the episode that ended at the latest step, row by row. Only rows
    /// whose `terminated` or `truncated` flag was raised by that step are meaningful.
    fn final_observations(&self) -> &[f32];

    /// Step every environment with `actions`, writing rewards and end flags.
    fn step(
        &mut self,
        actions: &[f32],
        rewards: &mut [f32],
        terminated: &mut [bool],
        truncated: &mut [bool],
    ) -> Result<()>;

    /// Width of the physical state vector of one environment.
    fn state_dim(&self) -> usize;

    /// Physical state of env `i` (for rendering and tests); `None` if `i` is out of range.
    fn state(&self, i: usize) -> Option<Vec<f64>>;

    /// Overwrite the physical state of env `i` and start a fresh episode from it (elapsed
    /// steps 0); its observation row is recomputed.
    fn set_state(&mut self, i: usize, state: &[f64]) -> Result<()>;
}
