//! The AVX-512 kernel of [`super::gemm_nt`]: the same unpacked `x·Wᵀ`, 16 lanes wide.
//!
//! On a CPU with full-width AVX-512 FMA units (AMD Zen 5, Intel server cores) the 8-lane AVX2
//! kernel can reach only half the machine's GEMM peak, and a SmolLM2 decode step spent a third
//! of its time there (`perf`, batch 64). This kernel keeps a 4 × 4 block of outputs in sixteen
//! 16-lane accumulators (four W rows in registers per block of four x rows). Its summation
//! order is fixed like the AVX2 kernel's: lane `i % 16` takes the products of elements `i` of
//! each 16-element block, the lanes are added by a fixed tree, then the tail in order. So the
//! result does not depend on the thread count; it differs from the AVX2 kernel's in the last
//! bits, as the blocked GEMM's AVX-512 and AVX2 kernels differ from each other.

use super::gemm_nt::OutPtr;

/// Whether this CPU can run [`columns_avx512`].
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Columns `c0..c1` of every row of the output, in blocks of 4 rows × 4 columns.
///
/// # Safety
/// AVX-512F must be available, `x` must hold `rows × k` and `w` `n × k` floats, the output
/// `rows × n`, and no other thread may write these columns.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn columns_avx512(
    x: &[f32],
    rows: usize,
    w: &[f32],
    k: usize,
    n: usize,
    c0: usize,
    c1: usize,
    out: OutPtr,
) {
    macro_rules! dispatch {
        ($nr:expr, $nc:expr, $r:expr, $c:expr; $(($R:literal, $C:literal)),*) => {
            match ($nr, $nc) {
                // SAFETY: the caller's contract; the block lies inside the output.
                $(($R, $C) => unsafe { block::<$R, $C>(x, w, k, n, $r, $c, out) },)*
                _ => unreachable!("blocks are at most 4 × 4"),
            }
        };
    }
    let mut c = c0;
    while c < c1 {
        let nc = (c1 - c).min(4);
        let mut r = 0;
        while r < rows {
            let nr = (rows - r).min(4);
            dispatch!(nr, nc, r, c;
                (4, 4), (4, 3), (4, 2), (4, 1), (3, 4), (3, 3), (3, 2), (3, 1),
                (2, 4), (2, 3), (2, 2), (2, 1), (1, 4), (1, 3), (1, 2), (1, 1));
            r += nr;
        }
        c += nc;
    }
}

/// Outputs `(r..r+R) × (c..c+C)`: `R·C` dot products of length `k`.
///
/// # Safety
/// As [`columns_avx512`]; `r + R <= rows`, `c + C <= n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn block<const R: usize, const C: usize>(
    x: &[f32],
    w: &[f32],
    k: usize,
    n: usize,
    r: usize,
    c: usize,
    out: OutPtr,
) {
    use std::arch::x86_64::*;
    let whole = k - k % 16;
    let xp: [*const f32; R] = std::array::from_fn(|i| x[(r + i) * k..].as_ptr());
    let wp: [*const f32; C] = std::array::from_fn(|j| w[(c + j) * k..].as_ptr());
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    let mut p = 0;
    while p < whole {
        // SAFETY: p + 16 <= k for rows of length k inside x and w.
        let wv: [__m512; C] = std::array::from_fn(|j| unsafe { _mm512_loadu_ps(wp[j].add(p)) });
        for i in 0..R {
            // SAFETY: as above.
            let xv = unsafe { _mm512_loadu_ps(xp[i].add(p)) };
            for j in 0..C {
                acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
            }
        }
        p += 16;
    }
    for i in 0..R {
        for j in 0..C {
            let mut s = reduce16(acc[i][j]);
            for q in whole..k {
                // SAFETY: q < k.
                s += unsafe { *xp[i].add(q) * *wp[j].add(q) };
            }
            // SAFETY: (r + i, c + j) lies in the output, in this task's columns.
            unsafe { *out.0.add((r + i) * n + c + j) = s };
        }
    }
}

/// The sixteen lanes added by a fixed tree: l += l+8, l += l+4, l += l+2, l += l+1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn reduce16(s16: std::arch::x86_64::__m512) -> f32 {
    use std::arch::x86_64::*;
    let lo = _mm512_castps512_ps256(s16);
    let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(s16)));
    let s8 = _mm256_add_ps(lo, hi);
    let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
    let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    let s1 = _mm_add_ss(s2, _mm_shuffle_ps::<1>(s2, s2));
    _mm_cvtss_f32(s1)
}
