//! The rescale of an int32 accumulator back to int8 range: `clip((acc·M) >> 32, −127, 127)`
//! with `M = rescale_multiplier(fan_in) = round(2^32 / (16·⌊√fan_in⌋))`, on AVX2 where the CPU
//! has it (`vpmuldq` on even and odd lanes, the products' high halves are exactly the `>> 32`)
//! and portable loops otherwise, with the same bits.

/// The multiplier `round(2^32 / (16·⌊√fan_in⌋))` of a matrix's rescale.
pub fn rescale_multiplier(fan_in: usize) -> i64 {
    let mut s = 1usize;
    while (s + 1) * (s + 1) <= fan_in {
        s += 1;
    }
    let div = 16 * s as i64;
    ((1i64 << 32) + div / 2) / div
}

/// Rescale `acc` (rows × out, fan-in `inp`) into int8-range values, row `r` going to
/// `dst[r·stride ..][.. out]`.
pub fn rescale_into(
    acc: &[i32],
    rows: usize,
    out: usize,
    inp: usize,
    dst: &mut [i16],
    stride: usize,
) {
    let m = rescale_multiplier(inp);
    for r in 0..rows {
        rescale_row(&acc[r * out..][..out], m, &mut dst[r * stride..][..out]);
    }
}

/// `dst[i] = clip((src[i]·m) >> 32, −127, 127)` for one row (`m` below 2^31, as every
/// [`rescale_multiplier`] is), SIMD when available.
pub fn rescale_row(src: &[i32], m: i64, dst: &mut [i16]) {
    let n = src.len().min(dst.len());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && (0..=i32::MAX as i64).contains(&m) {
        // SAFETY: AVX2 is present; the kernel touches `n` values of each slice.
        unsafe { avx2::rescale(&src[..n], m as i32, &mut dst[..n]) };
        return;
    }
    rescale_row_portable(&src[..n], m, &mut dst[..n]);
}

/// The portable reference of [`rescale_row`].
pub fn rescale_row_portable(src: &[i32], m: i64, dst: &mut [i16]) {
    for (o, &v) in dst.iter_mut().zip(src) {
        *o = (((v as i64 * m) >> 32) as i32).clamp(-127, 127) as i16;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Eight values at a time; the tail through the portable path.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn rescale(src: &[i32], m: i32, dst: &mut [i16]) {
        let mv = _mm256_set1_epi32(m);
        let (lo, hi) = (_mm256_set1_epi32(-127), _mm256_set1_epi32(127));
        let full = src.len() / 8;
        for c in 0..full {
            // SAFETY: c·8 + 8 ≤ len for both slices.
            let v = unsafe { _mm256_loadu_si256(src.as_ptr().add(c * 8) as *const __m256i) };
            let even = _mm256_mul_epi32(v, mv);
            let odd = _mm256_mul_epi32(_mm256_srli_epi64(v, 32), mv);
            let y = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0b1010_1010);
            let y = _mm256_min_epi32(_mm256_max_epi32(y, lo), hi);
            let p = _mm256_permute4x64_epi64(_mm256_packs_epi32(y, y), 0b00_00_10_00);
            // SAFETY: as above (eight i16).
            unsafe {
                _mm_storeu_si128(
                    dst.as_mut_ptr().add(c * 8) as *mut __m128i,
                    _mm256_castsi256_si128(p),
                )
            };
        }
        super::rescale_row_portable(&src[full * 8..], m as i64, &mut dst[full * 8..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_rescale_matches_portable_on_extremes() {
        let mut src: Vec<i32> = (0..1000u32)
            .map(|i| crate::noise::hash32(i) as i32 >> (i % 31))
            .collect();
        src.extend([
            i32::MIN,
            i32::MAX,
            -1,
            0,
            1,
            4095,
            -4096,
            4096 * 127,
            -4096 * 128,
        ]);
        for inp in [1, 64, 256, 512, 1024, 4096] {
            let m = rescale_multiplier(inp);
            for len in [src.len(), 7, 8, 9, 17] {
                let (mut a, mut b) = (vec![9i16; len], vec![-9i16; len]);
                rescale_row(&src[..len], m, &mut a);
                rescale_row_portable(&src[..len], m, &mut b);
                assert_eq!(a, b, "fan-in {inp}, {len} values");
            }
        }
    }

    #[test]
    fn rescale_multiplier_hand_values() {
        assert_eq!(rescale_multiplier(256), (1i64 << 32) / 256);
        assert_eq!(rescale_multiplier(1), (1i64 << 32) / 16);
        // ⌊√512⌋ = 22.
        assert_eq!(rescale_multiplier(512), ((1i64 << 32) + 176) / 352);
    }
}
