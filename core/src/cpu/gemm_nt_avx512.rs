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
        ($nr:expr, $nc:expr, $r:expr, $c:expr, $mask:expr; $(($R:literal, $C:literal)),*) => {
            match ($nr, $nc, $mask != 0) {
                // SAFETY: the caller's contract; the block lies inside the output.
                $(($R, $C, false) => unsafe { block::<$R, $C, false>(x, w, k, n, $r, $c, out, 0) },
                  ($R, $C, true) => unsafe { block::<$R, $C, true>(x, w, k, n, $r, $c, out, $mask) },)*
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
            // The first row blocks fetch the next column block's W rows (`prefetch_mask`).
            let mask = prefetch_mask(rows, r / 4, c + nc < c1);
            dispatch!(nr, nc, r, c, mask;
                (4, 4), (4, 3), (4, 2), (4, 1), (3, 4), (3, 3), (3, 2), (3, 1),
                (2, 4), (2, 3), (2, 2), (2, 1), (1, 4), (1, 3), (1, 2), (1, 1));
            r += nr;
        }
        c += nc;
    }
}

/// Which of the next column block's four W rows row block `row_block` fetches into L1 while
/// it computes (bit `j`: row `j`), so that block's weights arrive while this one's are in use:
/// the first four row blocks share the four rows. Decode steps read every weight once from
/// memory, and the first row block used to wait for each W row; with the fetches 30 streamed
/// 1536 × 576 matrices took 10–18% less time at 32–64 rows (6.6–6.9 ms instead of 8.0 at 32;
/// 4.4 ms with W in cache). With at most four rows (one row block) the fetches only compete
/// with the hardware prefetcher, so none are issued. A fetch changes no result.
fn prefetch_mask(rows: usize, row_block: usize, next_block: bool) -> u32 {
    let blocks = rows.div_ceil(4).min(4);
    if !next_block || blocks < 2 || row_block >= blocks {
        return 0;
    }
    (0..4)
        .filter(|j| j % blocks == row_block)
        .map(|j| 1u32 << j)
        .sum()
}

