//! Integer matrix kernels: `acc[r][o] = Σ_k x[r][k] · w[o][k]` on int8-range values held as
//! i16, accumulated in i32. An AVX2 path (`vpmaddwd`, 4×3 register blocks) is chosen at run
//! time when the CPU has it; the portable path gives the same bits (integer sums are exact, so
//! the summation order does not matter as long as nothing overflows: callers keep
//! `k · 127² < 2^31`).

/// Whether the AVX2 kernels are used on this machine.
pub fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `acc[r·outs + o] = Σ_i x[r·k + i] · w[o·k + i]` for `rows × k` inputs and `outs × k`
/// weights, using SIMD when available.
pub fn gemm_i16(x: &[i16], rows: usize, w: &[i16], outs: usize, k: usize, acc: &mut [i32]) {
    assert!(x.len() >= rows * k && w.len() >= outs * k && acc.len() >= rows * outs);
    #[cfg(target_arch = "x86_64")]
    {
        if simd_available() {
            // SAFETY: AVX2 is present (checked above) and the slice bounds were asserted.
            unsafe { avx2::gemm(x, rows, w, outs, k, acc) };
            return;
        }
    }
    gemm_i16_portable(x, rows, w, outs, k, acc);
}

/// The portable reference of [`gemm_i16`] (plain loops, auto-vectorised).
pub fn gemm_i16_portable(
    x: &[i16],
    rows: usize,
    w: &[i16],
    outs: usize,
    k: usize,
    acc: &mut [i32],
) {
    for r in 0..rows {
        let xr = &x[r * k..r * k + k];
        for o in 0..outs {
            acc[r * outs + o] = dot_portable(xr, &w[o * k..o * k + k]);
        }
    }
}

/// Integer dot product of two equally long i16 slices (portable).
#[inline]
pub fn dot_portable(a: &[i16], b: &[i16]) -> i32 {
    a.iter().zip(b).map(|(&p, &q)| p as i32 * q as i32).sum()
}

