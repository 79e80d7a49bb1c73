// Optimiser steps, element-wise (eggroll-core's `optim::apply_step_host`):
//   sgd:  θ += lr·g
//   adam: m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
//         θ = θ·(1 - lr·wd) + lr·(m/bias1) / (sqrt(v/bias2) + ε)

struct Params {
    len: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    bias1: f32,
    bias2: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read_write> theta: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> m1: array<f32>;
@group(0) @binding(5) var<storage, read_write> m2: array<f32>;

@compute @workgroup_size(256)
fn sgd(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let idx = (wid.y * groups.x + wid.x) * 256u + lid.x;
    if (idx >= params.len) {
        return;
    }
    theta[idx] += params.lr * grad[idx];
}

@compute @workgroup_size(256)
fn adam(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let idx = (wid.y * groups.x + wid.x) * 256u + lid.x;
    if (idx >= params.len) {
        return;
    }
    let g = grad[idx];
    let m = params.beta1 * m1[idx] + (1.0 - params.beta1) * g;
    let v = params.beta2 * m2[idx] + (1.0 - params.beta2) * g * g;
    m1[idx] = m;
    m2[idx] = v;
    let mhat = m / params.bias1;
    let vhat = v / params.bias2;
    theta[idx] = theta[idx] * (1.0 - params.lr * params.weight_decay)
        + params.lr * mhat / (sqrt(vhat) + params.eps);
}
