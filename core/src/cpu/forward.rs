//! The batched perturbed linear layer on the CPU.
//!
//! Rows are split into fixed-size chunks of whole members (the split never depends on the
//! thread count, so results are bit-identical for any `RAYON_NUM_THREADS`). Per chunk: the
//! bias and each member's correction regenerated from its key (low rank `s·(σ/√r)·(X_i·B)·Aᵀ`,
//! or for OpenES the dense `s·σ·X_i·Eᵀ`), then one shared GEMM adding `X·Wᵀ` onto them, then
//! the layer's activation while the chunk is still in cache.

use super::activation::activate_in_place;
use super::gemm::{sgemm, MatRef};
use super::kernels::{axpy, lowrank_rows, Correction};
use super::noise_factors::{full_noise, table, LowRank, Noise};
use crate::backend::Activation;
use crate::error::{check_len, CoreError, Result};
use crate::population::{NoiseKind, Population, RowMembers};
use rayon::prelude::*;

/// Layers with fewer multiply-adds than this run on the calling thread.
const SEQUENTIAL_MACS: usize = 1 << 21;

/// Target rows per parallel chunk: an eighth of the batch, between 64 and 512 rows. Large
/// chunks amortise the GEMM's packing of W; eight of them still spread over the threads. The
/// chunking depends on the batch only, never on the thread count.
fn target_chunk_rows(rows: usize) -> usize {
    (rows / 8).clamp(64, 512)
}

/// Host view of a linear layer.
pub struct HostLinear<'a> {
    /// `out × in` weight.
    pub weight: &'a [f32],
    /// Noise id of the weight.
    pub weight_id: u32,
    /// Output dimension.
    pub out_dim: usize,
    /// Input dimension.
    pub in_dim: usize,
    /// Optional bias and its noise id.
    pub bias: Option<(&'a [f32], u32)>,
}

