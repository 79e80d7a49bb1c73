//! One-unit-per-element kernels: stream keys, raw noise, activations and optimiser steps.
//! Every kernel is launched over a 1D range folded into a 2D grid of cubes
//! ([`flat_index`]); units past the end return at their bounds check.

use super::noise::{flat_index, key_chain, normal_at};
use cubecl::prelude::*;

/// Width of the element-wise cubes.
pub const ELEMENTWISE_DIM: u32 = 256;
/// Width of the key-derivation cubes.
pub const KEYS_DIM: u32 = 64;

/// Stream keys of streams `first_stream .. first_stream + count` for a weight and its bias:
/// four words per stream (weight k0, k1, bias k0, k1), as core's `StreamKey::new`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn stream_keys(
    keys: &mut [u32],
    seed_lo: u32,
    seed_hi: u32,
    epoch: u32,
    weight_id: u32,
    bias_id: u32,
    first_stream: u32,
    count: u32,
) {
    let idx = flat_index();
    if idx < count {
        let stream = first_stream + idx;
        let at = idx as usize * 4;
        keys[at] = key_chain(0x9e37_79b9u32, seed_lo, seed_hi, weight_id, epoch, stream);
        keys[at + 1] = key_chain(0x85eb_ca6bu32, seed_lo, seed_hi, weight_id, epoch, stream);
        keys[at + 2] = key_chain(0x9e37_79b9u32, seed_lo, seed_hi, bias_id, epoch, stream);
        keys[at + 3] = key_chain(0x85eb_ca6bu32, seed_lo, seed_hi, bias_id, epoch, stream);
    }
}

/// Elements `start .. start + len` of the stream keyed `(k0, k1)` (counter wraps like u32).
#[cube(launch)]
pub fn normals(out: &mut [f32], knots: &[u32], k0: u32, k1: u32, start: u32, len: u32) {
    let idx = flat_index();
    if idx < len {
        out[idx as usize] = normal_at(k0, k1, start + idx, knots);
    }
}

/// In-place non-linearity: `mode` 1 is relu, 2 is tanh (identity never launches).
#[cube(launch)]
pub fn activate(x: &mut [f32], len: u32, #[comptime] mode: u32) {
    let idx = flat_index();
    if idx < len {
        let v = x[idx as usize];
        if comptime!(mode == 1) {
            x[idx as usize] = max(v, 0.0f32);
        } else {
            // tanh is ±1 in f32 well before |x| = 10; clamping keeps drivers that evaluate
            // it through exponentials away from overflow.
            x[idx as usize] = clamp(v, -10.0f32, 10.0f32).tanh();
        }
    }
}

/// `θ += lr·g` (core's `apply_step_host`, SGD).
#[cube(launch)]
pub fn sgd_step(theta: &mut [f32], grad: &[f32], len: u32, lr: f32) {
    let idx = flat_index();
    if idx < len {
        let i = idx as usize;
        theta[i] += lr * grad[i];
    }
}

/// Adam with decoupled weight decay (core's `apply_step_host`, Adam):
/// `m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; θ = θ·(1 − lr·wd) + lr·(m/b1)/(√(v/b2) + ε)`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    theta: &mut [f32],
    grad: &[f32],
    m1: &mut [f32],
    m2: &mut [f32],
    len: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    bias1: f32,
    bias2: f32,
) {
    let idx = flat_index();
    if idx < len {
        let i = idx as usize;
        let g = grad[i];
        let m = beta1 * m1[i] + (1.0f32 - beta1) * g;
        let v = beta2 * m2[i] + (1.0f32 - beta2) * g * g;
        m1[i] = m;
        m2[i] = v;
        let mhat = m / bias1;
        let vhat = v / bias2;
        theta[i] = theta[i] * (1.0f32 - lr * weight_decay) + lr * mhat / (vhat.sqrt() + eps);
    }
}
