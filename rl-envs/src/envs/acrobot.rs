//! Acrobot-v1 (gymnasium 1.4.0 `AcrobotEnv`, "book" dynamics, one RK4 step of 0.2 s,
//! 500-step limit).
//!
//! The derivative, the RK4 combination, the angle wrapping and the velocity bounds follow
//! gymnasium operation by operation, including its use of the C library's `pow` for
//! `x ** 2` on numpy scalars, so trajectories stay bit-identical even though the system is
//! chaotic. Reward -1 per step, 0 on the terminating step. Resets draw the four state
//! components uniformly from `[-0.1, 0.1)` and round them to f32, as gymnasium does.

use std::f64::consts::PI;

use eggroll_core::vec_env::Space;

use crate::npmath::pow2;
use crate::physics::{components, Physics};
use crate::rng::ResetRng;

const DT: f64 = 0.2;
const L1: f64 = 1.0;
const M1: f64 = 1.0;
const M2: f64 = 1.0;
const LC1: f64 = 0.5;
const LC2: f64 = 0.5;
const I1: f64 = 1.0;
const I2: f64 = 1.0;
const G: f64 = 9.8;
const MAX_VEL_1: f64 = 4.0 * PI;
const MAX_VEL_2: f64 = 9.0 * PI;
const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];

/// Time derivative of `[theta1, theta2, dtheta1, dtheta2]` under torque `a` (gymnasium's
/// `_dsdt`, book variant).
fn dsdt(s: [f64; 4], a: f64) -> [f64; 4] {
    let [theta1, theta2, dtheta1, dtheta2] = s;
    let d1 =
        M1 * (LC1 * LC1) + M2 * (L1 * L1 + LC2 * LC2 + 2.0 * L1 * LC2 * theta2.cos()) + I1 + I2;
    let d2 = M2 * (LC2 * LC2 + L1 * LC2 * theta2.cos()) + I2;
    let phi2 = M2 * LC2 * G * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -M2 * L1 * LC2 * pow2(dtheta2) * theta2.sin()
        - 2.0 * M2 * L1 * LC2 * dtheta2 * dtheta1 * theta2.sin()
        + (M1 * LC1 + M2 * L1) * G * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - M2 * L1 * LC2 * pow2(dtheta1) * theta2.sin() - phi2)
        / (M2 * (LC2 * LC2) + I2 - pow2(d2) / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2]
}

/// `y + h * k`, elementwise.
fn axpy(y: &[f64; 4], h: f64, k: &[f64; 4]) -> [f64; 4] {
    std::array::from_fn(|j| y[j] + h * k[j])
}

/// One classical RK4 step over `[0, DT]`, combined as gymnasium's `rk4` does.
fn rk4(y0: [f64; 4], a: f64) -> [f64; 4] {
    let dt = DT - 0.0;
    let dt2 = dt / 2.0;
    let k1 = dsdt(y0, a);
    let k2 = dsdt(axpy(&y0, dt2, &k1), a);
    let k3 = dsdt(axpy(&y0, dt2, &k2), a);
    let k4 = dsdt(axpy(&y0, dt, &k3), a);
    std::array::from_fn(|j| y0[j] + dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]))
}

/// gymnasium's `wrap`: shift `x` by whole periods into `[m, big_m]`.
fn wrap(mut x: f64, m: f64, big_m: f64) -> f64 {
    let diff = big_m - m;
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    x
}

/// gymnasium's `bound`: Python's `min(max(x, m), big_m)`.
fn bound(x: f64, m: f64, big_m: f64) -> f64 {
    let y = if m > x { m } else { x };
    if big_m < y {
        big_m
    } else {
        y
    }
}

/// Acrobot-v1: swing the tip of a two-link chain above a line by torquing the middle joint
/// (actions 0, 1, 2 = torque -1, 0, +1). State `[theta1, theta2, dtheta1, dtheta2]`;
/// observation `[cos t1, sin t1, cos t2, sin t2, dtheta1, dtheta2]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Acrobot;

impl Physics for Acrobot {
    const NAME: &'static str = "Acrobot-v1";
    const STATE_DIM: usize = 4;
    const OBS_DIM: usize = 6;
    const MAX_EPISODE_STEPS: u32 = 500;
    const RESET_SALT: u32 = 0xC0_0003;

    fn action_space() -> Space {
        Space::Discrete { n: 3 }
    }

    fn observation_space() -> Space {
        let high = [1.0, 1.0, 1.0, 1.0, MAX_VEL_1 as f32, MAX_VEL_2 as f32];
        Space::symmetric(&high)
    }

    fn reset(rng: &mut ResetRng, state: &mut [f64]) {
        for v in state.iter_mut() {
            *v = f64::from(rng.uniform(-0.1, 0.1) as f32);
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
        let [t1, t2, dt1, dt2] = components::<4>(block);
        for l in 0..n {
            let torque = AVAIL_TORQUE[actions[l] as usize];
            let ns = rk4([t1[l], t2[l], dt1[l], dt2[l]], torque);
            let s0 = wrap(ns[0], -PI, PI);
            let s1 = wrap(ns[1], -PI, PI);
            t1[l] = s0;
            t2[l] = s1;
            dt1[l] = bound(ns[2], -MAX_VEL_1, MAX_VEL_1);
            dt2[l] = bound(ns[3], -MAX_VEL_2, MAX_VEL_2);
            let term = -s0.cos() - (s1 + s0).cos() > 1.0;
            terminated[l] = term;
            rewards[l] = if term { 0.0 } else { -1.0 };
        }
    }

    fn observe(state: &[f64], obs: &mut [f32]) {
        obs[0] = state[0].cos() as f32;
        obs[1] = state[0].sin() as f32;
        obs[2] = state[1].cos() as f32;
        obs[3] = state[1].sin() as f32;
        obs[4] = state[2] as f32;
        obs[5] = state[3] as f32;
    }
}