/// `y = act(x·(W + E_i)ᵀ + (b + e_i))` for every member's rows; `perturb = None` is plain
/// inference. The activation is applied to each chunk right after its GEMM, while the chunk
/// is still in cache.
pub fn linear_forward(
    x: &[f32],
    rows: usize,
    layer: &HostLinear<'_>,
    perturb: Option<(&Population, RowMembers<'_>)>,
    act: Activation,
) -> Result<Vec<f32>> {
    let (n_in, n_out) = (layer.in_dim, layer.out_dim);
    check_len("linear input", rows * n_in, x.len())?;
    check_len("linear weight", n_out * n_in, layer.weight.len())?;
    if let Some((b, _)) = layer.bias {
        check_len("linear bias", n_out, b.len())?;
    }
    let chunk_rows = match perturb {
        Some((pop, RowMembers::Blocks(mr))) => {
            mr.members_in(pop, rows)?;
            let per_chunk = (target_chunk_rows(rows) / mr.rows_per_member).max(1);
            (per_chunk + per_chunk % 2) * mr.rows_per_member
        }
        Some((pop, RowMembers::List(list))) => {
            pop.validate()?;
            check_len("row members", rows, list.len())?;
            if let Some(&m) = list.iter().find(|&&m| m >= pop.size) {
                return Err(CoreError::invalid(
                    "row members",
                    format!("member {m} is outside the population of {}", pop.size),
                ));
            }
            target_chunk_rows(rows)
        }
        None => target_chunk_rows(rows),
    };
    let mut y = vec![0.0f32; rows * n_out];
    let chunk = |(c, y_chunk): (usize, &mut [f32])| {
        let r0 = c * chunk_rows;
        let nr = y_chunk.len() / n_out;
        let xc = &x[r0 * n_in..(r0 + nr) * n_in];
        // Bias and corrections first, then the GEMM accumulates onto them (beta = 1): the
        // chunk's output is read and written once, inside the GEMM's own tiles, instead of
        // in extra passes after it (at width 1024 a chunk's output does not stay in cache).
        match perturb {
            Some((pop, members)) => add_corrections(pop, &members, r0, xc, layer, y_chunk),
            None => {
                if let Some((b, _)) = layer.bias {
                    for row in y_chunk.chunks_mut(n_out) {
                        row.copy_from_slice(b);
                    }
                }
            }
        }
        let beta = if layer.bias.is_some() || perturb.is_some() {
            1.0
        } else {
            0.0
        };
        let w = MatRef::row_major(layer.weight, n_out, n_in);
        sgemm(1.0, MatRef::row_major(xc, nr, n_in), w.t(), beta, y_chunk);
        if act != Activation::Identity {
            activate_in_place(y_chunk, act);
        }
    };
    // Small layers (an RL step) run on the calling thread: handing them to the pool costs
    // more than the work. The chunks, and so the results, are the same either way.
    if rows * n_in * n_out < SEQUENTIAL_MACS {
        y.chunks_mut(chunk_rows * n_out).enumerate().for_each(chunk);
    } else {
        y.par_chunks_mut(chunk_rows * n_out)
            .enumerate()
            .for_each(chunk);
    }
    Ok(y)
}

/// Write the bias plus every member's noise correction into its rows of one chunk (rows from
/// `r0` on; without a bias the rows' zeros are the base).
fn add_corrections(
    pop: &Population,
    members: &RowMembers<'_>,
    r0: usize,
    x: &[f32],
    layer: &HostLinear<'_>,
    y: &mut [f32],
) {
    let (n_in, n_out) = (layer.in_dim, layer.out_dim);
    let rows = y.len() / n_out;
    let mut noise = Vec::new();
    let mut factors: Option<LowRank> = None;
    let mut bias_noise: Option<Noise> = None;
    let mut current: Option<u32> = None;
    let weight_table = match pop.kind {
        NoiseKind::LowRank { rank } => {
            Some(table(pop, layer.weight_id, n_out, n_in, rank as usize))
        }
        NoiseKind::Full => None,
    };
    let bias_table = layer.bias.map(|(_, id)| table(pop, id, n_out, 0, 0));
    let mut start = 0;
    while start < rows {
        // A group: consecutive rows of one member.
        let member = members.member_of(r0 + start);
        let mut end = start + 1;
        while end < rows && members.member_of(r0 + end) == member {
            end += 1;
        }
        let rpm = end - start;
        let stream = pop.stream_of(member);
        let sign = pop.sign_of(member);
        let fresh = current != Some(stream);
        current = Some(stream);
        let xs = &x[start * n_in..end * n_in];
        let ys = &mut y[start * n_out..end * n_out];
        start = end;
        if let Some(bt) = &bias_table {
            if fresh || bias_noise.is_none() {
                bias_noise = Some(bt.vector(stream));
            }
        }
        let bias_term = bias_noise.as_deref().map(|eps| (eps, sign * pop.sigma));
        match pop.kind {
            NoiseKind::LowRank { .. } => {
                if fresh || factors.is_none() {
                    factors = weight_table.as_ref().map(|t| t.low_rank(stream));
                }
                if let Some(f) = &factors {
                    let alpha = sign * pop.matrix_scale();
                    let c = Correction {
                        base: layer.bias.map(|(b, _)| b),
                        factors: f,
                        alpha,
                        bias_noise: bias_term,
                    };
                    lowrank_rows(xs, ys, n_in, n_out, &c);
                }
            }
            NoiseKind::Full => {
                if let Some((b, _)) = layer.bias {
                    for yr in ys.chunks_mut(n_out) {
                        yr.copy_from_slice(b);
                    }
                }
                if fresh {
                    noise.resize(n_out * n_in, 0.0);
                    full_noise(pop, layer.weight_id, stream, 0, &mut noise);
                }
                let e = MatRef::row_major(&noise, n_out, n_in);
                sgemm(
                    sign * pop.sigma,
                    MatRef::row_major(xs, rpm, n_in),
                    e.t(),
                    1.0,
                    ys,
                );
                if let Some((eps, c)) = bias_term {
                    for yr in ys.chunks_mut(n_out) {
                        axpy(c, eps, yr);
                    }
                }
            }
        }
    }
}
