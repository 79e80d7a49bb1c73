//! `y = x·Wᵀ` for a few rows of `x` against a row-major weight, without packing.
//!
//! A language model's decode step multiplies a few dozen rows by every weight matrix once per
//! token. The blocked GEMM (`matrixmultiply`) first copies W into its panel layout on every
//! call, which costs as much memory traffic as reading W again and at 64 rows was 13% of a
//! SmolLM2 decode (`perf`); and the forward's row chunking put the whole step's GEMM on one
//! thread. Here every output element is a dot product of an x row and a W row, both read where
//! they lie: a 4 × 3 block of outputs keeps twelve 8-lane FMA accumulators in registers, the
//! three W rows are read once per block of x rows, and the work is split over fixed blocks of
//! W's rows (never over threads), so the result does not depend on the thread count.
//!
//! The summation order is fixed: lane `i % 8` of each element's accumulator takes the products
//! of elements `i` of the 8-element blocks, the lanes are added by a fixed tree, then the tail
//! past the last whole block is added in order. It uses FMA, so it is only taken on CPUs that
//! have AVX2 and FMA ([`available`]); elsewhere the caller keeps the blocked GEMM.
//!
//! W's rows may also come from a compact form ([`gemm_nt_rows_into`], a model file's quantised
//! blocks): each task writes its rows into a per-thread buffer and the same kernels run on it.

use super::aligned::{on_line, AlignedBuf};
use crate::backend::WeightRows;
use rayon::prelude::*;
use std::cell::RefCell;
use std::mem::MaybeUninit;

/// Output rows (W rows) per parallel task: a multiple of the kernels' 3 and 4 columns.
const COLS_PER_TASK: usize = 48;

/// Whether this CPU can run [`gemm_nt_into`].
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A pointer to the output that tasks writing disjoint columns share.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: every task writes only the elements of its own columns (disjoint ranges of W's rows),
// and nothing reads the output until all tasks have finished.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The output `columns` further on (the same rows).
    fn shifted(self, columns: usize) -> OutPtr {
        OutPtr(self.0.wrapping_add(columns))
    }
}

/// `y = x·Wᵀ` for `x` (`rows × k`) and `w` (`n × k`), both row-major, into `y` (`rows × n`,
/// row-major), which is returned initialised. `parallel` spreads the column blocks over
/// rayon's threads (the blocks, and so the result, are the same either way).
///
/// Panics if [`available`] is false or the lengths disagree (callers size their buffers).
pub(crate) fn gemm_nt_into<'y>(
    x: &[f32],
    rows: usize,
    w: &[f32],
    n: usize,
    k: usize,
    y: &'y mut [MaybeUninit<f32>],
    parallel: bool,
) -> &'y mut [f32] {
    assert!(w.len() >= n * k, "gemm_nt: W is shorter than n × k");
    let wide = super::gemm_nt_avx512::available();
    gemm_nt_with(x, rows, WeightSource::Slice(w), n, k, y, parallel, wide)
}

/// [`gemm_nt_into`] with W's rows written by `w` (from a compact form that holds exactly the
/// same values) into a per-thread buffer, one parallel task's block of rows at a time, instead
/// of read from an f32 matrix: the same kernels on the same values, so the same bits.
pub(crate) fn gemm_nt_rows_into<'y>(
    x: &[f32],
    rows: usize,
    w: &dyn WeightRows,
    n: usize,
    k: usize,
    y: &'y mut [MaybeUninit<f32>],
    parallel: bool,
) -> &'y mut [f32] {
    let wide = super::gemm_nt_avx512::available();
    gemm_nt_with(x, rows, WeightSource::Rows(w), n, k, y, parallel, wide)
}

