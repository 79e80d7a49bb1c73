// The OpenES (full-rank) correction of a batched linear layer, added in place to Y:
//   Y[row, o] += s·σ·Σ_i X[row, i]·E[o, i]  +  s·σ·ε[o]
// with E[o, i] = element o·in + i of the member's stream, generated on the fly.

struct Params {
    rows: u32,
    n_out: u32,
    n_in: u32,
    has_bias: u32,
    rows_per_member: u32,
    first_member: u32,
    member_flags: u32, // Population::member_flags
    first_stream: u32,
    sigma: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> keys: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let idx = (wid.y * groups.x + wid.x) * 256u + lid.x;
    if (idx >= params.rows * params.n_out) {
        return;
    }
    let row = idx / params.n_out;
    let o = idx % params.n_out;
    let member = params.first_member + row / params.rows_per_member;
    let sign = member_sign(member, params.member_flags);
    let key = keys[member_stream(member, params.member_flags) - params.first_stream];
    var acc = 0.0;
    for (var i = 0u; i < params.n_in; i++) {
        acc += x[row * params.n_in + i] * normal_at(key.xy, o * params.n_in + i);
    }
    var v = sign * params.sigma * acc;
    if (params.has_bias != 0u) {
        v += sign * params.sigma * normal_at(key.zw, o);
    }
    y[idx] += v;
}
