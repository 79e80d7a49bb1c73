//! The tiled GEMM kernels: the fused batched linear layer (shared `X·Wᵀ` plus bias and each
//! member's low-rank correction in the epilogue) and the low-rank ES direction as ONE GEMM
//! over N·r whose operands are regenerated noise.
//!
//! Both use the same tiling: 64×64 output tiles per cube of 16×16 units, each unit owning a
//! 4×4 block strided by 16 (coalesced stores), K in steps of 16 through shared memory whose
//! rows are padded to 65 floats (no bank conflicts on the transposed tile stores).

use super::noise::{member_sign, member_stream, normal_at};
use cubecl::prelude::*;

/// Output tile edge (rows and columns) of one cube.
pub const TILE: u32 = 64;
/// Units per cube edge (16×16 units per cube).
pub const TILE_UNITS: u32 = 16;
/// Depth of one K step.
pub const TILE_K: u32 = 16;
/// Padded row stride of the shared tiles.
pub const STRIDE: u32 = 65;
/// Elements in one shared tile (TILE_K × STRIDE).
pub const TILE_LEN: usize = 1040;

/// `acc[i·4 + j] += Σ_kk A[kk, ty + 16i]·B[kk, tx + 16j]` over one K step of the tiles: f32
/// for the float GEMMs, u32 (wrapping two's-complement) for the language model's int8 ones.
#[cube]
pub fn multiply_tiles<N: Numeric>(tile_a: &[N], tile_b: &[N], acc: &mut Array<N>) {
    let ty = UNIT_POS_Y;
    let tx = UNIT_POS_X;
    #[unroll]
    for kk in 0..TILE_K {
        let mut a = Array::<N>::new(4usize);
        let mut b = Array::<N>::new(4usize);
        #[unroll]
        for i in 0..4u32 {
            a[i as usize] = tile_a[(kk * STRIDE + ty + TILE_UNITS * i) as usize];
            b[i as usize] = tile_b[(kk * STRIDE + tx + TILE_UNITS * i) as usize];
        }
        #[unroll]
        for i in 0..4usize {
            #[unroll]
            for j in 0..4usize {
                acc[i * 4 + j] += a[i] * b[j];
            }
        }
    }
}

/// The fused batched linear layer `Y = X·Wᵀ (+ b)`, with, for low-rank populations, each
/// row's member correction `s·(σ/√r)·Σ_j T[row, j]·A[col, j] + s·σ·ε[col]` added in the
/// epilogue (`T = X_i·B` from [`super::correction::project`]; `A[col, j]` = element
/// `(n_in + col)·r + j` and `ε[col]` element `col` of the member's weight and bias streams).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn linear(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    proj: &[f32],
    keys: &[u32],
    knots: &[u32],
    y: &mut [f32],
    m: u32,
    n: u32,
    k: u32,
    rank: u32,
    rows_per_member: u32,
    first_member: u32,
    member_flags: u32,
    first_stream: u32,
    scale: f32,
    sigma: f32,
    #[comptime] has_bias: bool,
    #[comptime] low_rank: bool,
) {
    let m0 = CUBE_POS_Y * TILE;
    let n0 = CUBE_POS_X * TILE;
    let tid = UNIT_POS_Y * TILE_UNITS + UNIT_POS_X;
    let mut tile_a = Shared::<[f32]>::new_slice(TILE_LEN);
    let mut tile_b = Shared::<[f32]>::new_slice(TILE_LEN);
    let mut acc = Array::<f32>::new(16usize);
    let mut k0 = 0u32;
    while k0 < k {
        #[unroll]
        for l in 0..4u32 {
            let e = tid + l * 256u32;
            let kk = e % TILE_K;
            let rc = e / TILE_K;
            let mut va = 0.0f32;
            if m0 + rc < m && k0 + kk < k {
                va = x[((m0 + rc) * k + k0 + kk) as usize];
            }
            tile_a[(kk * STRIDE + rc) as usize] = va;
            let mut vb = 0.0f32;
            if n0 + rc < n && k0 + kk < k {
                vb = w[((n0 + rc) * k + k0 + kk) as usize];
            }
            tile_b[(kk * STRIDE + rc) as usize] = vb;
        }
        sync_cube();
        multiply_tiles(&tile_a, &tile_b, &mut acc);
        sync_cube();
        k0 += TILE_K;
    }
    #[unroll]
    for i in 0..4u32 {
        let row = m0 + UNIT_POS_Y + TILE_UNITS * i;
        #[unroll]
        for j in 0..4u32 {
            let col = n0 + UNIT_POS_X + TILE_UNITS * j;
            if row < m && col < n {
                let mut v = acc[(i * 4 + j) as usize];
                if comptime!(has_bias) {
                    v += bias[col as usize];
                }
                if comptime!(low_rank) {
                    let member = first_member + row / rows_per_member;
                    let sign = member_sign(member, member_flags);
                    let at = (member_stream(member, member_flags) - first_stream) as usize * 4;
                    let base = (k + col) * rank;
                    let mut corr = 0.0f32;
                    for r in 0..rank {
                        let a = normal_at(keys[at], keys[at + 1], base + r, knots);
                        corr += proj[(row * rank + r) as usize] * a;
                    }
                    v += sign * scale * corr;
                    if comptime!(has_bias) {
                        v += sign * sigma * normal_at(keys[at + 2], keys[at + 3], col, knots);
                    }
                }
                y[(row * n + col) as usize] = v;
            }
        }
    }
}

