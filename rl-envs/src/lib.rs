//! eggroll-rl-envs: batched, gymnasium-exact classic-control environments.
//!
//! Every environment is a [`VecEnv`] (from `eggroll-core`): a batch of `num_envs` copies
//! stepped by one call over struct-of-arrays f64 state, with f32 observations, auto-reset,
//! `terminated` and `truncated` kept apart, and gymnasium's `TimeLimit` step limits.
//! Build one by name with [`make`]; [`env_names`] lists the registered ones.
//!
//! - **Dynamics are gymnasium 1.4.0's, operation for operation** (same constants, same
//!   evaluation order, the C library's `sin`/`cos`/`pow` as numpy calls them, numpy 2's
//!   f32/f64 promotion where gymnasium mixes them), so a step from the same state with the
//!   same action gives the same numbers; the golden tests replay recorded gymnasium
//!   trajectories to 1e-5. Bit-for-bit agreement assumes the same C library as the recording
//!   (glibc 2.36 on x86-64, whose `sin`/`cos`/`pow` numpy and Rust both call); another libm
//!   may differ in the last bit, which chaotic trajectories (Acrobot, an open-loop CartPole)
//!   amplify over hundreds of steps.
//! - **Resets are not numpy-identical**: initial states come from the same distributions as
//!   gymnasium's but are drawn from a counter-based stream ([`rng::ResetRng`]) keyed by
//!   (seed + env index, environment kind, episode index), so they are reproducible and
//!   independent of thread count, but differ from gymnasium's PCG64 draws for the same seed.
//! - **Actions**: a discrete action is its index stored as f32 and must be an integer in
//!   `0..n`; continuous actions must be finite and are clipped inside each environment the
//!   way gymnasium clips them (Pendulum clips the torque to ±2 for dynamics and cost;
//!   MountainCarContinuous clips the force to ±1 but penalises the raw action in its reward).
//!   A wrong-length buffer, an out-of-range discrete action or a NaN/infinite action is an
//!   error naming the env index; the batch is left untouched.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod batch;
pub mod bench;
pub mod envs;
pub mod libm_sincos;
pub mod npmath;
pub mod physics;
pub mod registry;
pub mod rng;
mod validate;

pub use batch::Batched;
pub use bench::{bench_envs, EnvBenchResult};
pub use eggroll_core::vec_env::{Space, VecEnv};
pub use physics::{Physics, LANES};
pub use registry::{env_names, make};
