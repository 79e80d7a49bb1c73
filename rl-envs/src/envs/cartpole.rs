//! CartPole-v1 (gymnasium 1.4.0 `CartPoleEnv`, Euler integrator, 500-step limit).
//!
//! Every constant and every floating-point operation is in gymnasium's order, so a step is
//! bit-identical to gymnasium's given the same state and action. The reward is 1 on every
//! step, the terminating one included (`sutton_barto_reward=False`). Resets draw the four
//! state components uniformly from `[-0.05, 0.05)` (see [`crate::rng`] for the stream).

use std::f64::consts::PI;

use eggroll_core::vec_env::Space;

use crate::physics::{components, Physics, LANES};
use crate::rng::ResetRng;

const GRAVITY: f64 = 9.8;
const MASSCART: f64 = 1.0;
const MASSPOLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASSPOLE + MASSCART;
const LENGTH: f64 = 0.5;
const POLEMASS_LENGTH: f64 = MASSPOLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
const TAU: f64 = 0.02;
const THETA_THRESHOLD: f64 = 12.0 * 2.0 * PI / 360.0;
const X_THRESHOLD: f64 = 2.4;

/// CartPole-v1: push a cart left (action 0) or right (action 1) to keep a pole upright.
/// State `[x, x_dot, theta, theta_dot]`; the observation is the state as f32.
#[derive(Clone, Copy, Debug, Default)]
pub struct CartPole;

impl Physics for CartPole {
    const NAME: &'static str = "CartPole-v1";
    const STATE_DIM: usize = 4;
    const OBS_DIM: usize = 4;
    const MAX_EPISODE_STEPS: u32 = 500;
    const RESET_SALT: u32 = 0xC0_0001;

    fn action_space() -> Space {
        Space::Discrete { n: 2 }
    }

    fn observation_space() -> Space {
        let high = [
            (X_THRESHOLD * 2.0) as f32,
            f32::INFINITY,
            (THETA_THRESHOLD * 2.0) as f32,
            f32::INFINITY,
        ];
        Space::symmetric(&high)
    }

    fn reset(rng: &mut ResetRng, state: &mut [f64]) {
        for v in state.iter_mut() {
            *v = rng.uniform(-0.05, 0.05);
        }
    }

    fn step_block(
        block: &mut [f64],
        n: usize,
        actions: &[f32],
        _elapsed: &[u32],
        rewards: &mut [f32],
        terminated: &mut [bool],
    ) {
        let [x, x_dot, theta, theta_dot] = components::<4>(block);
        // The C library's sin/cos bits (what numpy calls), several lanes at a time, before the
        // arithmetic loop below, which has no calls and vectorises.
        let mut sin = [0.0; LANES];
        let mut cos = [0.0; LANES];
        crate::libm_sincos::sin_cos(&theta[..n], &mut sin, &mut cos);
        let (x, x_dot, theta, theta_dot) = (
            &mut x[..n],
            &mut x_dot[..n],
            &mut theta[..n],
            &mut theta_dot[..n],
        );
        let (actions, rewards, terminated) =
            (&actions[..n], &mut rewards[..n], &mut terminated[..n]);
        for l in 0..n {
            let force = if actions[l] == 1.0 {
                FORCE_MAG
            } else {
                -FORCE_MAG
            };
            let (s, c) = (sin[l], cos[l]);
            let td = theta_dot[l];
            let temp = (force + POLEMASS_LENGTH * (td * td) * s) / TOTAL_MASS;
            let thetaacc =
                (GRAVITY * s - c * temp) / (LENGTH * (4.0 / 3.0 - MASSPOLE * (c * c) / TOTAL_MASS));
            let xacc = temp - POLEMASS_LENGTH * thetaacc * c / TOTAL_MASS;
            let nx = x[l] + TAU * x_dot[l];
            let nxd = x_dot[l] + TAU * xacc;
            let nth = theta[l] + TAU * td;
            let ntd = td + TAU * thetaacc;
            x[l] = nx;
            x_dot[l] = nxd;
            theta[l] = nth;
            theta_dot[l] = ntd;
            // gymnasium's four comparisons, branch-free.
            #[allow(clippy::manual_range_contains)]
            let out = (nx < -X_THRESHOLD)
                | (nx > X_THRESHOLD)
                | (nth < -THETA_THRESHOLD)
                | (nth > THETA_THRESHOLD);
            terminated[l] = out;
            rewards[l] = 1.0;
        }
    }

    fn observe(state: &[f64], obs: &mut [f32]) {
        for (o, s) in obs.iter_mut().zip(state) {
            *o = *s as f32;
        }
    }

    fn observe_block(block: &[f64], n: usize, obs: &mut [f32]) {
        let (x, rest) = block.split_at(LANES);
        let (x_dot, rest) = rest.split_at(LANES);
        let (theta, theta_dot) = rest.split_at(LANES);
        for (l, row) in obs.chunks_exact_mut(4).take(n).enumerate() {
            row[0] = x[l] as f32;
            row[1] = x_dot[l] as f32;
            row[2] = theta[l] as f32;
            row[3] = theta_dot[l] as f32;
        }
    }
}
