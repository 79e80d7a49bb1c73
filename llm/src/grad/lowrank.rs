//! The thin products of a LoRA branch, where one side has only `r` (the rank, a handful)
//! rows or columns: `x·Aᵀ`, `u·A` and `uᵀ·x` for `x` of `rows × k` and `u` of `rows × r`.
//!
//! A blocked GEMM packs its whole wide operand for a product this thin, and in a GRPO step on
//! SmolLM2 that packing cost more than the products (1,260 of them per step, each reading a
//! `rows × k` activation to do `2·r` flops per element). These loops read each wide operand
//! once, in place. Work is split over fixed blocks of rows or columns (by shape, never by
//! thread count) and every element sums its terms in one fixed order, so results do not
//! depend on the thread count.

use super::simd::{dots, with_avx2};
use rayon::prelude::*;

/// Rows (or columns) per parallel task.
const BLOCK: usize = 64;

/// `Σ a_i·b_i` with eight lanes, summed pairwise, then the tail in order.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    eggroll_core::transformer::reference::dot8(a, b)
}

/// `y += s·x`.
#[inline(always)]
fn axpy(y: &mut [f32], s: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += s * x;
    }
}

/// `x·Aᵀ`: `x` is `rows × k`, `a` is `r × k`; returns `rows × r`.
pub fn times_t(x: &[f32], rows: usize, k: usize, a: &[f32], r: usize) -> Vec<f32> {
    debug_assert_eq!((x.len(), a.len()), (rows * k, r * k));
    let mut out = vec![0.0; rows * r];
    if r == 0 || k == 0 {
        return out;
    }
    out.par_chunks_mut(BLOCK * r)
        .zip(x.par_chunks(BLOCK * k))
        .for_each(|(o, xb)| times_t_block(o, xb, a, k, r));
    out
}

with_avx2! {
    /// [`times_t`] on one block of rows: `o` (`rows × r`) of `xb` (`rows × k`).
    fn times_t_block(o: &mut [f32], xb: &[f32], a: &[f32], k: usize, r: usize) -> () {
        for (orow, xrow) in o.chunks_exact_mut(r).zip(xb.chunks_exact(k)) {
            // Four of the r dot products at a time (independent sums pipeline).
            let mut rows = a.chunks_exact(k);
            for o4 in orow.chunks_mut(4) {
                match o4.len() {
                    4 => {
                        let b = [(); 4].map(|_| rows.next().unwrap_or(&[]));
                        o4.copy_from_slice(&dots(xrow, b));
                    }
                    _ => {
                        for v in o4.iter_mut() {
                            *v = dot(xrow, rows.next().unwrap_or(&[]));
                        }
                    }
                }
            }
        }
    }
}

/// `u·A`: `u` is `rows × r`, `a` is `r × k`; returns `rows × k`.
pub fn times(u: &[f32], rows: usize, r: usize, a: &[f32], k: usize) -> Vec<f32> {
    let mut out = vec![0.0; rows * k];
    add_times(&mut out, 1.0, u, rows, r, a, k);
    out
}

/// `out += s·(u·A)`: `u` is `rows × r`, `a` is `r × k`, `out` is `rows × k` (one pass over
/// `out`; each row's `u·A` is summed over `r` first, then scaled and added).
pub fn add_times(out: &mut [f32], s: f32, u: &[f32], rows: usize, r: usize, a: &[f32], k: usize) {
    debug_assert_eq!((u.len(), a.len(), out.len()), (rows * r, r * k, rows * k));
    if r == 0 || k == 0 {
        return;
    }
    out.par_chunks_mut(BLOCK * k)
        .zip(u.par_chunks(BLOCK * r))
        .for_each(|(o, ub)| add_times_block(o, s, ub, a, k, r));
}

