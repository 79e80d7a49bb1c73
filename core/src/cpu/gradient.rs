//! The ES gradient estimate `(1/N) Σ_i w_i E_i` on the CPU.
//!
//! Low rank: with per-stream coefficients `c_k = Σ_{i∈k} s_i w_i`, the gradient of a matrix is
//! `(σ/(N√r)) · Pᵀ Q`, where row `(k, j)` of `P` is `c_k·A_k[:, j]` and of `Q` is `B_k[:, j]`:
//! ONE GEMM over N·r (processed in fixed chunks of streams so memory stays O(chunk·(a+b)·r)).
//! With sign factors (`eggroll_sign`) the rows hold `c_k·sign(A_k)` and `sign(B_k)` instead.
//! Full rank (OpenES) regenerates every dense `E_k`. Work is split over fixed output blocks, so
//! every element is summed in the same order for any thread count.

use super::gemm::{sgemm, MatRef};
use super::kernels::axpy;
use super::noise_factors::{full_noise, NoiseCache};
use crate::error::Result;
use crate::params::{ParamShape, ParamSpec};
use crate::population::{NoiseKind, Population, UpdateFactors};
use rayon::prelude::*;

/// Streams per GEMM chunk in the low-rank update.
const STREAM_CHUNK: usize = 512;
/// Output rows per parallel block of the low-rank update (each block's GEMM packs all of Q
/// again, so blocks are large; the split never depends on the thread count).
const ROW_BLOCK: usize = 128;
/// Rows of a dense (OpenES) matrix per parallel block of its update.
const DENSE_ROW_BLOCK: usize = 32;
/// Vector elements per parallel block.
const VEC_BLOCK: usize = 256;

/// The ES gradient estimate for one parameter tensor (host buffers), with the noise cache
/// of the calling backend.
pub(crate) fn es_gradient(
    cache: &NoiseCache,
    pop: &Population,
    spec: &ParamSpec,
    weights: &[f32],
) -> Result<Vec<f32>> {
    let coeffs = pop.stream_coefficients(weights)?;
    let inv_n = 1.0 / pop.size as f32;
    Ok(match (spec.shape, pop.kind) {
        (ParamShape::Matrix { rows, cols }, NoiseKind::LowRank { rank }) => low_rank_gradient(
            cache,
            pop,
            spec.id,
            rows,
            cols,
            rank as usize,
            &coeffs,
            pop.matrix_scale() * inv_n,
        ),
        (ParamShape::Matrix { rows, cols }, NoiseKind::Full) => dense_gradient(
            cache,
            pop,
            spec.id,
            rows * cols,
            cols * DENSE_ROW_BLOCK,
            &coeffs,
            pop.sigma * inv_n,
        ),
        (ParamShape::Vector { len }, _) => dense_gradient(
            cache,
            pop,
            spec.id,
            len,
            VEC_BLOCK,
            &coeffs,
            pop.sigma * inv_n,
        ),
    })
}

#[allow(clippy::too_many_arguments)]
fn low_rank_gradient(
    cache: &NoiseCache,
    pop: &Population,
    id: u32,
    rows: usize,
    cols: usize,
    r: usize,
    coeffs: &[f32],
    alpha: f32,
) -> Vec<f32> {
    let mut grad = vec![0.0f32; rows * cols];
    let sign_factors = pop.variant().factors == UpdateFactors::Sign;
    let table = cache.table(pop, id, rows, cols, r);
    let (mut p, mut q) = (Vec::new(), Vec::new());
    for (ci, chunk) in coeffs.chunks(STREAM_CHUNK).enumerate() {
        let k0 = ci * STREAM_CHUNK;
        let kr = chunk.len() * r;
        // P: (k·r) × rows, Q: (k·r) × cols, filled in parallel per stream (every element is
        // written, so the buffers are only sized, once, not cleared).
        p.resize(kr * rows, 0.0);
        q.resize(kr * cols, 0.0);
        p.par_chunks_mut(r * rows)
            .zip(q.par_chunks_mut(r * cols))
            .enumerate()
            .for_each_init(Vec::new, |scratch, (k, (pk, qk))| {
                let c = chunk[k];
                let f = table.low_rank((k0 + k) as u32, scratch);
                if sign_factors {
                    // sign(A), sign(B): the noise is never 0 (the pool's least magnitude is
                    // 2^-16), so the sign is the sign bit.
                    for (pv, av) in pk.iter_mut().zip(f.at()) {
                        *pv = c * 1f32.copysign(*av);
                    }
                    for (qv, bv) in qk.iter_mut().zip(f.bt()) {
                        *qv = 1f32.copysign(*bv);
                    }
                } else {
                    for (pv, av) in pk.iter_mut().zip(f.at()) {
                        *pv = c * av;
                    }
                    qk.copy_from_slice(f.bt());
                }
            });
        let pt = MatRef::row_major(&p[..kr * rows], kr, rows).t();
        let qm = MatRef::row_major(&q[..kr * cols], kr, cols);
        grad.par_chunks_mut(ROW_BLOCK * cols)
            .enumerate()
            .for_each(|(bi, g)| {
                let o0 = bi * ROW_BLOCK;
                let nr = g.len() / cols;
                let block = MatRef {
                    data: &pt.data[o0..],
                    rows: nr,
                    ..pt
                };
                sgemm(alpha, block, qm, 1.0, g);
            });
    }
    grad
}

/// `alpha · Σ_k c_k ε_k` for a dense noise of `len` elements.
///
/// Work is split into fixed (element block × stream chunk) tiles; each tile's partial sum is
/// computed in parallel and the partials of an element block are added in stream order, so the
/// result does not depend on the thread count.
fn dense_gradient(
    cache: &NoiseCache,
    pop: &Population,
    id: u32,
    len: usize,
    block: usize,
    coeffs: &[f32],
    alpha: f32,
) -> Vec<f32> {
    let block = block.max(1);
    let blocks = len.div_ceil(block);
    let chunks = coeffs.len().div_ceil(STREAM_CHUNK).max(1);
    // Vector noise is shared with the forward through the cache; a block of a larger dense
    // noise is always regenerated.
    let whole = (block >= len).then(|| cache.table(pop, id, len, 0, 0));
    let partials: Vec<Vec<f32>> = (0..blocks * chunks)
        .into_par_iter()
        .map(|tile| {
            let (bi, ci) = (tile / chunks, tile % chunks);
            let start = bi * block;
            let n = block.min(len - start);
            let mut acc = vec![0.0f32; n];
            let mut eps = vec![0.0f32; n];
            let k0 = ci * STREAM_CHUNK;
            for (k, &c) in coeffs.iter().enumerate().skip(k0).take(STREAM_CHUNK) {
                if c == 0.0 {
                    continue;
                }
                if let Some(t) = &whole {
                    axpy(c, t.vector(k as u32, &mut eps), &mut acc);
                } else {
                    full_noise(pop, id, k as u32, start, &mut eps);
                    axpy(c, &eps, &mut acc);
                }
            }
            acc
        })
        .collect();
    let mut grad = vec![0.0f32; len];
    for (bi, g) in grad.chunks_mut(block).enumerate() {
        for part in &partials[bi * chunks..(bi + 1) * chunks] {
            axpy(1.0, part, g);
        }
        g.iter_mut().for_each(|v| *v *= alpha);
    }
    grad
}
