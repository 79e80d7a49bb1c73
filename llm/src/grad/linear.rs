//! The three products of a linear layer `y = x·Wᵀ` (W row-major `out × in`) and its backward,
//! on the CPU's blocked GEMM (`matrixmultiply` through `eggroll_core::cpu::sgemm`):
//! the forward `x·Wᵀ`, the input gradient `dy·W` and the weight gradient `dyᵀ·x`.
//!
//! Each product is split into blocks of output rows, one GEMM per block, and the blocks run on
//! rayon's threads; every element is computed by exactly one GEMM over the full inner
//! dimension, so the result is the same for any blocking and any thread count.

use eggroll_core::cpu::{packed_gemm_nt, sgemm, target_chunk_rows, MatRef};
use rayon::prelude::*;

/// Output rows per parallel GEMM block: one block per thread, of at least 64 rows. Every
/// GEMM call packs its whole right operand, so each block more is one more pass over W: at
/// 64 rows the packing was a quarter of a SmolLM2 step (`perf`), and at a GRPO step's 1,632
/// rows two blocks instead of four took the forward's `x·Wᵀ` from 274–367 to 339–395 GFLOP/s
/// on two threads. Every element is the same GEMM over the full inner dimension whatever the
/// blocks, so the result does not depend on the thread count.
fn block_rows(m: usize) -> usize {
    m.div_ceil(rayon::current_num_threads().max(1)).max(64)
}

/// Products smaller than this many multiply-adds run on the calling thread.
const SEQUENTIAL_MACS: usize = 1 << 18;

/// `c (m × n) = a (m × k) · b (k × n)` (views), into `c`, in fixed row blocks of `c`.
fn blocked(a: MatRef<'_>, b: MatRef<'_>, c: &mut [f32]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    debug_assert_eq!(c.len(), m * n);
    if m == 0 || n == 0 {
        return;
    }
    let rows_per = block_rows(m);
    let block = |(i, cb): (usize, &mut [f32])| {
        let r0 = i * rows_per;
        let rows = cb.len() / n;
        let sub = MatRef {
            data: &a.data[r0 * a.row_stride..],
            rows,
            ..a
        };
        sgemm(1.0, sub, b, 0.0, cb);
    };
    if m * k * n < SEQUENTIAL_MACS {
        c.chunks_mut(rows_per * n).enumerate().for_each(block);
    } else {
        c.par_chunks_mut(rows_per * n).enumerate().for_each(block);
    }
}

/// `y = x·Wᵀ`: `x` is `rows × w_in`, `w` is `w_out × w_in`; returns `rows × w_out`.
///
/// Where the backend's forward would take core's packed GEMM (W packed once, not once per
/// block: the same bits as `matrixmultiply`'s), this takes it too, in the forward's chunks.
pub fn matmul_nt(x: &[f32], rows: usize, w: &[f32], w_out: usize, w_in: usize) -> Vec<f32> {
    if rows >= 64 {
        if let Some(y) = packed_gemm_nt(x, rows, w, w_out, w_in, target_chunk_rows(rows)) {
            return y;
        }
    }
    let mut y = vec![0.0; rows * w_out];
    blocked(
        MatRef::row_major(x, rows, w_in),
        MatRef::row_major(w, w_out, w_in).t(),
        &mut y,
    );
    y
}

/// `dx = dy·W`: `dy` is `rows × w_out`, `w` is `w_out × w_in`; returns `rows × w_in`.
pub fn matmul_nn(dy: &[f32], rows: usize, w: &[f32], w_out: usize, w_in: usize) -> Vec<f32> {
    let mut dx = vec![0.0; rows * w_in];
    blocked(
        MatRef::row_major(dy, rows, w_out),
        MatRef::row_major(w, w_out, w_in),
        &mut dx,
    );
    dx
}

/// `dW = dyᵀ·x`: `dy` is `rows × w_out`, `x` is `rows × w_in`; returns `w_out × w_in`.
pub fn matmul_tn(dy: &[f32], x: &[f32], rows: usize, w_out: usize, w_in: usize) -> Vec<f32> {
    let mut dw = vec![0.0; w_out * w_in];
    blocked(
        MatRef::row_major(dy, rows, w_out).t(),
        MatRef::row_major(x, rows, w_in),
        &mut dw,
    );
    dw
}

/// `acc += add`, element-wise (equal lengths).
pub fn add_into(acc: &mut [f32], add: &[f32]) {
    debug_assert_eq!(acc.len(), add.len());
    for (a, b) in acc.iter_mut().zip(add) {
        *a += b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three products against naive loops in f64, on shapes that span several blocks.
    #[test]
    fn products_match_naive_loops() {
        let (rows, out, inp) = (150, 70, 33);
        let f =
            |n: usize, s: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * s).sin() * 0.5).collect() };
        let (x, w, dy) = (f(rows * inp, 0.37), f(out * inp, 0.71), f(rows * out, 1.13));
        let y = matmul_nt(&x, rows, &w, out, inp);
        let dx = matmul_nn(&dy, rows, &w, out, inp);
        let dw = matmul_tn(&dy, &x, rows, out, inp);
        let mut worst = 0.0f64;
        for r in 0..rows {
            for o in 0..out {
                let s: f64 = (0..inp)
                    .map(|i| (x[r * inp + i] * w[o * inp + i]) as f64)
                    .sum();
                worst = worst.max((s - y[r * out + o] as f64).abs());
            }
            for i in 0..inp {
                let s: f64 = (0..out)
                    .map(|o| (dy[r * out + o] * w[o * inp + i]) as f64)
                    .sum();
                worst = worst.max((s - dx[r * inp + i] as f64).abs());
            }
        }
        for o in 0..out {
            for i in 0..inp {
                let s: f64 = (0..rows)
                    .map(|r| (dy[r * out + o] * x[r * inp + i]) as f64)
                    .sum();
                worst = worst.max((s - dw[o * inp + i] as f64).abs());
            }
        }
        assert!(worst < 1e-4, "largest difference {worst}");
    }
}