with_avx2! {
    /// [`add_times`] on one block of rows: `o` (`rows × k`) `+= s·(ub·A)`.
    fn add_times_block(o: &mut [f32], s: f32, ub: &[f32], a: &[f32], k: usize, r: usize) -> () {
        let mut row = vec![0.0f32; k];
        for (orow, urow) in o.chunks_exact_mut(k).zip(ub.chunks_exact(r)) {
            row.iter_mut().for_each(|v| *v = 0.0);
            for (&c, arow) in urow.iter().zip(a.chunks_exact(k)) {
                axpy(&mut row, c, arow);
            }
            axpy(orow, s, &row);
        }
    }
}

/// `uᵀ·x`: `u` is `rows × r`, `x` is `rows × k`; returns `r × k`. Parallel over blocks of
/// columns; each column sums over the rows in order.
pub fn t_times(u: &[f32], x: &[f32], rows: usize, r: usize, k: usize) -> Vec<f32> {
    debug_assert_eq!((u.len(), x.len()), (rows * r, rows * k));
    let blocks = k.div_ceil(BLOCK);
    let parts: Vec<Vec<f32>> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let (c0, c1) = (b * BLOCK, ((b + 1) * BLOCK).min(k));
            let w = c1 - c0;
            let mut acc = vec![0.0f32; r * w];
            t_times_block(&mut acc, u, x, rows, r, k, c0);
            acc
        })
        .collect();
    let mut out = vec![0.0; r * k];
    for (b, acc) in parts.iter().enumerate() {
        let (c0, w) = (b * BLOCK, acc.len() / r.max(1));
        for j in 0..r {
            out[j * k + c0..j * k + c0 + w].copy_from_slice(&acc[j * w..(j + 1) * w]);
        }
    }
    out
}

with_avx2! {
    /// [`t_times`] on the columns `c0..c0 + w` of `x` into `acc` (`r × w`).
    fn t_times_block(acc: &mut [f32], u: &[f32], x: &[f32], rows: usize, r: usize, k: usize, c0: usize) -> () {
        let w = acc.len() / r.max(1);
        for i in 0..rows {
            let xs = &x[i * k + c0..i * k + c0 + w];
            for (j, &s) in u[i * r..(i + 1) * r].iter().enumerate() {
                axpy(&mut acc[j * w..(j + 1) * w], s, xs);
            }
        }
    }
}

/// The transpose of `m` (`rows × cols`).
pub fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; m.len()];
    for i in 0..rows {
        for j in 0..cols {
            t[j * rows + i] = m[i * cols + j];
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The products written out in f64, element by element.
    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|t| f64::from(a[i * k + t]) * f64::from(b[t * n + j]))
                    .sum::<f64>() as f32;
            }
        }
        c
    }

    fn rand(n: usize, seed: u64) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let h = (i as u64 ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                ((h >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() < 1e-4, "element {i}: {x} vs {y}");
        }
    }

    #[test]
    fn thin_products_match_the_written_out_ones() {
        // Rows and columns past a block and not a multiple of it, ranks 1 and 5.
        for (rows, k, r) in [(150, 70, 5), (3, 200, 1), (65, 9, 8)] {
            let (x, a, u) = (rand(rows * k, 1), rand(r * k, 2), rand(rows * r, 3));
            close(
                &times_t(&x, rows, k, &a, r),
                &naive(&x, &transpose(&a, r, k), rows, k, r),
            );
            close(&times(&u, rows, r, &a, k), &naive(&u, &a, rows, r, k));
            close(
                &t_times(&u, &x, rows, r, k),
                &naive(&transpose(&u, rows, r), &x, r, rows, k),
            );
        }
        assert_eq!(
            transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3),
            [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }

    #[test]
    fn thin_products_do_not_depend_on_the_thread_count() {
        let (rows, k, r) = (300, 130, 4);
        let (x, a, u) = (rand(rows * k, 4), rand(r * k, 5), rand(rows * r, 6));
        let run = || {
            (
                times_t(&x, rows, k, &a, r),
                times(&u, rows, r, &a, k),
                t_times(&u, &x, rows, r, k),
            )
        };
        let want = run();
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            assert_eq!(pool.install(run), want, "{threads} threads");
        }
    }
}
