// The LM's perturbed int8 matmul (eggroll-core `int::IntKernels::perturbed_matmul`):
//   acc[r][o] = Σ_i x[r][i]·w[o][i]  +  s·((Σ_j u[r][j]·A[j][o]) >> sigma_shift)
// with x and w packed int8, row r of pair q = r/2 (key `keys[q]`), s = +1 for even r, and
// u[r][j] = (Σ_i x[r][i]·B[j][i]) >> 4 from the `project` entry point. B[j][i] and A[j][o] are
// q8 of stream elements j·inp + i and rank·inp + j·out + o, regenerated here, never stored.
// `main` is the tiled GEMM (gemm_tile.wgsl, Scalar = i32) whose epilogue adds the correction.

struct Params {
    m: u32,        // rows
    n: u32,        // out
    k: u32,        // inp
    rank: u32,
    shift: u32,    // sigma_shift
    noisy: u32,    // 1: add the correction
    pairs: u32,    // ceil(rows / 2)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> x: array<u32>;
@group(0) @binding(3) var<storage, read> keys: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> u: array<i32>;
@group(0) @binding(5) var<storage, read> w: array<u32>;
@group(0) @binding(6) var<storage, read_write> y: array<i32>;

fn x_at(e: u32) -> i32 {
    return unpack_i8(x[e >> 2u], e);
}

// One thread per (pair, j): u of both rows of the pair, sharing each regenerated B[j][i].
@compute @workgroup_size(64)
fn project(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let idx = (wid.y * groups.x + wid.x) * 64u + lid.x;
    if (idx >= params.pairs * params.rank) {
        return;
    }
    let q = idx / params.rank;
    let j = idx % params.rank;
    let key = keys[q].xy;
    let r0 = 2u * q;
    let second = r0 + 1u < params.m;
    var s0 = 0;
    var s1 = 0;
    for (var i = 0u; i < params.k; i++) {
        let b = q8(noise_bits(key, j * params.k + i));
        s0 += x_at(r0 * params.k + i) * b;
        if (second) {
            s1 += x_at((r0 + 1u) * params.k + i) * b;
        }
    }
    u[r0 * params.rank + j] = s0 >> 4u;
    if (second) {
        u[(r0 + 1u) * params.rank + j] = s1 >> 4u;
    }
}

fn load_a(row: u32, kk: u32) -> i32 {
    return x_at(row * params.k + kk);
}

fn load_b(kk: u32, col: u32) -> i32 {
    let e = col * params.k + kk;
    return unpack_i8(w[e >> 2u], e);
}

fn store_c(row: u32, col: u32, acc: i32) {
    var v = acc;
    if (params.noisy != 0u) {
        let key = keys[row / 2u].xy;
        let base = params.rank * params.k + col;
        var c = 0;
        for (var j = 0u; j < params.rank; j++) {
            c += u[row * params.rank + j] * q8(noise_bits(key, base + j * params.n));
        }
        let corr = c >> params.shift;
        v += select(corr, -corr, (row & 1u) == 1u);
    }
    y[row * params.n + col] = v;
}
