//! Rows of Q4_0, Q4_1 and Q8_0 blocks dequantised many values at a time, for the decode's
//! compact weights ([`super::compact`]).
//!
//! A decode step dequantises every weight once (135 M values for SmolLM2), so the scalar
//! block functions, at about a value per nanosecond, would cost more than the memory traffic
//! the blocks save (`perf`: a fifth of a 32-row step). These do 16 values (AVX-512) or 8
//! (AVX2) per instruction with the scalar functions' arithmetic, one f32 multiply and one f32
//! add, never fused, so every value has the same bits as [`super::gguf::dequantize`] gives.

use super::gguf::GgmlType;

/// Dequantises whole blocks of one type: `bytes` in, 32 values per block out.
pub(crate) type RowsFn = fn(&[u8], &mut [f32]);

/// The fastest function for blocks of `ty` on this CPU (Q4_0, Q4_1 and Q8_0), or `None`.
pub(crate) fn rows_function(ty: GgmlType) -> Option<RowsFn> {
    widths(ty).first().map(|&(_, f)| f)
}

/// Every vector width this CPU runs for blocks of `ty`, widest first (none without F16C, or
/// for a type not kept compact).
fn widths(ty: GgmlType) -> Vec<(&'static str, RowsFn)> {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut found: Vec<(&'static str, RowsFn)> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if !has!("f16c") || !matches!(ty, GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0) {
            return found;
        }
        // SAFETY (every closure): pushed only where the CPU has the features it is compiled for.
        if has!("avx512f") {
            found.push(match ty {
                GgmlType::Q4_0 => ("avx512", |b, y| unsafe { avx512::q4(b, y, false) }),
                GgmlType::Q4_1 => ("avx512", |b, y| unsafe { avx512::q4(b, y, true) }),
                _ => ("avx512", |b, y| unsafe { avx512::q8_0(b, y) }),
            });
        }
        if has!("avx2") {
            found.push(match ty {
                GgmlType::Q4_0 => ("avx2", |b, y| unsafe { avx2::q4(b, y, false) }),
                GgmlType::Q4_1 => ("avx2", |b, y| unsafe { avx2::q4(b, y, true) }),
                _ => ("avx2", |b, y| unsafe { avx2::q8_0(b, y) }),
            });
        }
    }
    let _ = ty;
    found
}

/// The f16 at `b[0..2]` (lane 0) and the one at `b[2..4]` (lane 1, when `b` has it) as f32,
/// by the F16C instruction (exact, as every f16 is an f32).
///
/// # Safety
/// F16C must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "f16c")]
#[inline]
unsafe fn halves(b: &[u8]) -> std::arch::x86_64::__m128 {
    use std::arch::x86_64::*;
    let lo = u16::from_le_bytes([b[0], b[1]]) as u32;
    let hi = b
        .get(2..4)
        .map_or(0, |h| u16::from_le_bytes([h[0], h[1]]) as u32);
    _mm_cvtph_ps(_mm_cvtsi32_si128((lo | hi << 16) as i32))
}

/// 16 values a step.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::halves;
    use std::arch::x86_64::*;

    /// Q4_1 (`x = d·q + m`; `with_min`) or Q4_0 (`x = d·(q − 8)`) blocks.
    ///
    /// # Safety
    /// AVX-512F and F16C must be available (`rows_function` checked them); `y` holds 32
    /// values per block.
    #[target_feature(enable = "avx512f,f16c")]
    pub(super) unsafe fn q4(bytes: &[u8], y: &mut [f32], with_min: bool) {
        let bb = if with_min { 20 } else { 18 };
        for (b, y) in bytes.chunks_exact(bb).zip(y.chunks_exact_mut(32)) {
            let nibbles = &b[bb - 16..];
            // SAFETY: F16C is enabled here; `nibbles` holds 16 bytes and `y` 32 floats.
            unsafe {
                let dm = halves(&b[..bb - 16]);
                let d = _mm512_broadcastss_ps(dm);
                let q = _mm512_cvtepu8_epi32(_mm_loadu_si128(nibbles.as_ptr().cast()));
                let lo = _mm512_cvtepi32_ps(_mm512_and_si512(q, _mm512_set1_epi32(0x0f)));
                let hi = _mm512_cvtepi32_ps(_mm512_srli_epi32::<4>(q));
                let (lo, hi) = if with_min {
                    let m = _mm512_broadcastss_ps(_mm_movehdup_ps(dm));
                    (
                        _mm512_add_ps(_mm512_mul_ps(d, lo), m),
                        _mm512_add_ps(_mm512_mul_ps(d, hi), m),
                    )
                } else {
                    let eight = _mm512_set1_ps(8.0);
                    (
                        _mm512_mul_ps(d, _mm512_sub_ps(lo, eight)),
                        _mm512_mul_ps(d, _mm512_sub_ps(hi, eight)),
                    )
                };
                _mm512_storeu_ps(y.as_mut_ptr(), lo);
                _mm512_storeu_ps(y.as_mut_ptr().add(16), hi);
            }
        }
    }

    /// Q8_0 blocks (`x = d·q`, q signed).
    ///
    /// # Safety
    /// As [`q4`].
    #[target_feature(enable = "avx512f,f16c")]
    pub(super) unsafe fn q8_0(bytes: &[u8], y: &mut [f32]) {
        for (b, y) in bytes.chunks_exact(34).zip(y.chunks_exact_mut(32)) {
            // SAFETY: F16C is enabled here.
            let d = _mm512_broadcastss_ps(unsafe { halves(&b[..2]) });
            for h in 0..2 {
                // SAFETY: bytes 2 + 16h .. 18 + 16h lie in the block, floats 16h .. 16h + 16
                // in `y`.
                unsafe {
                    let q = _mm_loadu_si128(b.as_ptr().add(2 + 16 * h).cast());
                    let v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
                    _mm512_storeu_ps(y.as_mut_ptr().add(16 * h), _mm512_mul_ps(d, v));
                }
            }
        }
    }
}

