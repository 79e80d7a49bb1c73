//! MountainCar-v0 (gymnasium 1.4.0 `MountainCarEnv`, 200-step limit).
//!
//! Pure f64 dynamics in gymnasium's order. Reward -1 per step; the episode terminates when the
//! car reaches position 0.5 with non-negative velocity. Resets draw the position uniformly
//! from `[-0.6, -0.4)` with zero velocity.

use eggroll_core::vec_env::Space;

use crate::npmath::np_clip;
use crate::physics::{components, Physics};
use crate::rng::ResetRng;

pub(super) const MIN_POSITION: f64 = -1.2;
pub(super) const MAX_POSITION: f64 = 0.6;
pub(super) const MAX_SPEED: f64 = 0.07;
const GOAL_POSITION: f64 = 0.5;
const GOAL_VELOCITY: f64 = 0.0;
const FORCE: f64 = 0.001;
const GRAVITY: f64 = 0.0025;

/// MountainCar-v0: drive an underpowered car (actions 0, 1, 2 = push left, none, right) up a
/// hill. State and observation `[position, velocity]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MountainCar;

impl Physics for MountainCar {
    const NAME: &'static str = "MountainCar-v0";
    const STATE_DIM: usize = 2;
    const OBS_DIM: usize = 2;
    const MAX_EPISODE_STEPS: u32 = 200;
    const RESET_SALT: u32 = 0xC0_0004;

    fn action_space() -> Space {
        Space::Discrete { n: 3 }
    }

    fn observation_space() -> Space {
        car_observation_space()
    }

    fn reset(rng: &mut ResetRng, state: &mut [f64]) {
        reset_car(rng, state);
    }

    fn step_block(
        block: &mut [f64],
        n: usize,
        actions: &[f32],
        _elapsed: &[u32],
        rewards: &mut [f32],
        terminated: &mut [bool],
    ) {
        let [pos, vel] = components::<2>(block);
        for l in 0..n {
            let push = (f64::from(actions[l]) - 1.0) * FORCE;
            let mut velocity = vel[l] + (push + (3.0 * pos[l]).cos() * (-GRAVITY));
            velocity = np_clip(velocity, -MAX_SPEED, MAX_SPEED);
            let position = np_clip(pos[l] + velocity, MIN_POSITION, MAX_POSITION);
            if position == MIN_POSITION && velocity < 0.0 {
                velocity = 0.0;
            }
            pos[l] = position;
            vel[l] = velocity;
            terminated[l] = position >= GOAL_POSITION && velocity >= GOAL_VELOCITY;
            rewards[l] = -1.0;
        }
    }

    fn observe(state: &[f64], obs: &mut [f32]) {
        obs[0] = state[0] as f32;
        obs[1] = state[1] as f32;
    }
}

/// Position and velocity bounds, shared by both mountain-car environments.
pub(super) fn car_observation_space() -> Space {
    Space::Continuous {
        low: vec![MIN_POSITION as f32, -MAX_SPEED as f32],
        high: vec![MAX_POSITION as f32, MAX_SPEED as f32],
    }
}

/// Both mountain cars start at rest at a position uniform in [−0.6, −0.4).
pub(super) fn reset_car(rng: &mut ResetRng, state: &mut [f64]) {
    state[0] = rng.uniform(-0.6, -0.4);
    state[1] = 0.0;
}
