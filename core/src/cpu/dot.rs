//! The dot product of the CPU kernels, with one fixed summation order at every vector width.
//!
//! Element `i` goes to partial sum `i % DOT_LANES`; the partial sums are combined by a fixed
//! pairwise tree (lane `l` += lane `l + w` for w = 16, 8, 4, 2, 1), then the elements past the
//! last whole block are added one by one. The portable loop and the AVX2 kernel (four 8-lane
//! registers per row, also used on AVX-512 machines; it computes two rows' dot products with
//! one vector, as the forward's antithetic pairs need) perform the same roundings in the same
//! order, so results never depend on the machine. The compiler's own vectorisation of the
//! portable loop moved pairs of floats through 128-bit registers, hence the hand-written kernel.

/// Independent partial sums (four AVX2 registers).
pub const DOT_LANES: usize = 32;

/// The elements past the last whole block of [`DOT_LANES`], summed in order.
#[inline(always)]
fn tail_sum(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x * y)
}

/// The dot product of the common prefix of `a` and `b` (portable reference of the order).
#[inline(always)]
pub fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ac, bc) = (
        a[..n].chunks_exact(DOT_LANES),
        b[..n].chunks_exact(DOT_LANES),
    );
    let tail = tail_sum(ac.remainder(), bc.remainder());
    let mut acc = [0.0f32; DOT_LANES];
    for (ca, cb) in ac.zip(bc) {
        for l in 0..DOT_LANES {
            acc[l] += ca[l] * cb[l];
        }
    }
    let mut width = DOT_LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0] + tail
}

/// The dot products of `a0` and `a1` with the same `b` ([`dot_portable`]'s order for each):
/// `b` is loaded once for both, and the two independent sums hide each other's latency.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub unsafe fn dot2_avx2(a0: &[f32], a1: &[f32], b: &[f32]) -> (f32, f32) {
    use std::arch::x86_64::*;
    let n = a0.len().min(a1.len()).min(b.len());
    let (c0, c1, cb) = (
        a0[..n].chunks_exact(DOT_LANES),
        a1[..n].chunks_exact(DOT_LANES),
        b[..n].chunks_exact(DOT_LANES),
    );
    let tails = (
        tail_sum(c0.remainder(), cb.remainder()),
        tail_sum(c1.remainder(), cb.remainder()),
    );
    let (mut acc0, mut acc1) = ([_mm256_setzero_ps(); 4], [_mm256_setzero_ps(); 4]);
    for ((x0, x1), y) in c0.zip(c1).zip(cb) {
        for (q, (s0, s1)) in acc0.iter_mut().zip(acc1.iter_mut()).enumerate() {
            // SAFETY: each block holds DOT_LANES = 32 floats; q·8 + 8 <= 32.
            let (v0, v1, w) = unsafe {
                (
                    _mm256_loadu_ps(x0.as_ptr().add(q * 8)),
                    _mm256_loadu_ps(x1.as_ptr().add(q * 8)),
                    _mm256_loadu_ps(y.as_ptr().add(q * 8)),
                )
            };
            *s0 = _mm256_add_ps(*s0, _mm256_mul_ps(v0, w));
            *s1 = _mm256_add_ps(*s1, _mm256_mul_ps(v1, w));
        }
    }
    (reduce32(acc0) + tails.0, reduce32(acc1) + tails.1)
}

/// The whole tree on four 8-lane partial sums: lanes l += l + 16, then l += l + 8, then
/// [`reduce8`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn reduce32(acc: [std::arch::x86_64::__m256; 4]) -> f32 {
    use std::arch::x86_64::*;
    let s8 = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
    reduce8(s8)
}

/// The last three levels of the tree on eight lanes: l += l+4, l += l+2, l += l+1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn reduce8(s8: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
    let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    let s1 = _mm_add_ss(s2, _mm_shuffle_ps::<1>(s2, s2));
    _mm_cvtss_f32(s1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, salt: u32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| {
                let h = crate::noise::hash32(i ^ salt.wrapping_mul(0x9e37_79b9));
                (h as i32 as f32) * 2f32.powi(-31) * (1.0 + (i % 7) as f32)
            })
            .collect()
    }

    #[test]
    fn portable_matches_a_double_precision_sum() {
        let (a, b) = (data(1000, 1), data(1000, 2));
        let exact: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
        assert!((dot_portable(&a, &b) as f64 - exact).abs() < 1e-4);
        assert_eq!(dot_portable(&[2.0, 3.0], &[4.0, 5.0, 6.0]), 23.0);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_kernel_is_bit_identical_to_the_portable_order() {
        for n in [0usize, 1, 31, 32, 33, 64, 255, 256, 1000, 1024] {
            let (a, b) = (data(n, n as u32), data(n + 3, 7));
            let want = dot_portable(&a, &b).to_bits();
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 support checked just above.
                let a1 = data(n + 1, 9);
                let (d0, d1) = unsafe { dot2_avx2(&a, &a1, &b) };
                assert_eq!(d0.to_bits(), want, "dot2 first, n = {n}");
                assert_eq!(
                    d1.to_bits(),
                    dot_portable(&a1[..n], &b).to_bits(),
                    "dot2, n = {n}"
                );
            }
        }
    }
}
