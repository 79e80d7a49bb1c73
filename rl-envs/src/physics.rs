//! The `Physics` trait: what one environment kind must provide to be batched.
//!
//! A batch keeps its state in blocks of [`LANES`] environments. Inside a block, component `k`
//! of every lane's state sits in `block[k * LANES .. (k + 1) * LANES]` (struct of arrays), so
//! a physics step is a set of loops over plain f64 slices that the compiler can vectorise.
//! [`crate::Batched`] does everything else: action checks, episode counters, time limits,
//! auto-reset, threading.

use eggroll_core::vec_env::Space;

use crate::rng::ResetRng;

/// Environments per block: the unit of work handed to one thread.
pub const LANES: usize = 256;

/// Largest state width a [`Physics`] may declare.
pub const MAX_STATE_DIM: usize = 8;

/// The dynamics of one environment kind, written over blocks of [`LANES`] environments.
pub trait Physics: Send + Sync + 'static {
    /// Registered name (gymnasium's id).
    const NAME: &'static str;
    /// Width of the physical state (at most [`MAX_STATE_DIM`]).
    const STATE_DIM: usize;
    /// Width of an observation.
    const OBS_DIM: usize;
    /// gymnasium's `max_episode_steps` (the `TimeLimit` truncation).
    const MAX_EPISODE_STEPS: u32;
    /// Distinguishes this kind's reset streams from other kinds' with the same seed.
    const RESET_SALT: u32;

    /// The action space.
    fn action_space() -> Space;

    /// The observation space.
    fn observation_space() -> Space;

    /// Draw an initial state into `state` (`STATE_DIM` values).
    fn reset(rng: &mut ResetRng, state: &mut [f64]);

    /// Advance lanes `0..n` of `block` by one step. `actions` holds `n × action_dim` checked
    /// actions (finite; discrete ones valid indices); `elapsed[l]` is the number of steps lane
    /// `l` has taken in its episode before this one. Writes `rewards[..n]`, `terminated[..n]`.
    fn step_block(
        block: &mut [f64],
        n: usize,
        actions: &[f32],
        elapsed: &[u32],
        rewards: &mut [f32],
        terminated: &mut [bool],
    );

    /// Observation of one state (`STATE_DIM` values) into `obs` (`OBS_DIM` values).
    fn observe(state: &[f64], obs: &mut [f32]);

    /// Observations of lanes `0..n` of `block` into `obs` (`n × OBS_DIM`, row-major).
    fn observe_block(block: &[f64], n: usize, obs: &mut [f32]) {
        let mut s = [0.0; MAX_STATE_DIM];
        for (lane, row) in obs.chunks_exact_mut(Self::OBS_DIM).take(n).enumerate() {
            gather(block, lane, &mut s[..Self::STATE_DIM]);
            Self::observe(&s[..Self::STATE_DIM], row);
        }
    }
}

/// Copy lane `lane`'s state out of a block.
#[inline]
pub fn gather(block: &[f64], lane: usize, out: &mut [f64]) {
    for (k, v) in out.iter_mut().enumerate() {
        *v = block[k * LANES + lane];
    }
}

/// Write lane `lane`'s state into a block.
#[inline]
pub fn scatter(block: &mut [f64], lane: usize, state: &[f64]) {
    for (k, v) in state.iter().enumerate() {
        block[k * LANES + lane] = *v;
    }
}

/// Split a block into its first `D` component slices (each [`LANES`] long).
#[inline]
pub fn components<const D: usize>(block: &mut [f64]) -> [&mut [f64]; D] {
    let mut rest = block;
    std::array::from_fn(|_| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(LANES);
        rest = tail;
        head
    })
}
