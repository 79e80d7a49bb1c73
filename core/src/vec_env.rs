//! The `VecEnv` trait: a batch of environments stepped together over struct-of-arrays buffers.

use crate::error::Result;

/// A batch of `num_envs` environments of one kind, stepped with one call.
///
/// Observations are `num_envs × obs_dim` row-major f32; actions are `num_envs × action_dim`
/// (a discrete action is its index stored as f32). `step` auto-resets finished environments:
/// after a step that ends an episode, the observation buffer already holds the next episode's
/// first observation, while `terminated`/`truncated` report how the old one ended.
pub trait VecEnv: Send {
    /// Number of environments in the batch.
    fn num_envs(&self) -> usize;

    /// Observation width.
    fn obs_dim(&self) -> usize;

    /// Action width (1 for discrete spaces).
    fn action_dim(&self) -> usize;

    /// Reset every environment; env `i` uses seed `seed + i`.
    fn reset(&mut self, seed: u64);

    /// Current observations.
    fn observations(&self) -> &[f32];

    /// Step every environment with `actions`, writing rewards and end flags.
    fn step(
        &mut self,
        actions: &[f32],
        rewards: &mut [f32],
        terminated: &mut [bool],
        truncated: &mut [bool],
    ) -> Result<()>;
}
