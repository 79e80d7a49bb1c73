// Stream keys of a range of streams for two parameters (a weight and its bias): one
// vec4 (weight k0, k1, bias k0, k1) per stream, derived on the device with `stream_key`.

struct Params {
    seed: vec2<u32>,
    epoch: u32,
    weight_id: u32,
    bias_id: u32,
    first_stream: u32,
    count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read_write> keys: array<vec4<u32>>;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let idx = (wid.y * groups.x + wid.x) * 64u + lid.x;
    if (idx >= params.count) {
        return;
    }
    let stream = params.first_stream + idx;
    let w = stream_key(params.seed, params.weight_id, params.epoch, stream);
    let b = stream_key(params.seed, params.bias_id, params.epoch, stream);
    keys[idx] = vec4<u32>(w, b);
}
