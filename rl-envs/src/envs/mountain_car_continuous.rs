//! MountainCarContinuous-v0 (gymnasium 1.4.0 `Continuous_MountainCarEnv`, 999-step limit).
//!
//! gymnasium stores this environment's state as f32 after every step, and under numpy 2's
//! promotion rules part of the step runs in f32: the force `action * 0.0015` is an f32 product
//! when the action lies inside `[-1, 1]`, the state read back from the f32 array makes the
//! next step's arithmetic f32 (Python floats are cast to f32 first), and only the first step
//! after a reset (state still f64) runs in f64. This file reproduces those types step by step.
//! The force uses the action clipped to `[-1, 1]`, but the reward penalises the RAW action:
//! `reward = 100 * reached - 0.1 * action**2`, exactly as gymnasium computes it. Resets draw
//! the position uniformly from `[-0.6, -0.4)` with zero velocity.

use eggroll_core::vec_env::Space;

use crate::npmath::pow2;
use crate::physics::{components, Physics};
use crate::rng::ResetRng;

use super::mountain_car::{
    car_observation_space, reset_car, MAX_POSITION, MAX_SPEED, MIN_POSITION,
};

const MIN_ACTION: f32 = -1.0;
const MAX_ACTION: f32 = 1.0;
const GOAL_POSITION: f64 = 0.45;
const POWER: f64 = 0.0015;

/// `force * power - 0.0025 * cos(3 * position)` with gymnasium's types: `Ok(f32)` when the
/// action was inside the bounds (an f32 computation), `Err(f64)` when a bound replaced it.
fn acceleration(action: f32, cos_term: f64) -> Result<f32, f64> {
    if action < MIN_ACTION {
        Err(f64::from(MIN_ACTION) * POWER - cos_term)
    } else if action > MAX_ACTION {
        Err(f64::from(MAX_ACTION) * POWER - cos_term)
    } else {
        Ok(action * POWER as f32 - cos_term as f32)
    }
}

/// One step of one car: returns (position, velocity, terminated). `first` says the state is
/// still gymnasium's f64 reset state; otherwise it holds f32 values.
fn step_car(position: f64, velocity: f64, action: f32, first: bool) -> (f64, f64, bool) {
    if first {
        let cos_term = 0.0025 * (3.0 * position).cos();
        let acc = match acceleration(action, cos_term) {
            Ok(a) => f64::from(a),
            Err(a) => a,
        };
        let mut v = velocity + acc;
        v = v.clamp(-MAX_SPEED, MAX_SPEED);
        let mut p = position + v;
        p = p.clamp(MIN_POSITION, MAX_POSITION);
        if p == MIN_POSITION && v < 0.0 {
            v = 0.0;
        }
        let done = p >= GOAL_POSITION && v >= 0.0;
        (f64::from(p as f32), f64::from(v as f32), done)
    } else {
        let p32 = position as f32;
        let cos_term = 0.0025 * f64::from(3.0_f32 * p32).cos();
        let acc = match acceleration(action, cos_term) {
            Ok(a) => a,
            Err(a) => a as f32,
        };
        let mut v = velocity as f32 + acc;
        v = v.clamp(-MAX_SPEED as f32, MAX_SPEED as f32);
        let mut p = p32 + v;
        p = p.clamp(MIN_POSITION as f32, MAX_POSITION as f32);
        if p == MIN_POSITION as f32 && v < 0.0 {
            v = 0.0;
        }
        let done = p >= GOAL_POSITION as f32 && v >= 0.0;
        (f64::from(p), f64::from(v), done)
    }
}

/// MountainCarContinuous-v0: drive an underpowered car up a hill with a force in `[-1, 1]`.
/// State and observation `[position, velocity]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MountainCarContinuous;

impl Physics for MountainCarContinuous {
    const NAME: &'static str = "MountainCarContinuous-v0";
    const STATE_DIM: usize = 2;
    const OBS_DIM: usize = 2;
    const MAX_EPISODE_STEPS: u32 = 999;
    const RESET_SALT: u32 = 0xC0_0005;

    fn action_space() -> Space {
        Space::Continuous {
            low: vec![MIN_ACTION],
            high: vec![MAX_ACTION],
        }
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
        elapsed: &[u32],
        rewards: &mut [f32],
        terminated: &mut [bool],
    ) {
        let [pos, vel] = components::<2>(block);
        for l in 0..n {
            let a = actions[l];
            let (p, v, done) = step_car(pos[l], vel[l], a, elapsed[l] == 0);
            pos[l] = p;
            vel[l] = v;
            terminated[l] = done;
            let bonus = if done { 100.0 } else { 0.0 };
            rewards[l] = (bonus - pow2(f64::from(a)) * 0.1) as f32;
        }
    }

    fn observe(state: &[f64], obs: &mut [f32]) {
        obs[0] = state[0] as f32;
        obs[1] = state[1] as f32;
    }
}
