//! Pendulum-v1 (gymnasium 1.4.0 `PendulumEnv`, g = 10, 200-step limit).
//!
//! The torque is clipped to `[-2, 2]` before it enters both the cost and the dynamics, as
//! gymnasium does. The mixed precision of gymnasium under numpy 2 is kept: the torque stays
//! f32 (`3.0 * u` and `0.001 * u**2` are f32 products), everything else is f64. The episode
//! never terminates; it is truncated after 200 steps. Resets draw `theta` uniformly from
//! `[-pi, pi)` and `theta_dot` from `[-1, 1)`.

use std::f64::consts::PI;

use eggroll_core::vec_env::Space;

use crate::npmath::{np_clip, pow2, pow2_f32, py_mod};
use crate::physics::{components, Physics, LANES};
use crate::rng::ResetRng;

const MAX_SPEED: f64 = 8.0;
const MAX_TORQUE: f32 = 2.0;
const DT: f64 = 0.05;
const G: f64 = 10.0;
const M: f64 = 1.0;
const L: f64 = 1.0;

/// `((x + pi) % (2 pi)) - pi` with Python's modulus.
fn angle_normalize(x: f64) -> f64 {
    py_mod(x + PI, 2.0 * PI) - PI
}

/// Pendulum-v1: swing a pendulum up and hold it with a bounded torque.
/// State `[theta, theta_dot]`; observation `[cos theta, sin theta, theta_dot]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pendulum;

impl Physics for Pendulum {
    const NAME: &'static str = "Pendulum-v1";
    const STATE_DIM: usize = 2;
    const OBS_DIM: usize = 3;
    const MAX_EPISODE_STEPS: u32 = 200;
    const RESET_SALT: u32 = 0xC0_0002;

    fn action_space() -> Space {
        Space::Continuous {
            low: vec![-MAX_TORQUE],
            high: vec![MAX_TORQUE],
        }
    }

    fn observation_space() -> Space {
        Space::Continuous {
            low: vec![-1.0, -1.0, -MAX_SPEED as f32],
            high: vec![1.0, 1.0, MAX_SPEED as f32],
        }
    }

    fn reset(rng: &mut ResetRng, state: &mut [f64]) {
        state[0] = rng.uniform(-PI, PI);
        state[1] = rng.uniform(-1.0, 1.0);
    }

    fn step_block(
        block: &mut [f64],
        n: usize,
        actions: &[f32],
        _elapsed: &[u32],
        rewards: &mut [f32],
        terminated: &mut [bool],
    ) {
        let [theta, theta_dot] = components::<2>(block);
        debug_assert!(n <= LANES);
        for l in 0..n {
            let (th, thdot) = (theta[l], theta_dot[l]);
            let u = actions[l].clamp(-MAX_TORQUE, MAX_TORQUE);
            let costs =
                pow2(angle_normalize(th)) + 0.1 * pow2(thdot) + f64::from(0.001_f32 * pow2_f32(u));
            let torque_term = f64::from((3.0 / (M * L * L)) as f32 * u);
            let newthdot = thdot + (3.0 * G / (2.0 * L) * th.sin() + torque_term) * DT;
            let newthdot = np_clip(newthdot, -MAX_SPEED, MAX_SPEED);
            theta[l] = th + newthdot * DT;
            theta_dot[l] = newthdot;
            rewards[l] = (-costs) as f32;
            terminated[l] = false;
        }
    }

    fn observe(state: &[f64], obs: &mut [f32]) {
        obs[0] = state[0].cos() as f32;
        obs[1] = state[0].sin() as f32;
        obs[2] = state[1] as f32;
    }
}