/// 8 values a step.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::halves;
    use std::arch::x86_64::*;

    /// As the AVX-512 `q4`.
    ///
    /// # Safety
    /// AVX2 and F16C must be available; `y` holds 32 values per block.
    #[target_feature(enable = "avx2,f16c")]
    pub(super) unsafe fn q4(bytes: &[u8], y: &mut [f32], with_min: bool) {
        let bb = if with_min { 20 } else { 18 };
        for (b, y) in bytes.chunks_exact(bb).zip(y.chunks_exact_mut(32)) {
            // SAFETY: F16C is enabled here.
            let dm = unsafe { halves(&b[..bb - 16]) };
            let (d, m) = (
                _mm256_broadcastss_ps(dm),
                _mm256_broadcastss_ps(_mm_movehdup_ps(dm)),
            );
            let (mask, eight) = (_mm256_set1_epi32(0x0f), _mm256_set1_ps(8.0));
            for h in 0..2 {
                // SAFETY: bytes 8h .. 8h + 8 of the 16 nibble bytes, floats 8h .. 8h + 8 and
                // 16 + 8h .. 24 + 8h of `y`.
                unsafe {
                    let raw = _mm_loadl_epi64(b.as_ptr().add(bb - 16 + 8 * h).cast());
                    let q = _mm256_cvtepu8_epi32(raw);
                    for (half, at) in [
                        (_mm256_and_si256(q, mask), 8 * h),
                        (_mm256_srli_epi32::<4>(q), 16 + 8 * h),
                    ] {
                        let v = _mm256_cvtepi32_ps(half);
                        let x = if with_min {
                            _mm256_add_ps(_mm256_mul_ps(d, v), m)
                        } else {
                            _mm256_mul_ps(d, _mm256_sub_ps(v, eight))
                        };
                        _mm256_storeu_ps(y.as_mut_ptr().add(at), x);
                    }
                }
            }
        }
    }

    /// As the AVX-512 `q8_0`.
    ///
    /// # Safety
    /// As [`q4`].
    #[target_feature(enable = "avx2,f16c")]
    pub(super) unsafe fn q8_0(bytes: &[u8], y: &mut [f32]) {
        for (b, y) in bytes.chunks_exact(34).zip(y.chunks_exact_mut(32)) {
            // SAFETY: F16C is enabled here.
            let d = _mm256_broadcastss_ps(unsafe { halves(&b[..2]) });
            for h in 0..4 {
                // SAFETY: bytes 2 + 8h .. 10 + 8h lie in the block, floats 8h .. 8h + 8 in `y`.
                unsafe {
                    let q = _mm_loadl_epi64(b.as_ptr().add(2 + 8 * h).cast());
                    let v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
                    _mm256_storeu_ps(y.as_mut_ptr().add(8 * h), _mm256_mul_ps(d, v));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llama::gguf::dequantize;

    /// Blocks of `ty` from a hash: every nibble and byte value, scales of both signs (and a
    /// zero, a subnormal and a large one).
    fn blocks(ty: GgmlType, n: usize) -> Vec<u8> {
        let scales: [u16; 6] = [0x3c00, 0xb800, 0x0000, 0x0001, 0x7bff, 0x2e66];
        let bb = ty.block_bytes();
        let mut out = Vec::with_capacity(n * bb);
        for i in 0..n {
            let mut b: Vec<u8> = (0..bb)
                .map(|j| eggroll_core::noise::hash32((i * bb + j) as u32) as u8)
                .collect();
            b[..2].copy_from_slice(&scales[i % 6].to_le_bytes());
            if ty == GgmlType::Q4_1 {
                b[2..4].copy_from_slice(&scales[(i + 3) % 6].to_le_bytes());
            }
            out.extend(b);
        }
        out
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn fast_rows_equal_the_scalar_dequantisation_bit_for_bit() {
        for ty in [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0] {
            let b = blocks(ty, 60);
            let mut want = vec![0.0f32; 60 * 32];
            dequantize(ty, &b, &mut want).unwrap();
            let found = widths(ty);
            if found.is_empty() {
                eprintln!("skipped: no AVX2 here, the compact rows are never used");
            }
            for (name, fast) in found {
                let mut got = vec![f32::NAN; 60 * 32];
                fast(&b, &mut got);
                for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                    assert_eq!(
                        w.to_bits(),
                        g.to_bits(),
                        "{name} {ty} value {i}: {w} vs {g}"
                    );
                }
            }
        }
    }
}