/// Where the kernels read W's rows from.
#[derive(Clone, Copy)]
enum WeightSource<'w> {
    /// A row-major `n × k` matrix.
    Slice(&'w [f32]),
    /// Rows written on demand.
    Rows(&'w dyn WeightRows),
}

thread_local! {
    /// The rows of W a task computes with when they are not read in place (at most
    /// `COLS_PER_TASK × k` floats: 295 KB at k = 1536, in L2), on a 64-byte boundary.
    static ROWS_BUFFER: RefCell<AlignedBuf> = const { RefCell::new(AlignedBuf::new()) };
    /// The calling thread's copy of `x` when `x` does not start on a 64-byte boundary.
    static X_BUFFER: RefCell<AlignedBuf> = const { RefCell::new(AlignedBuf::new()) };
}

/// [`gemm_nt_into`] with the kernel chosen: the AVX-512 one when `wide` (the caller checked
/// [`super::gemm_nt_avx512::available`]), else the AVX2 one.
#[allow(clippy::too_many_arguments)]
fn gemm_nt_with<'y>(
    x: &[f32],
    rows: usize,
    w: WeightSource<'_>,
    n: usize,
    k: usize,
    y: &'y mut [MaybeUninit<f32>],
    parallel: bool,
    wide: bool,
) -> &'y mut [f32] {
    assert!(available(), "gemm_nt: needs AVX2 and FMA");
    assert!(
        !wide || super::gemm_nt_avx512::available(),
        "gemm_nt: needs AVX-512F"
    );
    assert!(x.len() >= rows * k && y.len() == rows * n);
    // Every row of x and W is read with full-width loads: start them on a cache line
    // (`super::aligned`), so that rows of whole lines stay on lines. x (a few rows) is copied
    // where it is not; W's rows from a compact form are written to an aligned buffer. (An f32
    // W off a line is read in place: copying each task's rows cost what the alignment saved.)
    let mut x_copy = X_BUFFER.with_borrow_mut(std::mem::take);
    let x: &[f32] = if on_line(x.as_ptr()) {
        x
    } else {
        let copy = x_copy.slice(rows * k);
        copy.copy_from_slice(&x[..rows * k]);
        copy
    };
    let out = OutPtr(y.as_mut_ptr().cast());
    // Columns c0..c1 of W (`w`'s rows, `w_first` being its row c0), into output columns c0..c1.
    let columns = |w: &[f32], c0: usize, c1: usize, w_first: usize| {
        let (w, out) = (&w[(c0 - w_first) * k..], out.shifted(c0));
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (w, out, wide, rows, c1);
        // SAFETY: AVX2 and FMA (and AVX-512F for `wide`) were checked; the shapes were checked
        // above (`w` holds rows c0..c1, which the kernel reads as its rows 0..c1 - c0), and
        // the task writes only columns c0..c1 of each row (the kernel's 0..c1 - c0 past `out`).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            if wide {
                super::gemm_nt_avx512::columns_avx512(x, rows, w, k, n, 0, c1 - c0, out)
            } else {
                columns_avx2(x, rows, w, k, n, 0, c1 - c0, out)
            }
        };
    };
    let task = |t: usize| {
        let c0 = t * COLS_PER_TASK;
        let c1 = (c0 + COLS_PER_TASK).min(n);
        match w {
            WeightSource::Slice(w) => columns(w, c0, c1, 0),
            WeightSource::Rows(source) => ROWS_BUFFER.with_borrow_mut(|buf| {
                let buf = buf.slice((c1 - c0) * k);
                source.rows_into(c0, buf);
                columns(buf, c0, c1, c0)
            }),
        }
    };
    let tasks = n.div_ceil(COLS_PER_TASK);
    if parallel {
        (0..tasks).into_par_iter().for_each(task);
    } else {
        (0..tasks).for_each(task);
    }
    X_BUFFER.with_borrow_mut(|kept| *kept = x_copy);
    // SAFETY: the tasks covered every column of every row, so every element was written, and
    // `MaybeUninit<f32>` has the layout of `f32`.
    unsafe { &mut *(y as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// Columns `c0..c1` of every row of the output, in blocks of 4 rows × 3 columns.
///
/// # Safety
/// AVX2 and FMA must be available, the shapes must be as [`gemm_nt_into`] checked them, and
/// no other thread may write these columns.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn columns_avx2(
    x: &[f32],
    rows: usize,
    w: &[f32],
    k: usize,
    n: usize,
    c0: usize,
    c1: usize,
    out: OutPtr,
) {
    let mut c = c0;
    while c < c1 {
        let nc = (c1 - c).min(3);
        let mut r = 0;
        while r < rows {
            let nr = (rows - r).min(4);
            // SAFETY: the caller's contract; the block lies inside the output.
            unsafe {
                match (nr, nc) {
                    (4, 3) => block::<4, 3>(x, w, k, n, r, c, out),
                    (4, 2) => block::<4, 2>(x, w, k, n, r, c, out),
                    (4, 1) => block::<4, 1>(x, w, k, n, r, c, out),
                    (3, 3) => block::<3, 3>(x, w, k, n, r, c, out),
                    (3, 2) => block::<3, 2>(x, w, k, n, r, c, out),
                    (3, 1) => block::<3, 1>(x, w, k, n, r, c, out),
                    (2, 3) => block::<2, 3>(x, w, k, n, r, c, out),
                    (2, 2) => block::<2, 2>(x, w, k, n, r, c, out),
                    (2, 1) => block::<2, 1>(x, w, k, n, r, c, out),
                    (1, 3) => block::<1, 3>(x, w, k, n, r, c, out),
                    (1, 2) => block::<1, 2>(x, w, k, n, r, c, out),
                    _ => block::<1, 1>(x, w, k, n, r, c, out),
                }
            }
            r += nr;
        }
        c += nc;
    }
}

/// Outputs `(r..r+R) × (c..c+C)`: `R·C` dot products of length `k`.
///
/// # Safety
/// As [`columns_avx2`]; `r + R <= rows`, `c + C <= n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
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
    let whole = k - k % 8;
    let xp: [*const f32; R] = std::array::from_fn(|i| x[(r + i) * k..].as_ptr());
    let wp: [*const f32; C] = std::array::from_fn(|j| w[(c + j) * k..].as_ptr());
    let mut acc = [[_mm256_setzero_ps(); C]; R];
    let mut p = 0;
    while p < whole {
        // SAFETY: p + 8 <= k for rows of length k inside x and w.
        let wv: [__m256; C] = std::array::from_fn(|j| unsafe { _mm256_loadu_ps(wp[j].add(p)) });
        for i in 0..R {
            // SAFETY: as above.
            let xv = unsafe { _mm256_loadu_ps(xp[i].add(p)) };
            for j in 0..C {
                acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
            }
        }
        p += 8;
    }
    for i in 0..R {
        for j in 0..C {
            let mut s = reduce8(acc[i][j]);
            for q in whole..k {
                // SAFETY: q < k.
                s += unsafe { *xp[i].add(q) * *wp[j].add(q) };
            }
            // SAFETY: (r + i, c + j) lies in the output, in this task's columns.
            unsafe { *out.0.add((r + i) * n + c + j) = s };
        }
    }
}

