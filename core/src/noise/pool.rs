//! The fixed pool of normal magnitudes that every noise stream reads a window of.
//!
//! The pool holds [`POOL_LEN`] magnitudes |Z| in units of 2^-16: one per stratum of tail
//! probability, `|z_k| = normal_fixed` at t = (k + ½) / POOL_LEN (the quantile table's value,
//! at least one unit), in an order shuffled by a fixed integer Fisher–Yates. It is a pure
//! function of the quantile table and the hash, built with integer operations only, so every
//! CPU, MPI rank and GPU (which receives it as a buffer) holds the same integers.
//!
//! Element `j` of a stream keyed `key` is the pool entry at `(offset(key) + j) mod POOL_LEN`
//! (the offset is the low bits of the key's second word, itself a hash output), negated when
//! bit `j mod 32` of `key.bits(j / 32)` is set. Signs are independent fair coins
//! per element, so two streams are uncorrelated even where their windows overlap; a stream
//! shorter than the pool never repeats a magnitude. This is the noise-table idea of OpenAI's
//! ES starter and nano-egg, with per-element signs so the table can stay small enough for a
//! core's L2 cache: one hash per 32 elements instead of two per element.

use super::hash::{hash32, StreamKey};
use super::sample::normal_fixed;
use super::table::{OCTAVES, QUANTILE_KNOTS, SEGMENTS};
use super::NOISE_SCALE;
use std::sync::OnceLock;

/// Log2 of the pool's length.
pub const POOL_BITS: u32 = 17;
/// Magnitudes in the pool (2^17: 512 KiB of f32, at most 4.6 in magnitude).
pub const POOL_LEN: usize = 1 << POOL_BITS;
/// `POOL_LEN − 1`, the mask that wraps a window around the pool.
pub const POOL_MASK: u32 = (1 << POOL_BITS) - 1;
/// Elements that share one sign word.
pub const SIGN_WORD: u32 = 32;

/// Index of the pool's first magnitude in [`device_tables`] (after the quantile knots).
pub const POOL_BASE: usize = OCTAVES * (SEGMENTS + 1);

/// The tables a device kernel reads, as one buffer of 32-bit words: the quantile knots
/// row-major (`normal_fixed`'s table, for the integer noise), then the pool's magnitudes from
/// [`POOL_BASE`] on. Every word is below 2^31, so kernels may read it as i32 or u32.
pub fn device_tables() -> Vec<u32> {
    QUANTILE_KNOTS
        .iter()
        .flatten()
        .map(|&k| k.max(0) as u32)
        .chain(pool_magnitudes().iter().copied())
        .collect()
}

/// Salt of the shuffle's hash, a fixed part of the specification.
const SHUFFLE_SALT: u32 = 0x5eed_9001;

/// The pool's magnitudes in units of 2^-16, in stream order (every entry is in 1 .. 2^19).
pub fn pool_magnitudes() -> &'static [u32] {
    static POOL: OnceLock<Vec<u32>> = OnceLock::new();
    POOL.get_or_init(build_magnitudes)
}

fn build_magnitudes() -> Vec<u32> {
    // Sign bit 0 and the other 31 bits at the middle of stratum k: v = (2k + 1)·2^(30 − BITS).
    let mut pool: Vec<u32> = (0..POOL_LEN as u32)
        .map(|k| {
            let bits = (2 * k + 1) << (31 - POOL_BITS);
            normal_fixed(bits).max(1) as u32
        })
        .collect();
    for i in (1..POOL_LEN).rev() {
        let h = hash32(hash32(i as u32 ^ SHUFFLE_SALT).wrapping_add(SHUFFLE_SALT));
        let j = ((u64::from(h) * (i as u64 + 1)) >> 32) as usize;
        pool.swap(i, j);
    }
    pool
}

/// The pool as f32, followed by a copy of its first [`SIGN_WORD`] entries so that the
/// [`SIGN_WORD`] elements after any position are contiguous.
pub(crate) fn pool_f32() -> &'static [f32] {
    static POOL: OnceLock<Vec<f32>> = OnceLock::new();
    POOL.get_or_init(|| {
        let m = pool_magnitudes();
        m.iter()
            .chain(&m[..SIGN_WORD as usize])
            .map(|&v| v as f32 * NOISE_SCALE)
            .collect()
    })
}

/// Where stream `key`'s window starts in the pool: the low bits of `k1` (a hash output, so
/// uniform; no further hashing, which would sit on the latency path of every stream).
#[inline(always)]
pub fn window_offset(key: StreamKey) -> u32 {
    key.k1 & POOL_MASK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_is_a_permutation_of_the_strata() {
        let mut sorted = pool_magnitudes().to_vec();
        sorted.sort_unstable();
        // Stratum k's magnitude decreases with k, so the sorted pool is the strata reversed.
        let strata: Vec<u32> = (0..POOL_LEN as u32)
            .rev()
            .map(|k| normal_fixed((2 * k + 1) << (31 - POOL_BITS)).max(1) as u32)
            .collect();
        assert_eq!(sorted, strata);
        assert!(sorted[0] >= 1 && sorted[POOL_LEN - 1] < 1 << 19);
    }

    #[test]
    fn device_tables_hold_the_knots_then_the_pool() {
        let t = device_tables();
        assert_eq!(t.len(), POOL_BASE + POOL_LEN);
        assert_eq!(t[SEGMENTS + 1] as i32, QUANTILE_KNOTS[1][0]);
        assert_eq!(
            t[POOL_BASE - 1] as i32,
            QUANTILE_KNOTS[OCTAVES - 1][SEGMENTS]
        );
        assert!(QUANTILE_KNOTS.iter().flatten().all(|&k| k >= 0));
        assert_eq!(&t[POOL_BASE..], pool_magnitudes());
    }

    #[test]
    fn pool_is_shuffled() {
        // Neighbours in the pool are unrelated: their magnitudes barely correlate.
        let p: Vec<f64> = pool_magnitudes().iter().map(|&v| v as f64).collect();
        let mean = p.iter().sum::<f64>() / p.len() as f64;
        let var = p.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
        let cov: f64 = p.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum();
        assert!(
            (cov / var).abs() < 5.0 / (p.len() as f64).sqrt(),
            "{}",
            cov / var
        );
    }

    #[test]
    fn pool_mean_square_is_one() {
        let ms = pool_f32()[..POOL_LEN]
            .iter()
            .map(|&v| (v as f64).powi(2))
            .sum::<f64>()
            / POOL_LEN as f64;
        assert!((ms - 1.0).abs() < 1e-4, "{ms}");
        assert_eq!(pool_f32()[POOL_LEN..], pool_f32()[..SIGN_WORD as usize]);
    }
}
