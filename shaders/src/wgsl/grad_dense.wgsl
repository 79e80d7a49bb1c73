// The ES direction of a densely perturbed tensor (vectors, and OpenES matrices):
//   g[e] = α · Σ_k c_k·ε_k[e],  α = σ/N.

struct Params {
    len: u32,
    streams: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> keys: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> coef: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

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
    var acc = 0.0;
    for (var s = 0u; s < params.streams; s++) {
        let c = coef[s];
        if (c != 0.0) {
            acc += c * normal_at(keys[s].xy, idx);
        }
    }
    grad[idx] = params.alpha * acc;
}
