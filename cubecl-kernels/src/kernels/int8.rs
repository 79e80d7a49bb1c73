//! The language model's integer kernels as `#[cube]` functions (eggroll-core's
//! `int::IntKernels`): the perturbed int8 matmul (projection `u = (x·B) >> 4`, then one tiled GEMM
//! whose epilogue adds `s·((u·A) >> σ_shift)` and optionally rescales) and the update sums.
//!
//! Every integer lives in a u32 as its two's-complement bits: additions and multiplications
//! wrap identically for signed and unsigned words, and the callers keep every true value
//! within int32, so the bits equal the CPU's i32 results. Only arithmetic shifts, negation and
//! clipping need the sign, and they are written out with unsigned operations ([`asr`],
//! [`rescale8`]), so no kernel depends on how a runtime treats signed shifts. Inputs and
//! weights arrive packed four int8 to a word; the noise is regenerated from stream keys
//! (four words per pair: k0, k1, and for updates the weight `f` as i32 bits).

use super::gemm::{multiply_tiles, STRIDE, TILE, TILE_K, TILE_LEN, TILE_UNITS};
use super::noise::{flat_index, noise_bits, normal_from_bits};
use cubecl::prelude::*;

/// Units per projection cube.
pub const PROJECT_DIM: u32 = 64;
/// Units per vector-update cube.
pub const VECTOR_DIM: u32 = 256;

/// Element `e` of int8 values packed four to a word, sign-extended to 32 bits.
#[cube]
pub fn unpack_i8(word: u32, e: u32) -> u32 {
    let byte = (word >> (8u32 * (e & 3u32))) & 0xffu32;
    (byte ^ 0x80u32) - 0x80u32
}

/// eggroll-core's `int::q8` of a hash word (as i32 bits): `round(16·z)` clipped to ±127, from the
/// exact normal of [`normal_from_bits`] (`|z|·2^16` is the table's integer magnitude).
#[cube]
pub fn q8(bits: u32, knots: &[u32]) -> u32 {
    let z = normal_from_bits(bits, knots);
    let magnitude = u32::cast_from(z.abs() * 65536.0f32);
    let m = min((magnitude + 2048u32) >> 12u32, 127u32);
    select(z < 0.0f32, 0u32 - m, m)
}

/// Arithmetic right shift of the i32 bits `v` by `s` (< 32): `!((!v) >> s)` for negatives.
#[cube]
pub fn asr(v: u32, s: u32) -> u32 {
    select(
        (v >> 31u32) == 1u32,
        ((v ^ 0xffff_ffffu32) >> s) ^ 0xffff_ffffu32,
        v >> s,
    )
}

/// `clip((v·mult) >> 32, −127, 127)` for the i32 bits `v` and `mult` < 2^31: the high word of
/// the exact 64-bit product from 16-bit limbs, floored for negative `v`.
#[cube]
pub fn rescale8(v: u32, mult: u32) -> u32 {
    let neg = (v >> 31u32) == 1u32;
    let a = select(neg, 0u32 - v, v);
    let a0 = a & 0xffffu32;
    let a1 = a >> 16u32;
    let b0 = mult & 0xffffu32;
    let b1 = mult >> 16u32;
    let lo = a0 * b0;
    let mid1 = a1 * b0;
    let mid2 = a0 * b1;
    let t = (lo >> 16u32) + (mid1 & 0xffffu32) + (mid2 & 0xffffu32);
    let low_word = (t << 16u32) | (lo & 0xffffu32);
    let high_word = a1 * b1 + (mid1 >> 16u32) + (mid2 >> 16u32) + (t >> 16u32);
    let floor_extra = select(neg && low_word != 0u32, 1u32, 0u32);
    let m = min(high_word + floor_extra, 127u32);
    select(neg, 0u32 - m, m)
}

/// `u[r][j] = (Σ_i x[r][i]·B[j][i]) >> 4` for both rows of a pair: unit `t` handles pair
/// `t / rank`, index `j = t % rank`, with `B[j][i] = q8(bits(j·inp + i))` of the pair's key.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn project(
    x: &[u32],
    keys: &[u32],
    knots: &[u32],
    u: &mut [u32],
    rows: u32,
    inp: u32,
    rank: u32,
    pairs: u32,
) {
    let t = flat_index();
    if t < pairs * rank {
        let q = t / rank;
        let j = t % rank;
        let k0 = keys[(q * 4u32) as usize];
        let k1 = keys[(q * 4u32 + 1u32) as usize];
        let r0 = 2u32 * q;
        let second = r0 + 1u32 < rows;
        let mut s0 = 0u32;
        let mut s1 = 0u32;
        for i in 0..inp {
            let b = q8(noise_bits(k0, k1, j * inp + i), knots);
            let e0 = r0 * inp + i;
            s0 += unpack_i8(x[(e0 / 4u32) as usize], e0) * b;
            if second {
                let e1 = e0 + inp;
                s1 += unpack_i8(x[(e1 / 4u32) as usize], e1) * b;
            }
        }
        u[(r0 * rank + j) as usize] = asr(s0, 4u32);
        if second {
            u[((r0 + 1u32) * rank + j) as usize] = asr(s1, 4u32);
        }
    }
}

