// The low-rank projection T[row, j] = Σ_i X[row, i]·B[i, j] of each member's rows onto its
// noise factor B (B[i, j] = element i·r + j of the member's stream), regenerated in registers.
// One workgroup per (member, j); rows of a member are processed 8 at a time so each noise
// element is generated once per 8 rows; a tree reduction in workgroup memory finishes.

struct Params {
    rows_per_member: u32,
    n_in: u32,
    rank: u32,
    members: u32,
    first_member: u32,
    member_flags: u32, // Population::member_flags
    first_stream: u32,
}

const WG: u32 = 64u;
const ROWS: u32 = 8u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> keys: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> proj: array<f32>;

var<workgroup> partial: array<f32, 512>; // [q * WG + lane]

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let g = wid.y * groups.x + wid.x;
    let local_member = g / params.rank;
    if (local_member >= params.members) {
        return;
    }
    let j = g % params.rank;
    let member = params.first_member + local_member;
    let key = keys[member_stream(member, params.member_flags) - params.first_stream];
    let row0 = local_member * params.rows_per_member;
    for (var c = 0u; c < params.rows_per_member; c += ROWS) {
        let nr = min(ROWS, params.rows_per_member - c);
        var acc: array<f32, 8>;
        for (var i = lid.x; i < params.n_in; i += WG) {
            let b = normal_at(key.xy, i * params.rank + j);
            for (var q = 0u; q < nr; q++) {
                acc[q] += x[(row0 + c + q) * params.n_in + i] * b;
            }
        }
        for (var q = 0u; q < ROWS; q++) {
            partial[q * WG + lid.x] = acc[q];
        }
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s >>= 1u) {
            if (lid.x < s) {
                for (var q = 0u; q < ROWS; q++) {
                    partial[q * WG + lid.x] += partial[q * WG + lid.x + s];
                }
            }
            workgroupBarrier();
        }
        if (lid.x < nr) {
            proj[(row0 + c + lid.x) * params.rank + j] = partial[lid.x * WG];
        }
        workgroupBarrier();
    }
}
