//! `y = x·Wᵀ` for many rows (a prefill, a population's batch): W packed once per call into
//! panels, then an AVX-512 register-blocked kernel.
//!
//! `matrixmultiply` packs W again for every chunk of rows the forward hands it, and its kernel
//! reached 54–58% of what the FMA units issue on the Intel Xeon of 2026-12-08 (`bench`'s
//! GEMM peak against its FMA rate). Here W (`n × k`, rows of `k`) is packed once per call
//! into panels of [`NR`] of its rows, k-major (`[k][NR]`, blocks of at most [`KC`] k), and
//! the kernel keeps an `MR × NR` block of outputs in 24 accumulators: per k, two panel loads
//! and [`MR`] broadcasts of x feed 24 FMAs. x is read where it lies, [`MR`] rows at a time
//! (only the last few rows of a chunk are copied into a padded sliver): packing x cost 12% of
//! the GEMM in `perf`, reading it in place nothing measurable. Each sliver of x stays in L1
//! while a group of panels' blocks streams past it from L2.
//!
//! The summation order is fixed by `k` alone: each output sums its k block's products in
//! order of k from zero (one FMA each), and the blocks are added to the output in order. So
//! the result does not depend on how rows are chunked or on the thread count, and it is the
//! same bits as `matrixmultiply`'s AVX-512 kernel (the same blocks of 256, the same order;
//! test `equals_the_blocked_sum_and_matrixmultiply_bit_for_bit`), which the gradient
//! baselines' own GEMMs use.

use super::aligned::AlignedBuf;
use rayon::prelude::*;
use std::cell::RefCell;
use std::mem::MaybeUninit;

/// Rows of x per kernel block.
pub(crate) const MR: usize = 12;

/// Rows of W (output columns) per panel: two 16-lane vectors.
pub(crate) const NR: usize = 32;

/// The k block: a panel block is `KC × NR` floats (32 KB), inside L1. It is
/// `matrixmultiply`'s f32 `kc`, so both GEMMs add the same partial sums in the same order.
const KC: usize = 256;

/// Panels a sliver of x meets before the next sliver: their k blocks (256 KB) stay in L2
/// while each sliver (12 KB) stays in L1. Sliver-outer order took the prefill from 988–1016
/// to 1068–1073 tokens/s against panel-outer order (`bench llm`, alternating); groups of 8,
/// 16 or all panels measured the same on a 2 MB L2, and 8 leaves room in a 1 MB one.
const GROUP_PANELS: usize = 8;

/// Largest W (in floats) this path packs: 32 MB. A bigger one (a vocabulary head) keeps the
/// blocked GEMM, which packs in pieces, rather than doubling its memory for a call.
pub(crate) const MAX_PACKED: usize = 1 << 23;

/// Shortest rows (k) the forward packs for: shorter dot products keep the blocked GEMM (the
/// same bits either way), as they keep it below the unpacked GEMM's width.
const MIN_K: usize = 64;

/// Whether the forward computes `x·Wᵀ` for a W of `n × k` here: AVX-512F, at least a panel of
/// rows, rows of at least [`MIN_K`], and at most [`MAX_PACKED`] floats to pack.
pub(crate) fn takes(n: usize, k: usize) -> bool {
    available() && k >= MIN_K && n >= NR && n * k <= MAX_PACKED
}

/// Whether this CPU can run [`gemm_packed_into`].
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

/// The k blocks of a length-`k` dot product: `(start, len)`, whole blocks of [`KC`] from 0
/// and the rest: `matrixmultiply`'s blocks, so that both GEMMs give the same bits.
fn k_blocks(k: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..k.div_ceil(KC).max(1)).map(move |b| (b * KC, KC.min(k.saturating_sub(b * KC))))
}

/// The rows of an `n × k` matrix (W) packed into panels:
/// panel `j` holds rows `j·NR..` (zeros past `n`), k block by k block, each block `[k][NR]`.
pub(crate) struct Panels {
    buf: AlignedBuf,
    n: usize,
    k: usize,
}

thread_local! {
    /// The calling thread's packed panels, kept between calls (reused, never shrunk).
    static PANELS_BUFFER: RefCell<AlignedBuf> = const { RefCell::new(AlignedBuf::new()) };
    /// A task's last rows of A (fewer than MR), packed and padded, for one k block.
    static EDGE_BUFFER: RefCell<AlignedBuf> = const { RefCell::new(AlignedBuf::new()) };
}

