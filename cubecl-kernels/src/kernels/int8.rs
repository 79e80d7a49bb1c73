//! The language model's integer kernels as `#[cube]` functions (eggroll-core's
//! `int::IntKernels`): the perturbed int8 matmul (projection `u = (x·B) >> 4`, then one tiled GEMM
//! whose epilogue adds `s·((u·A) >> σ_shift)`).
//!
//! Every integer lives in a u32 as its two's-complement bits: additions and multiplications
//! wrap identically for signed and unsigned words, and the callers keep every true value
//! within int32, so the bits equal the CPU's i32 results. Only arithmetic shifts and negation
//! need the sign, and they are written out with unsigned operations ([`asr`]), so no kernel
//! depends on how a runtime treats signed shifts. Inputs and weights arrive packed four int8
//! to a word; the noise is regenerated from stream keys (four words per pair: k0, k1, 0, 0).

use super::gemm::{multiply_tiles, STRIDE, TILE, TILE_K, TILE_LEN, TILE_UNITS};
use super::noise::{flat_index, noise_bits, normal_from_bits};
use cubecl::prelude::*;

/// Units per projection cube.
pub const PROJECT_DIM: u32 = 64;

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
/// (`A[j][o] = q8(bits(rank·k + j·n + o))` of pair `r/2`'s key, `s` negative for odd rows).
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
    #[comptime] noisy: bool,
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
                y[(row * n + col) as usize] = v;
            }
        }
    }
}