/// `y = x·wᵀ` (rows m × out n, fan-in k; x and w packed int8) as 64×64 tiles of 16×16 units,
/// with, when `noisy`, row `r`'s correction `s·((Σ_j u[r][j]·A[j][o]) >> shift)`
/// (`A[j][o] = q8(bits(rank·k + j·n + o))` of pair `r/2`'s key, `s` negative for odd rows) and,
/// when `rescale`, [`rescale8`] by `mult`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    x: &[u32],
    w: &[u32],
    u: &[u32],
    keys: &[u32],
    knots: &[u32],
    y: &mut [u32],
    m: u32,
    n: u32,
    k: u32,
    rank: u32,
    shift: u32,
    mult: u32,
    #[comptime] noisy: bool,
    #[comptime] rescale: bool,
) {
    let m0 = CUBE_POS_Y * TILE;
    let n0 = CUBE_POS_X * TILE;
    let tid = UNIT_POS_Y * TILE_UNITS + UNIT_POS_X;
    let mut tile_a = Shared::<[u32]>::new_slice(TILE_LEN);
    let mut tile_b = Shared::<[u32]>::new_slice(TILE_LEN);
    let mut acc = Array::<u32>::new(16usize);
    #[unroll]
    for i in 0..16usize {
        acc[i] = 0u32;
    }
    let mut k0 = 0u32;
    while k0 < k {
        #[unroll]
        for l in 0..4u32 {
            let e = tid + l * 256u32;
            let kk = e % TILE_K;
            let rc = e / TILE_K;
            let mut va = 0u32;
            if m0 + rc < m && k0 + kk < k {
                let at = (m0 + rc) * k + k0 + kk;
                va = unpack_i8(x[(at / 4u32) as usize], at);
            }
            tile_a[(kk * STRIDE + rc) as usize] = va;
            let mut vb = 0u32;
            if n0 + rc < n && k0 + kk < k {
                let at = (n0 + rc) * k + k0 + kk;
                vb = unpack_i8(w[(at / 4u32) as usize], at);
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
                if comptime!(noisy) {
                    let q = row / 2u32;
                    let k0s = keys[(q * 4u32) as usize];
                    let k1s = keys[(q * 4u32 + 1u32) as usize];
                    let base = rank * k + col;
                    let mut c = 0u32;
                    for jr in 0..rank {
                        let a = q8(noise_bits(k0s, k1s, base + jr * n), knots);
                        c += u[(row * rank + jr) as usize] * a;
                    }
                    let corr = asr(c, shift);
                    v += select((row & 1u32) == 1u32, 0u32 - corr, corr);
                }
                if comptime!(rescale) {
                    v = rescale8(v, mult);
                }
                y[(row * n + col) as usize] = v;
            }
        }
    }
}

/// A matrix's update sum `Z[o][i] = Σ_c f_s·A_s[j][o]·B_s[j][i]` over `c = s·rank + j < k`
/// (m = out rows, n = inp columns) as ONE tiled GEMM whose operand tiles are regenerated
/// noise: `A_s[j][o] = q8(bits(rank·n + j·m + o))`, `B_s[j][i] = q8(bits(j·n + i))`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn update_matrix(
    keys: &[u32],
    knots: &[u32],
    z: &mut [u32],
    m: u32,
    n: u32,
    k: u32,
    rank: u32,
) {
    let m0 = CUBE_POS_Y * TILE;
    let n0 = CUBE_POS_X * TILE;
    let tid = UNIT_POS_Y * TILE_UNITS + UNIT_POS_X;
    let mut tile_a = Shared::<[u32]>::new_slice(TILE_LEN);
    let mut tile_b = Shared::<[u32]>::new_slice(TILE_LEN);
    let mut acc = Array::<u32>::new(16usize);
    #[unroll]
    for i in 0..16usize {
        acc[i] = 0u32;
    }
    let mut k0 = 0u32;
    while k0 < k {
        #[unroll]
        for l in 0..4u32 {
            let e = tid + l * 256u32;
            let kk = e % TILE_K;
            let rc = e / TILE_K;
            let mut va = 0u32;
            let mut vb = 0u32;
            if k0 + kk < k {
                let s = (k0 + kk) / rank;
                let j = (k0 + kk) % rank;
                let k0s = keys[(s * 4u32) as usize];
                let k1s = keys[(s * 4u32 + 1u32) as usize];
                if m0 + rc < m {
                    let f = keys[(s * 4u32 + 2u32) as usize];
                    va = f * q8(noise_bits(k0s, k1s, rank * n + j * m + m0 + rc), knots);
                }
                if n0 + rc < n {
                    vb = q8(noise_bits(k0s, k1s, j * n + n0 + rc), knots);
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
                z[(row * n + col) as usize] = acc[(i * 4 + j) as usize];
            }
        }
    }
}

/// A vector's update sum `Z[i] = Σ_s f_s·q8(bits_s(i))`, one unit per element.
#[cube(launch)]
pub fn update_vector(keys: &[u32], knots: &[u32], z: &mut [u32], len: u32, pairs: u32) {
    let idx = flat_index();
    if idx < len {
        let mut acc = 0u32;
        for s in 0..pairs {
            let at = (s * 4u32) as usize;
            acc += keys[at + 2] * q8(noise_bits(keys[at], keys[at + 1], idx), knots);
        }
        z[idx as usize] = acc;
    }
}