impl Panels {
    /// Pack the rows of `w` (`n × k`, row-major), spreading the panels over rayon's threads
    /// when `parallel`. Panics if `w` is shorter than `n × k`.
    pub(crate) fn pack(w: &[f32], n: usize, k: usize, parallel: bool) -> Panels {
        assert!(w.len() >= n * k, "gemm_packed: W is shorter than n × k");
        let mut buf = PANELS_BUFFER.with_borrow_mut(std::mem::take);
        let panel_len = NR * k;
        let panels = n.div_ceil(NR);
        let dst = buf.slice(panels * panel_len);
        let pack_panel = |(j, panel): (usize, &mut [f32])| {
            let rows = (n - j * NR).min(NR);
            for (start, len) in k_blocks(k) {
                let block = &mut panel[start * NR..(start + len) * NR];
                for (c, chunk) in block.chunks_exact_mut(NR).enumerate() {
                    for (r, v) in chunk.iter_mut().enumerate() {
                        *v = if r < rows {
                            w[(j * NR + r) * k + start + c]
                        } else {
                            0.0
                        };
                    }
                }
            }
        };
        if k > 0 {
            if parallel {
                dst.par_chunks_mut(panel_len)
                    .enumerate()
                    .for_each(pack_panel);
            } else {
                dst.chunks_mut(panel_len).enumerate().for_each(pack_panel);
            }
        }
        Panels { buf, n, k }
    }

    /// The packed panels (on a 64-byte boundary).
    fn panels(&self) -> &[f32] {
        self.buf.written(self.n.div_ceil(NR) * NR * self.k)
    }

    /// Hand the buffer back to this thread for its next call.
    pub(crate) fn release(self) {
        PANELS_BUFFER.with_borrow_mut(|kept| *kept = self.buf);
    }
}