/// Integer dot product, SIMD when available (one `vpmaddwd` loop, no GEMM blocking).
#[inline]
pub fn dot(a: &[i16], b: &[i16]) -> i32 {
    let n = a.len().min(b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if simd_available() {
            // SAFETY: AVX2 is present (checked above); both slices hold `n` values.
            return unsafe { avx2::dot(&a[..n], &b[..n]) };
        }
    }
    dot_portable(&a[..n], &b[..n])
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn hsum(v: __m256i) -> i32 {
        let lo = _mm256_castsi256_si128(v);
        let hi = _mm256_extracti128_si256(v, 1);
        let s = _mm_add_epi32(lo, hi);
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
        _mm_cvtsi128_si32(s)
    }

    /// `Σ a[i]·b[i]` of two equally long slices, two accumulators wide.
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot(a: &[i16], b: &[i16]) -> i32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut s0, mut s1) = (_mm256_setzero_si256(), _mm256_setzero_si256());
        let mut i = 0;
        while i + 32 <= n {
            // SAFETY: i + 32 ≤ n for both slices.
            unsafe {
                let (a0, b0) = (
                    _mm256_loadu_si256(pa.add(i) as *const __m256i),
                    _mm256_loadu_si256(pb.add(i) as *const __m256i),
                );
                let (a1, b1) = (
                    _mm256_loadu_si256(pa.add(i + 16) as *const __m256i),
                    _mm256_loadu_si256(pb.add(i + 16) as *const __m256i),
                );
                s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(a0, b0));
                s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(a1, b1));
            }
            i += 32;
        }
        if i + 16 <= n {
            // SAFETY: i + 16 ≤ n.
            unsafe {
                let (a0, b0) = (
                    _mm256_loadu_si256(pa.add(i) as *const __m256i),
                    _mm256_loadu_si256(pb.add(i) as *const __m256i),
                );
                s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(a0, b0));
            }
            i += 16;
        }
        // SAFETY: AVX2 is enabled here.
        let mut t = unsafe { hsum(_mm256_add_epi32(s0, s1)) };
        for j in i..n {
            t += a[j] as i32 * b[j] as i32;
        }
        t
    }

    /// One `R × O` register block over the whole `k`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn block<const R: usize, const O: usize>(
        x: *const i16,
        w: *const i16,
        k: usize,
        acc: *mut i32,
        outs: usize,
    ) {
        let mut s = [[_mm256_setzero_si256(); O]; R];
        let full = k / 16;
        for c in 0..full {
            let mut wv = [_mm256_setzero_si256(); O];
            for (o, v) in wv.iter_mut().enumerate() {
                // SAFETY: c·16 + 16 ≤ k, inside row o of w.
                *v = unsafe { _mm256_loadu_si256(w.add(o * k + c * 16) as *const __m256i) };
            }
            for (r, sr) in s.iter_mut().enumerate() {
                // SAFETY: as above for row r of x.
                let xv = unsafe { _mm256_loadu_si256(x.add(r * k + c * 16) as *const __m256i) };
                for o in 0..O {
                    sr[o] = _mm256_add_epi32(sr[o], _mm256_madd_epi16(xv, wv[o]));
                }
            }
        }
        for (r, sr) in s.iter().enumerate() {
            for (o, &v) in sr.iter().enumerate() {
                let mut t = unsafe { hsum(v) };
                for i in full * 16..k {
                    // SAFETY: i < k inside rows r and o.
                    t += unsafe { *x.add(r * k + i) as i32 * *w.add(o * k + i) as i32 };
                }
                // SAFETY: r < rows and o < outs of the caller's block.
                unsafe { *acc.add(r * outs + o) = t };
            }
        }
    }

    /// AVX2 GEMM: outer loop over blocks of 3 weight rows (kept in L1), inner over 4-row
    /// blocks of inputs.
    #[target_feature(enable = "avx2")]
    pub unsafe fn gemm(x: &[i16], rows: usize, w: &[i16], outs: usize, k: usize, acc: &mut [i32]) {
        let (xp, wp, ap) = (x.as_ptr(), w.as_ptr(), acc.as_mut_ptr());
        let mut o = 0;
        while o < outs {
            let on = (outs - o).min(3);
            let mut r = 0;
            while r < rows {
                let rn = (rows - r).min(4);
                // SAFETY: the block lies inside the asserted bounds.
                unsafe {
                    let (xb, wb, ab) = (xp.add(r * k), wp.add(o * k), ap.add(r * outs + o));
                    match (rn, on) {
                        (4, 3) => block::<4, 3>(xb, wb, k, ab, outs),
                        (4, 2) => block::<4, 2>(xb, wb, k, ab, outs),
                        (4, 1) => block::<4, 1>(xb, wb, k, ab, outs),
                        (_, 3) => {
                            for i in 0..rn {
                                block::<1, 3>(xb.add(i * k), wb, k, ab.add(i * outs), outs);
                            }
                        }
                        (_, 2) => {
                            for i in 0..rn {
                                block::<1, 2>(xb.add(i * k), wb, k, ab.add(i * outs), outs);
                            }
                        }
                        _ => {
                            for i in 0..rn {
                                block::<1, 1>(xb.add(i * k), wb, k, ab.add(i * outs), outs);
                            }
                        }
                    }
                }
                r += rn;
            }
            o += on;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(n: usize, seed: u32) -> Vec<i16> {
        (0..n as u32)
            .map(|i| (crate::noise::hash32(i ^ seed.wrapping_mul(0x9e37_79b9)) % 255) as i16 - 127)
            .collect()
    }

    #[test]
    fn hand_computed_case() {
        let x = [1i16, 2, 3, -4, 5, 6];
        let w = [1i16, 0, -1, 2, 2, 2, 127, -127, 0];
        let mut acc = [0i32; 6];
        gemm_i16(&x, 2, &w, 3, 3, &mut acc);
        assert_eq!(acc, [-2, 12, -127, -10, 14, -1143]);
    }

    #[test]
    fn simd_matches_portable_on_ragged_shapes() {
        for &(rows, outs, k) in &[
            (1, 1, 1),
            (5, 7, 33),
            (4, 3, 16),
            (9, 4, 100),
            (13, 11, 256),
            (2, 256, 2048),
        ] {
            let x = fill(rows * k, 1);
            let w = fill(outs * k, 2);
            let mut a = vec![0; rows * outs];
            let mut b = vec![1; rows * outs];
            gemm_i16(&x, rows, &w, outs, k, &mut a);
            gemm_i16_portable(&x, rows, &w, outs, k, &mut b);
            assert_eq!(a, b, "shape {rows}x{outs}x{k}");
        }
    }

    #[test]
    fn dot_matches_portable_at_every_tail_length() {
        let (x, w) = (fill(1100, 3), fill(1100, 4));
        for n in (0..70).chain([255, 256, 1023, 1100]) {
            assert_eq!(
                dot(&x[..n], &w[..n]),
                dot_portable(&x[..n], &w[..n]),
                "n = {n}"
            );
        }
    }

    #[test]
    fn extremes_do_not_overflow_at_fan_in_1024() {
        let x = vec![-127i16; 1024];
        let w = vec![-127i16; 1024];
        assert_eq!(dot(&x, &w), 127 * 127 * 1024);
        assert_eq!(dot_portable(&x, &w), 127 * 127 * 1024);
    }
}