/// The low-rank ES direction `G[o, i] = α·Σ_{s, j} c_s·A_s[o, j]·B_s[i, j]` (m = rows,
/// n = cols, k = streams·rank), with `A_s`, `B_s` regenerated inside the tile loads from
/// stream `s`'s key and α = σ/(N·√r). With `sign_factors` (`eggroll_sign`) the operands are
/// `sign(A_s)` and `sign(B_s)` (the noise is never 0, so the sign is the sign bit).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn grad_lowrank(
    keys: &[u32],
    knots: &[u32],
    coef: &[f32],
    grad: &mut [f32],
    m: u32,
    n: u32,
    k: u32,
    rank: u32,
    alpha: f32,
    #[comptime] sign_factors: bool,
) {
    let m0 = CUBE_POS_Y * TILE;
    let n0 = CUBE_POS_X * TILE;
    let tid = UNIT_POS_Y * TILE_UNITS + UNIT_POS_X;
    let mut tile_a = Shared::<[f32]>::new_slice(TILE_LEN);
    let mut tile_b = Shared::<[f32]>::new_slice(TILE_LEN);
    let mut acc = Array::<f32>::new(16usize);
    let mut k0 = 0u32;
    while k0 < k {
        #[unroll]
        for l in 0..4u32 {
            let e = tid + l * 256u32;
            let kk = e % TILE_K;
            let rc = e / TILE_K;
            let mut va = 0.0f32;
            let mut vb = 0.0f32;
            if k0 + kk < k {
                let s = (k0 + kk) / rank;
                let j = (k0 + kk) % rank;
                let k0s = keys[s as usize * 4];
                let k1s = keys[s as usize * 4 + 1];
                if m0 + rc < m {
                    let mut a = normal_at(k0s, k1s, (n + m0 + rc) * rank + j, knots);
                    if comptime!(sign_factors) {
                        a = select(a < 0.0f32, -1.0f32, 1.0f32);
                    }
                    va = coef[s as usize] * a;
                }
                if n0 + rc < n {
                    vb = normal_at(k0s, k1s, (n0 + rc) * rank + j, knots);
                    if comptime!(sign_factors) {
                        vb = select(vb < 0.0f32, -1.0f32, 1.0f32);
                    }
                }
            }
            tile_a[(kk * STRIDE + rc) as usize] = va;
            tile_b[(kk * STRIDE + rc) as usize] = vb;
        }
        sync_cube();
        multiply_tiles(&tile_a, &tile_b, &mut acc);
        sync_cube();
        k0 += TILE_K;
    }
    #[unroll]
    for i in 0..4u32 {
        let row = m0 + UNIT_POS_Y + TILE_UNITS * i;
        #[unroll]
        for j in 0..4u32 {
            let col = n0 + UNIT_POS_X + TILE_UNITS * j;
            if row < m && col < n {
                grad[(row * n + col) as usize] = alpha * acc[(i * 4 + j) as usize];
            }
        }
    }
}