/// `y = x·Wᵀ` for `rows` rows of `x` (`rows × k`, row-major) into `y` (`rows × n`,
/// row-major, uninitialised), which is returned initialised. Runs on the calling thread: the
/// caller chunks the rows (any chunking gives the same bits).
///
/// Panics if [`available`] is false or the lengths disagree.
pub(crate) fn gemm_packed_into<'y>(
    x: &[f32],
    rows: usize,
    w: &Panels,
    y: &'y mut [MaybeUninit<f32>],
) -> &'y mut [f32] {
    assert!(y.len() == rows * w.n, "gemm_packed: sizes");
    if w.k == 0 {
        y.fill(MaybeUninit::new(0.0));
    }
    // SAFETY: `y` holds rows × n elements, row-major.
    unsafe { rows_times_panels(x, rows, w, y.as_mut_ptr().cast(), w.n) };
    // SAFETY: every element was written (by k block 0, or the k = 0 fill); `MaybeUninit<f32>`
    // has the layout of `f32`.
    unsafe { &mut *(y as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// `C = A·Pᵀ`: `a` (`a_rows × k`, row-major, read where it lies) times the rows `panels`
/// packed, into `c` (`a_rows × panels.n`, rows `ldc` apart). Every element is written (added
/// to, after the first k block); with `k = 0` none is.
///
/// # Safety
/// `c` must be valid for writes of `a_rows` rows of `panels.n` elements, `ldc` apart.
/// Panics if [`available`] is false or `a` is shorter than `a_rows × k`.
unsafe fn rows_times_panels(a: &[f32], a_rows: usize, panels: &Panels, c: *mut f32, ldc: usize) {
    assert!(available(), "gemm_packed: needs AVX-512F");
    let (n, k) = (panels.n, panels.k);
    assert!(
        a.len() >= a_rows * k,
        "gemm_packed: A is shorter than rows × k"
    );
    let packed = panels.panels();
    let full = a_rows / MR;
    let edge = a_rows - full * MR;
    EDGE_BUFFER.with_borrow_mut(|ebuf| {
        for (b, (start, len)) in k_blocks(k).enumerate() {
            if len == 0 {
                continue;
            }
            // Whole slivers broadcast A where it lies; the last rows (fewer than MR) are
            // copied, k-major, into a sliver padded with zeros.
            let tail = ebuf.slice(MR * len);
            if edge > 0 {
                tail.fill(0.0);
                for r in 0..edge {
                    let row = &a[(full * MR + r) * k + start..][..len];
                    for (p, &v) in row.iter().enumerate() {
                        tail[p * MR + r] = v;
                    }
                }
            }
            let block = |j: usize, s: usize| {
                let panel = &packed[j * NR * k + start * NR..j * NR * k + (start + len) * NR];
                let cols = (n - j * NR).min(NR);
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX-512F was checked; the sliver (A's rows k apart, or the padded
                // copy) holds MR × len and the panel block len × NR floats; the output block
                // (rows s·MR.., columns j·NR..) lies inside `c` for its `valid` rows and
                // `cols` columns, which are all it touches, and k block 0 wrote it before
                // later blocks read it.
                unsafe {
                    let out = c.add(s * MR * ldc + j * NR);
                    let (p, acc) = (panel.as_ptr(), b > 0);
                    if s < full {
                        let sliver = a[s * MR * k + start..].as_ptr();
                        kernel::<true>(len, sliver, k, p, out, ldc, MR, cols, acc)
                    } else {
                        kernel::<false>(len, tail.as_ptr(), 0, p, out, ldc, edge, cols, acc)
                    }
                };
                #[cfg(not(target_arch = "x86_64"))]
                let _ = (panel, cols, s, b, c, ldc);
            };
            let (panels_n, slivers) = (n.div_ceil(NR), full + usize::from(edge > 0));
            for g0 in (0..panels_n).step_by(GROUP_PANELS) {
                for s in 0..slivers {
                    for j in g0..(g0 + GROUP_PANELS).min(panels_n) {
                        block(j, s);
                    }
                }
            }
        }
    });
}

/// `x·Wᵀ` (`rows × n`) for `x` (`rows × k`) and `w` (`n × k`), both row-major, the way the
/// CPU backend's forward computes many rows: W packed once, chunks of `chunk_rows` rows over
/// rayon's threads. `None` where the forward would not take this path: the CPU lacks
/// AVX-512F, W has fewer than 32 rows or rows shorter than 64, or is over 32 MB (8 M floats).
/// Panics if the lengths disagree or `chunk_rows` is 0.
pub fn packed_gemm_nt(
    x: &[f32],
    rows: usize,
    w: &[f32],
    n: usize,
    k: usize,
    chunk_rows: usize,
) -> Option<Vec<f32>> {
    if !takes(n, k) {
        return None;
    }
    assert!(
        x.len() >= rows * k && chunk_rows > 0,
        "packed_gemm_nt: sizes"
    );
    let packed = Panels::pack(w, n, k, true);
    let mut y: Vec<MaybeUninit<f32>> = Vec::with_capacity(rows * n);
    // SAFETY: `MaybeUninit` needs no initialisation; the chunks write every element.
    unsafe { y.set_len(rows * n) };
    if n > 0 {
        y.par_chunks_mut(chunk_rows * n)
            .enumerate()
            .for_each(|(c, yc)| {
                let r = yc.len() / n;
                let xc = &x[c * chunk_rows * k..(c * chunk_rows + r) * k];
                gemm_packed_into(xc, r, &packed, yc);
            });
    }
    packed.release();
    let mut y = std::mem::ManuallyDrop::new(y);
    // SAFETY: same layout and allocation, every element written.
    Some(unsafe { Vec::from_raw_parts(y.as_mut_ptr().cast::<f32>(), y.len(), y.capacity()) })
}

/// One `MR × NR` output block over a k block of `len`: `a` is the sliver (`[len][MR]`), `b`
/// the panel block (`[len][NR]`), `c` the block's first output with rows `ldc` apart. Writes
/// `rows × cols` outputs, adding to them when `accumulate`.
///
/// # Safety
/// AVX-512F must be available; `a` and `b` must hold `len·MR` and `len·NR` floats; `c` must
/// be valid for `rows` rows of `cols` elements `ldc` apart (and initialised if `accumulate`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel<const DIRECT: bool>(
    len: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    // x's rows where they lie (`DIRECT`), or the packed sliver.
    let rows_at: [*const f32; MR] = std::array::from_fn(|r| {
        if DIRECT {
            a.wrapping_add(r * lda)
        } else {
            a.wrapping_add(r)
        }
    });
    let step = if DIRECT { 1 } else { MR };
    for p in 0..len {
        // SAFETY: p < len, inside both packed blocks.
        let (b0, b1) = unsafe {
            (
                _mm512_loadu_ps(b.add(p * NR)),
                _mm512_loadu_ps(b.add(p * NR + 16)),
            )
        };
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: as above.
            let av = _mm512_set1_ps(unsafe { *rows_at[r].add(p * step) });
            acc[0] = _mm512_fmadd_ps(av, b0, acc[0]);
            acc[1] = _mm512_fmadd_ps(av, b1, acc[1]);
        }
    }
    let lanes = |n: usize| -> u16 {
        if n >= 16 {
            u16::MAX
        } else {
            (1u16 << n) - 1
        }
    };
    let masks = [lanes(cols), lanes(cols.saturating_sub(16))];
    for (r, acc) in acc.iter().enumerate().take(rows) {
        for (h, &mask) in masks.iter().enumerate() {
            // SAFETY: the masked lanes are the row's `cols` valid outputs.
            unsafe {
                let p = c.add(r * ldc + h * 16);
                let v = if accumulate {
                    _mm512_add_ps(_mm512_maskz_loadu_ps(mask, p), acc[h])
                } else {
                    acc[h]
                };
                _mm512_mask_storeu_ps(p, mask, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::MatRef;

    /// The blocks' order of summation, in scalar code: the reference the kernel must equal
    /// bit for bit (FMA at every step, as the kernel does).
    fn reference(x: &[f32], rows: usize, w: &[f32], n: usize, k: usize) -> Vec<f32> {
        let mut y = vec![0.0f32; rows * n];
        for i in 0..rows {
            for j in 0..n {
                let mut total = 0.0f32;
                for (b, (start, len)) in k_blocks(k).enumerate() {
                    let mut s = 0.0f32;
                    for p in start..start + len {
                        s = x[i * k + p].mul_add(w[j * k + p], s);
                    }
                    total = if b == 0 { s } else { total + s };
                }
                y[i * n + j] = total;
            }
        }
        y
    }

    /// Operands with varied values, both signs and no pattern the blocks line up with.
    fn operands(rows: usize, n: usize, k: usize) -> (Vec<f32>, Vec<f32>) {
        let x = (0..rows * k).map(|i| ((i * 29 % 97) as f32 - 48.0) * 0.017);
        let w = (0..n * k).map(|i| ((i * 43 % 83) as f32 - 41.0) * 0.023);
        (x.collect(), w.collect())
    }

    /// Whether `a` and `b` hold the same bits.
    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits())
    }

    fn run(x: &[f32], rows: usize, w: &[f32], n: usize, k: usize, chunk: usize) -> Vec<f32> {
        let packed = Panels::pack(w, n, k, true);
        let mut y = vec![MaybeUninit::new(f32::NAN); rows * n];
        for (c, yc) in y.chunks_mut(chunk * n).enumerate() {
            let r = yc.len() / n;
            gemm_packed_into(&x[c * chunk * k..(c * chunk + r) * k], r, &packed, yc);
        }
        packed.release();
        y.into_iter()
            // SAFETY: every element was written by the kernel.
            .map(|v| unsafe { v.assume_init() })
            .collect()
    }

    #[test]
    fn k_blocks_cover_k() {
        for k in [0usize, 1, 64, 255, 256, 257, 576, 1536] {
            let blocks: Vec<_> = k_blocks(k).collect();
            assert_eq!(blocks.iter().map(|b| b.1).sum::<usize>(), k, "{k}");
            assert!(blocks.iter().all(|b| b.1 <= KC), "{k}");
        }
        assert_eq!(
            k_blocks(576).collect::<Vec<_>>(),
            [(0, 256), (256, 256), (512, 64)]
        );
    }

    /// Every edge (rows past the last whole sliver, columns past the last whole panel, k past
    /// the last whole block, several panel groups), every chunking: the blocked sum's bits,
    /// and `matrixmultiply`'s.
    #[test]
    fn equals_the_blocked_sum_and_matrixmultiply_bit_for_bit() {
        if !available() {
            eprintln!("skipped: no AVX-512F");
            return;
        }
        for &(rows, n, k) in &[
            (1, 1, 1),
            (13, 33, 70),
            (25, 64, 300),
            (40, 100, 576),
            (7, 32, 0),
            (129, 576, 1536),
            (64, 40, 257),
        ] {
            let (x, w) = operands(rows, n, k);
            let want = reference(&x, rows, &w, n, k);
            let mut blocked = vec![0.0f32; rows * n];
            let (xv, wv) = (MatRef::row_major(&x, rows, k), MatRef::row_major(&w, n, k));
            crate::cpu::sgemm(1.0, xv, wv.t(), 0.0, &mut blocked);
            let ok = same_bits(&blocked, &want);
            assert!(
                ok,
                "rows {rows}, n {n}, k {k}: matrixmultiply's order changed"
            );
            for chunk in [rows, 5, 12] {
                let got = run(&x, rows, &w, n, k, chunk);
                let ok = same_bits(&got, &want);
                assert!(ok, "rows {rows}, n {n}, k {k}, chunk {chunk}");
            }
        }
    }
}
