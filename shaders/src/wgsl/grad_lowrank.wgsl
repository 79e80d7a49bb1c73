// The low-rank ES direction as ONE GEMM over N·r:
//   G[o, i] = α · Σ_{k, j} c_k·A_k[o, j] · B_k[i, j]
// with A_k, B_k regenerated inside the tile loads from stream k's key (never stored) and
// c_k the per-stream fitness coefficient; α = σ/(N·√r). With `signs` = 1 (eggroll_sign) the
// factors are sign(A_k) and sign(B_k) (the noise is never 0, so the sign is the sign bit).

struct Params {
    m: u32,     // rows (out)
    n: u32,     // cols (in)
    k: u32,     // streams · rank
    rank: u32,
    alpha: f32,
    signs: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> keys: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> coef: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

fn factor(z: f32) -> f32 {
    return select(z, select(1.0, -1.0, z < 0.0), params.signs != 0u);
}

fn load_a(row: u32, kk: u32) -> f32 {
    let s = kk / params.rank;
    let j = kk % params.rank;
    return coef[s] * factor(normal_at(keys[s].xy, (params.n + row) * params.rank + j));
}

fn load_b(kk: u32, col: u32) -> f32 {
    let s = kk / params.rank;
    let j = kk % params.rank;
    return factor(normal_at(keys[s].xy, col * params.rank + j));
}

fn store_c(row: u32, col: u32, acc: f32) {
    grad[row * params.n + col] = params.alpha * acc;
}
