//! Backward passes of the row-wise transformer operations whose forwards are
//! `eggroll_core::transformer` (RMSNorm, llama.cpp's adjacent-pair rotary embeddings,
//! SwiGLU's gate). Rows are independent, so their gradients run on rayon's threads one row per
//! task; the norm weight's gradient, a sum over rows, is added in row order on one thread, so
//! every result is the same for any thread count.

use rayon::prelude::*;

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 16;

/// Backward of `y = x / √(mean(x²) + eps) · w` over `width`-rows: given `dy`, returns `dx`
/// and `dw` (summed over rows).
///
/// With `r = 1/√(mean(x²)+eps)`: `dx_i = r·w_i·dy_i − x_i · r³/width · Σ_j w_j·dy_j·x_j`,
/// `dw_i = Σ_rows dy_i·x_i·r`.
pub fn rms_norm_backward(
    x: &[f32],
    w: &[f32],
    eps: f32,
    dy: &[f32],
    width: usize,
) -> (Vec<f32>, Vec<f32>) {
    let mut dx = vec![0.0; x.len()];
    let inv = |xr: &[f32]| {
        let ms = xr.iter().map(|v| v * v).sum::<f32>() / width as f32;
        1.0 / (ms + eps).sqrt()
    };
    dx.par_chunks_mut(width * ROWS_PER_TASK)
        .zip(x.par_chunks(width * ROWS_PER_TASK))
        .zip(dy.par_chunks(width * ROWS_PER_TASK))
        .for_each(|((dxc, xc), dyc)| {
            for ((dxr, xr), dyr) in dxc
                .chunks_mut(width)
                .zip(xc.chunks(width))
                .zip(dyc.chunks(width))
            {
                let r = inv(xr);
                let dot: f32 = (0..width).map(|i| w[i] * dyr[i] * xr[i]).sum();
                let c = r * r * r * dot / width as f32;
                for i in 0..width {
                    dxr[i] = r * w[i] * dyr[i] - xr[i] * c;
                }
            }
        });
    let mut dw = vec![0.0; width];
    for (xr, dyr) in x.chunks(width).zip(dy.chunks(width)) {
        let r = inv(xr);
        for i in 0..width {
            dw[i] += dyr[i] * xr[i] * r;
        }
    }
    (dx, dw)
}

/// Backward of the rotary embedding in place: every head's pair `(2i, 2i+1)` of every
/// `width`-row of `d` turns back by its row's angle `i` in `table` (`head_dim` floats per
/// row: cosine and sine interleaved, as `TransformerOps::rope_table` gives them). A rotation's
/// transpose is its inverse.
pub fn rope_backward(d: &mut [f32], width: usize, head_dim: usize, table: &[f32]) {
    d.par_chunks_mut(width)
        .zip(table.par_chunks(head_dim))
        .for_each(|(row, t)| {
            for head in row.chunks_exact_mut(head_dim) {
                for (pair, cs) in head.chunks_exact_mut(2).zip(t.chunks_exact(2)) {
                    let (c, s) = (cs[0], cs[1]);
                    let (d0, d1) = (pair[0], pair[1]);
                    pair[0] = d0 * c + d1 * s;
                    pair[1] = -d0 * s + d1 * c;
                }
            }
        });
}

/// Backward of `a = silu(g)·u` (`silu(g) = g·σ(g)`): given the pre-activation `gate`, `up`
/// and `da`, returns `(dg, du)`: `dg = da·u·σ(g)·(1 + g·(1 − σ(g)))`, `du = da·silu(g)`.
pub fn swiglu_backward(gate: &[f32], up: &[f32], da: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mut dg, mut du) = (vec![0.0; gate.len()], vec![0.0; gate.len()]);
    const BLOCK: usize = 1 << 12;
    dg.par_chunks_mut(BLOCK)
        .zip(du.par_chunks_mut(BLOCK))
        .zip(gate.par_chunks(BLOCK).zip(up.par_chunks(BLOCK)))
        .zip(da.par_chunks(BLOCK))
        .for_each(|(((dg, du), (gate, up)), da)| {
            for ((((dg, du), &g), &u), &d) in dg.iter_mut().zip(du).zip(gate).zip(up).zip(da) {
                let s = 1.0 / (1.0 + eggroll_core::transformer::softmax::exp(-g));
                *dg = d * u * s * (1.0 + g * (1.0 - s));
                *du = d * g * s;
            }
        });
    (dg, du)
}
