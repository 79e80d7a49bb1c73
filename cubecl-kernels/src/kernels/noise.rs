//! Counter-based noise as `#[cube]` functions: a transcription of eggroll-core's
//! `noise/hash.rs`, `noise/pool.rs` and `noise/sample.rs` (wrapping u32 arithmetic,
//! leading-zero count, shifts and table reads), so every runtime reproduces the CPU stream bit
//! for bit.
//!
//! The noise tables (`device_tables`: the quantile table's 31 rows of 17 knots row-major, then
//! the pool's magnitudes from `POOL_BASE`) are bound as a buffer of u32 (every word is
//! non-negative). Float streams read the pool; the integer noise's interpolation is done in unsigned
//! arithmetic: `|z| = lo − ((lo − hi)·f + 0xffff) >> 16`, which equals core's
//! `lo + ((hi − lo)·f) >> 16` with an arithmetic shift, without relying on signed shifts.

use cubecl::prelude::*;

/// Knots per table row (segments + 1).
pub const KNOT_ROW: u32 = 17;
/// The 2^-16 grid of the samples, as an exact f32.
pub const NOISE_SCALE: f32 = 1.0 / 65536.0;
/// Where the pool starts in the noise tables (core's `POOL_BASE`).
pub const POOL_BASE: u32 = eggroll_core::noise::pool::POOL_BASE as u32;
/// Core's `POOL_MASK`.
pub const POOL_MASK: u32 = eggroll_core::noise::pool::POOL_MASK;

/// Wellons' lowbias32 (core's `hash32`): a bijection on u32.
#[cube]
pub fn hash32(x_in: u32) -> u32 {
    let mut x = x_in;
    x ^= x >> 16u32;
    x *= 0x7feb_352du32;
    x ^= x >> 15u32;
    x *= 0x846c_a68bu32;
    x ^= x >> 16u32;
    x
}

/// One hash chain over the five key words (core's `StreamKey::new` fold).
#[cube]
pub fn key_chain(init: u32, seed_lo: u32, seed_hi: u32, param: u32, epoch: u32, pair: u32) -> u32 {
    let mut h = hash32(init ^ seed_lo);
    h = hash32(h ^ seed_hi);
    h = hash32(h ^ param);
    h = hash32(h ^ epoch);
    hash32(h ^ pair)
}

/// The uniform word at position `j` of the stream keyed `(k0, k1)` (core's `StreamKey::bits`).
#[cube]
pub fn noise_bits(k0: u32, k1: u32, j: u32) -> u32 {
    hash32(hash32(j ^ k0) + k1)
}

/// A uniform word mapped to a standard normal (core's `normal_fixed`, converted to f32
/// exactly: the magnitude is below 2^24 and the scale a power of two).
#[cube]
pub fn normal_from_bits(bits: u32, knots: &[u32]) -> f32 {
    let v = max(bits >> 1u32, 1u32);
    let lz = v.leading_zeros();
    let mantissa = (v << lz) << 1u32;
    let segment = mantissa >> 28u32;
    let frac = (mantissa >> 12u32) & 0xffffu32;
    let at = (lz - 1u32) * KNOT_ROW + segment;
    let lo = knots[at as usize];
    let hi = knots[at as usize + 1];
    let magnitude = lo - (((lo - hi) * frac + 0xffffu32) >> 16u32);
    let z = f32::cast_from(magnitude) * NOISE_SCALE;
    // The CPU negates the integer, so a zero magnitude stays +0 whatever the sign bit.
    select((bits & 1u32) == 1u32 && magnitude != 0u32, -z, z)
}

/// Element `j` of the stream keyed `(k0, k1)` (core's `normal_at`): the pool entry at the
/// window offset plus `j`, negated when bit `j % 32` of the stream's word `j / 32` is set.
#[cube]
pub fn normal_at(k0: u32, k1: u32, j: u32, knots: &[u32]) -> f32 {
    // The window offset is the low bits of k1 (core's `window_offset`).
    let at = (k1 + j) & POOL_MASK;
    let z = f32::cast_from(knots[(POOL_BASE + at) as usize]) * NOISE_SCALE;
    let negate = ((noise_bits(k0, k1, j >> 5u32) >> (j & 31u32)) & 1u32) == 1u32;
    select(negate, -z, z)
}

/// The noise stream a member uses (core's `Population::stream_of`); `flags` is core's
/// `Population::member_flags` (bit 0 = antithetic, bits 1.. = the baseline group size).
#[cube]
pub fn member_stream(member: u32, flags: u32) -> u32 {
    select((flags & 1u32) != 0u32, member / 2u32, member)
}

/// The sign of a member's perturbation (core's `Population::sign_of`): ±1, or 0 for a
/// baseline member (`member mod G < 2` with G = `flags >> 1` ≠ 0).
#[cube]
pub fn member_sign(member: u32, flags: u32) -> f32 {
    let g = flags >> 1u32;
    let mut s = select(
        (flags & 1u32) != 0u32 && (member & 1u32) == 1u32,
        -1.0f32,
        1.0f32,
    );
    // A uniform branch: plain populations (G = 0) never take the modulo (kept nested: a
    // cube's `&&` need not short-circuit, and the modulo by 0 must not run).
    #[allow(clippy::collapsible_if)]
    if g != 0u32 {
        if member % g < 2u32 {
            s = 0.0f32;
        }
    }
    s
}

/// The flat index of this unit in a 1D launch whose cubes are folded into a 2D grid.
#[cube]
pub fn flat_index() -> u32 {
    (CUBE_POS_Y * CUBE_COUNT_X + CUBE_POS_X) * CUBE_DIM_X + UNIT_POS_X
}