/// The eight lanes added by a fixed tree: l += l+4, l += l+2, l += l+1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
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
                (h as i32 as f32) * 2f32.powi(-31)
            })
            .collect()
    }

    #[test]
    fn matches_a_double_precision_product_and_is_the_same_in_parallel() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX2/FMA, so gemm_nt is never used here");
            return;
        }
        let mut kernels = vec![false];
        if super::super::gemm_nt_avx512::available() {
            kernels.push(true);
        } else {
            eprintln!("note: no AVX-512F here, only the AVX2 kernel is checked");
        }
        // Every remainder: rows % 4, n % 3, n % 4, n % 48, k % 8 and k % 16 all non-zero in
        // some case.
        let shapes = [
            (1, 1, 1),
            (5, 7, 9),
            (64, 100, 576),
            (3, 49, 17),
            (7, 2, 8),
            (6, 53, 40),
        ];
        for (wide, (rows, n, k)) in kernels.into_iter().flat_map(|w| shapes.map(|s| (w, s))) {
            let (x, w) = (data(rows * k, 1), data(n * k, 2));
            let mut raw = vec![MaybeUninit::uninit(); rows * n];
            let y = gemm_nt_with(
                &x,
                rows,
                WeightSource::Slice(&w),
                n,
                k,
                &mut raw,
                false,
                wide,
            )
            .to_vec();
            for r in 0..rows {
                for o in 0..n {
                    let exact: f64 = (0..k)
                        .map(|p| x[r * k + p] as f64 * w[o * k + p] as f64)
                        .sum();
                    let got = y[r * n + o] as f64;
                    assert!(
                        (got - exact).abs() < 1e-5 * (1.0 + k as f64).sqrt(),
                        "wide {wide} ({rows}, {n}, {k}) at ({r}, {o}): {got} vs {exact}"
                    );
                }
            }
            let mut raw = vec![MaybeUninit::uninit(); rows * n];
            let par = gemm_nt_with(
                &x,
                rows,
                WeightSource::Slice(&w),
                n,
                k,
                &mut raw,
                true,
                wide,
            );
            assert!(y
                .iter()
                .zip(par.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn where_x_and_w_lie_changes_no_bit() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX2/FMA, so gemm_nt is never used here");
            return;
        }
        let wide = super::super::gemm_nt_avx512::available();
        let (rows, n, k) = (6, 50, 64);
        let (x, w) = (data(rows * k, 7), data(n * k, 8));
        let run = |xs: &[f32], ws: &[f32]| {
            let mut raw = vec![MaybeUninit::uninit(); rows * n];
            gemm_nt_with(
                xs,
                rows,
                WeightSource::Slice(ws),
                n,
                k,
                &mut raw,
                true,
                wide,
            )
            .to_vec()
        };
        let want = run(&x, &w);
        // Every placement relative to a cache line, x copied to a line where it is off one.
        let (mut xb, mut wb) = (vec![0f32; x.len() + 16], vec![0f32; w.len() + 16]);
        for shift in 0..16 {
            xb[shift..shift + x.len()].copy_from_slice(&x);
            wb[15 - shift..15 - shift + w.len()].copy_from_slice(&w);
            let got = run(
                &xb[shift..shift + x.len()],
                &wb[15 - shift..15 - shift + w.len()],
            );
            assert!(
                want.iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "shift {shift}"
            );
        }
    }

    /// Rows of a matrix written on demand, as a compact form would.
    struct Copied<'a>(&'a [f32], usize);

    impl WeightRows for Copied<'_> {
        fn rows_into(&self, first: usize, out: &mut [f32]) {
            out.copy_from_slice(&self.0[first * self.1..first * self.1 + out.len()]);
        }
    }

    #[test]
    fn rows_written_on_demand_give_the_matrixs_bits() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX2/FMA, so gemm_nt is never used here");
            return;
        }
        let wides = [false, super::super::gemm_nt_avx512::available()];
        // More than one task of columns (n > 48), with a partial last task.
        for (rows, n, k) in [(9, 100, 64), (32, 150, 40), (1, 3, 5)] {
            let (x, w) = (data(rows * k, 5), data(n * k, 6));
            for (wide, parallel) in [(false, false), (false, true), (true, true)] {
                if wide && !wides[1] {
                    continue;
                }
                let mut raw = vec![MaybeUninit::uninit(); rows * n];
                let want = gemm_nt_with(
                    &x,
                    rows,
                    WeightSource::Slice(&w),
                    n,
                    k,
                    &mut raw,
                    parallel,
                    wide,
                )
                .to_vec();
                let mut raw = vec![MaybeUninit::uninit(); rows * n];
                let source = Copied(&w, k);
                let got = gemm_nt_with(
                    &x,
                    rows,
                    WeightSource::Rows(&source),
                    n,
                    k,
                    &mut raw,
                    parallel,
                    wide,
                );
                assert!(
                    want.iter()
                        .zip(got.iter())
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "({rows}, {n}, {k}) wide {wide}"
                );
            }
        }
    }
}
