// The fused batched linear layer: the shared GEMM Y = X·Wᵀ (one for the whole population),
// with an epilogue adding the bias and, for low-rank populations, each member's correction
//   s·(σ/√r)·Σ_j T[row, j]·A[col, j]  +  s·σ·ε[col]
// where T = X_i·B (from the `project` kernel) and A, ε are regenerated from the member's
// stream keys in registers: the noise never touches memory.

struct Params {
    m: u32,               // rows
    n: u32,               // out_dim
    k: u32,               // in_dim
    has_bias: u32,
    low_rank: u32,        // 1: add the low-rank correction and bias noise
    rank: u32,
    rows_per_member: u32,
    first_member: u32,
    member_flags: u32,    // Population::member_flags (antithetic, baseline group)
    first_stream: u32,
    scale: f32,           // σ/√r
    sigma: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> proj: array<f32>;
@group(0) @binding(6) var<storage, read> keys: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

fn load_a(row: u32, kk: u32) -> f32 {
    return x[row * params.k + kk];
}

fn load_b(kk: u32, col: u32) -> f32 {
    return w[col * params.k + kk];
}

fn store_c(row: u32, col: u32, acc: f32) {
    var v = acc;
    if (params.has_bias != 0u) {
        v += bias[col];
    }
    if (params.low_rank != 0u) {
        let member = params.first_member + row / params.rows_per_member;
        let sign = member_sign(member, params.member_flags);
        let key = keys[member_stream(member, params.member_flags) - params.first_stream];
        var corr = 0.0;
        let base = (params.k + col) * params.rank;
        for (var j = 0u; j < params.rank; j++) {
            corr += proj[row * params.rank + j] * normal_at(key.xy, base + j);
        }
        v += sign * params.scale * corr;
        if (params.has_bias != 0u) {
            v += sign * params.sigma * normal_at(key.zw, col);
        }
    }
    y[row * params.n + col] = v;
}