/// Outputs `(r..r+R) × (c..c+C)`: `R·C` dot products of length `k`.
///
/// # Safety
/// As [`columns_avx512`]; `r + R <= rows`, `c + C <= n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn block<const R: usize, const C: usize, const PF: bool>(
    x: &[f32],
    w: &[f32],
    k: usize,
    n: usize,
    r: usize,
    c: usize,
    out: OutPtr,
    prefetch: u32,
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
        if PF {
            for j in 0..4 {
                if prefetch & (1 << j) != 0 {
                    // The same element of the next block's W row j: one cache line per step.
                    _mm_prefetch::<_MM_HINT_T0>(wp[0].wrapping_add(p + (C + j) * k).cast());
                }
            }
        }
        for i in 0..R {
            // SAFETY: as above.
            let xv = unsafe { _mm512_loadu_ps(xp[i].add(p)) };
            for j in 0..C {
                acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
            }
        }
        p += 16;
    }
    if R == 4 && C == 4 {
        // A whole block: its sixteen reductions share their shuffles (`reduce4x4`); 128-bit
        // lane i of the result is row r + i's four outputs.
        let sums = reduce4x4(std::array::from_fn(|i| std::array::from_fn(|j| acc[i][j])));
        let rows: [__m128; 4] = [
            _mm512_extractf32x4_ps::<0>(sums),
            _mm512_extractf32x4_ps::<1>(sums),
            _mm512_extractf32x4_ps::<2>(sums),
            _mm512_extractf32x4_ps::<3>(sums),
        ];
        for (i, &row) in rows.iter().enumerate() {
            // SAFETY: row r + i, columns c..c + 4 lie in the output, in this task's columns.
            let dst = unsafe { out.0.add((r + i) * n + c) };
            if whole == k {
                // SAFETY: as above; an unaligned store of four floats.
                unsafe { _mm_storeu_ps(dst, row) };
                continue;
            }
            let mut four = [0.0f32; 4];
            // SAFETY: `four` holds four floats.
            unsafe { _mm_storeu_ps(four.as_mut_ptr(), row) };
            for (j, s) in four.iter_mut().enumerate() {
                for q in whole..k {
                    // SAFETY: q < k.
                    *s += unsafe { *xp[i].add(q) * *wp[j].add(q) };
                }
            }
            // SAFETY: as above.
            unsafe { std::ptr::copy_nonoverlapping(four.as_ptr(), dst, 4) };
        }
        return;
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

/// [`reduce16`] of each of a 4 × 4 block of accumulators, the same tree for every one (so the
/// same bits), with the shuffles shared: each step adds the halves of two accumulators' partial
/// sums in one 512-bit add (45 instructions for the block instead of 16 × 8). Element
/// `4·i + j` of the result is the sum of `acc[i][j]`'s lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn reduce4x4(acc: [[std::arch::x86_64::__m512; 4]; 4]) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    // l += l+8 for two accumulators: [a | b] 256-bit halves hold a's and b's 8 partial sums.
    let halves = |a: __m512, b: __m512| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x44>(a, b),
            _mm512_shuffle_f32x4::<0xEE>(a, b),
        )
    };
    // l += l+4: 128-bit lane i of the result holds row i's 4 partial sums (column j).
    let quarters = |j: usize| {
        let (t1, t2) = (halves(acc[0][j], acc[1][j]), halves(acc[2][j], acc[3][j]));
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(t1, t2),
            _mm512_shuffle_f32x4::<0xDD>(t1, t2),
        )
    };
    // l += l+2 for two columns: lane i holds [u0, u1, v0, v1] of row i.
    let pairs = |u: __m512, v: __m512| {
        let (u, v) = (_mm512_castps_pd(u), _mm512_castps_pd(v));
        _mm512_add_ps(
            _mm512_castpd_ps(_mm512_unpacklo_pd(u, v)),
            _mm512_castpd_ps(_mm512_unpackhi_pd(u, v)),
        )
    };
    let (p, q) = (
        pairs(quarters(0), quarters(1)),
        pairs(quarters(2), quarters(3)),
    );
    // l += l+1: lane i holds row i's four sums, columns 0..4.
    _mm512_add_ps(
        _mm512_shuffle_ps::<0x88>(p, q),
        _mm512_shuffle_ps::<0xDD>(p, q),
    )
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

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Output `(r, o)` as the kernel's documented order computes it, one lane at a time:
    /// lane `l` takes `fma` of elements `l` of each 16-element block in order, then
    /// l += l+8, l += l+4, l += l+2, l += l+1, then the tail in order.
    fn lane_order(x: &[f32], w: &[f32], k: usize, r: usize, o: usize) -> f32 {
        let (xr, wr) = (&x[r * k..(r + 1) * k], &w[o * k..(o + 1) * k]);
        let whole = k - k % 16;
        let mut lanes = [0.0f32; 16];
        for p in (0..whole).step_by(16) {
            for (l, acc) in lanes.iter_mut().enumerate() {
                *acc = xr[p + l].mul_add(wr[p + l], *acc);
            }
        }
        for width in [8, 4, 2, 1] {
            for l in 0..width {
                lanes[l] += lanes[l + width];
            }
        }
        let mut s = lanes[0];
        for q in whole..k {
            s += xr[q] * wr[q];
        }
        s
    }

    #[test]
    fn each_next_row_is_fetched_once_by_the_first_row_blocks() {
        for rows in [5usize, 8, 12, 16, 64, 128] {
            let masks: Vec<u32> = (0..rows.div_ceil(4))
                .map(|b| prefetch_mask(rows, b, true))
                .collect();
            assert_eq!(masks.iter().fold(0, |a, m| a | m), 15, "{rows} rows");
            assert_eq!(masks.iter().map(|m| m.count_ones()).sum::<u32>(), 4);
            assert!(masks.iter().skip(4).all(|&m| m == 0));
        }
        assert_eq!(prefetch_mask(4, 0, true), 0);
        assert_eq!(prefetch_mask(64, 0, false), 0);
    }

    #[test]
    fn whole_and_partial_blocks_sum_in_the_documented_order() {
        if !available() {
            eprintln!("skipped: no AVX-512F here");
            return;
        }
        // Whole 4 × 4 blocks (the shared reduction) and every partial block, with and
        // without a tail past the last 16-element block.
        for (rows, n, k) in [(8, 8, 64), (7, 6, 64), (9, 11, 40), (4, 4, 16), (5, 5, 7)] {
            let val = |i: usize, salt: u32| {
                let h = crate::noise::hash32(i as u32 ^ salt.wrapping_mul(0x9e37_79b9));
                (h as i32 as f32) * 2f32.powi(-31)
            };
            let x: Vec<f32> = (0..rows * k).map(|i| val(i, 3)).collect();
            let w: Vec<f32> = (0..n * k).map(|i| val(i, 4)).collect();
            let mut y = vec![f32::NAN; rows * n];
            // SAFETY: AVX-512F is present; x, w and y have the sizes the kernel reads and
            // writes, and this is the only thread.
            unsafe {
                columns_avx512(&x, rows, &w, k, n, 0, n, OutPtr(y.as_mut_ptr()));
            }
            for r in 0..rows {
                for o in 0..n {
                    let want = lane_order(&x, &w, k, r, o);
                    assert_eq!(
                        y[r * n + o].to_bits(),
                        want.to_bits(),
                        "({rows}, {n}, {k}) at ({r}, {o})"
                    );
                }
            }
        }
    }
}
