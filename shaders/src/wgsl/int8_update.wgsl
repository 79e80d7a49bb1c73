// The LM's update sums (eggroll-core `int::IntKernels::update_sum`), noise regenerated in the
// kernels from each active pair's key: `keys[s] = (k0, k1, bitcast f_s, 0)`.
// `main` (the tiled GEMM of gemm_tile.wgsl, Scalar = i32): a matrix's
// Z[o][i] = Σ_c fA[o][c]·B[c][i] over c = s·rank + j, with A[j][o] = q8(bits(rank·inp + j·out + o))
// and B[j][i] = q8(bits(j·inp + i)).
// `vector_sum`: a vector's Z[i] = Σ_s f_s·q8(bits_s(i)).

struct Params {
    m: u32,      // matrix rows (out); vector length
    n: u32,      // matrix columns (inp)
    k: u32,      // active pairs × rank
    rank: u32,
    pairs: u32,  // active pairs
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> keys: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> z: array<i32>;

fn load_a(row: u32, kk: u32) -> i32 {
    let s = kk / params.rank;
    let j = kk % params.rank;
    let key = keys[s];
    let a = q8(noise_bits(key.xy, params.rank * params.n + j * params.m + row));
    return bitcast<i32>(key.z) * a;
}

fn load_b(kk: u32, col: u32) -> i32 {
    let s = kk / params.rank;
    let j = kk % params.rank;
    return q8(noise_bits(keys[s].xy, j * params.n + col));
}

fn store_c(row: u32, col: u32, acc: i32) {
    z[row * params.n + col] = acc;
}

@compute @workgroup_size(256)
fn vector_sum(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let idx = (wid.y * groups.x + wid.x) * 256u + lid.x;
    if (idx >= params.m) {
        return;
    }
    var acc = 0;
    for (var s = 0u; s < params.pairs; s++) {
        let key = keys[s];
        acc += bitcast<i32>(key.z) * q8(noise_bits(key.xy, idx));
    }
    z[idx] = acc;
}
