// Element-wise non-linearity in place: mode 0 identity, 1 relu, 2 tanh.

struct Params {
    len: u32,
    mode: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let idx = (wid.y * groups.x + wid.x) * 256u + lid.x;
    if (idx >= params.len) {
        return;
    }
    let v = x[idx];
    if (params.mode == 1u) {
        x[idx] = max(v, 0.0);
    } else if (params.mode == 2u) {
        // tanh saturates to ±1 in f32 well before |x| = 10; clamping avoids exp overflow
        // in drivers that evaluate tanh through exponentials.
        x[idx] = tanh(clamp(v, -10.0, 10.0));
    }
}
