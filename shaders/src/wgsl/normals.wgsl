// Elements start .. start + len of one noise stream (for conformance checks).

struct Params {
    key: vec2<u32>,
    start: u32,
    len: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

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
    out[idx] = normal_at(params.key, params.start + idx);
}
