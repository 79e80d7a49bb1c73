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
use super::noise_factors::{full_noise, table};
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
/// `r0` on; without a bias the rows' zeros are the base). Consecutive rows of one noise stream
/// (an antithetic pair's members) are corrected together, so their noise is fetched once.
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
    let (mut factor_scratch, mut bias_scratch) = (Vec::new(), Vec::new());
    let mut signs = Vec::new();
    let weight_table = match pop.kind {
        NoiseKind::LowRank { rank } => {
            Some(table(pop, layer.weight_id, n_out, n_in, rank as usize))
        }
        NoiseKind::Full => None,
    };
    let bias_table = layer.bias.map(|(_, id)| table(pop, id, n_out, 0, 0));
    let mut start = 0;
    while start < rows {
        // A group: consecutive rows of one stream, with each row's sign.
        let stream = pop.stream_of(members.member_of(r0 + start));
        signs.clear();
        let mut end = start;
        while end < rows {
            let member = members.member_of(r0 + end);
            if pop.stream_of(member) != stream {
                break;
            }
            signs.push(pop.sign_of(member));
            end += 1;
        }
        let xs = &x[start * n_in..end * n_in];
        prefetch(x.get(end * n_in..(2 * end - start).min(rows) * n_in));
        let ys = &mut y[start * n_out..end * n_out];
        start = end;
        let bias_noise = bias_table
            .as_ref()
            .map(|t| (t.vector(stream, &mut bias_scratch), pop.sigma));
        match &weight_table {
            Some(t) => {
                let c = Correction {
                    base: layer.bias.map(|(b, _)| b),
                    factors: t.low_rank(stream, &mut factor_scratch),
                    scale: pop.matrix_scale(),
                    bias_noise,
                };
                lowrank_rows(xs, ys, (n_in, n_out), &signs, &c);
            }
            None => {
                if let Some((b, _)) = layer.bias {
                    for yr in ys.chunks_mut(n_out) {
                        yr.copy_from_slice(b);
                    }
                }
                factor_scratch.resize(n_out * n_in, 0.0);
                full_noise(pop, layer.weight_id, stream, 0, &mut factor_scratch);
                let e = MatRef::row_major(&factor_scratch, n_out, n_in);
                // One GEMM per member: the runs of rows with one sign.
                let mut i = 0;
                while i < signs.len() {
                    let sign = signs[i];
                    let run = signs[i..].iter().take_while(|&&s| s == sign).count();
                    let (xr, yr) = (
                        &xs[i * n_in..(i + run) * n_in],
                        &mut ys[i * n_out..(i + run) * n_out],
                    );
                    i += run;
                    sgemm(
                        sign * pop.sigma,
                        MatRef::row_major(xr, run, n_in),
                        e.t(),
                        1.0,
                        yr,
                    );
                    for yr in yr.chunks_mut(n_out) {
                        if let Some((eps, sigma)) = bias_noise {
                            axpy(sign * sigma, eps, yr);
                        }
                    }
                }
            }
        }
    }
}

/// Ask the CPU to bring `data` (the next group's input rows) into L1 while this group is
/// corrected: the dot products otherwise wait on each row's first loads.
#[inline(always)]
fn prefetch(data: Option<&[f32]>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(d) = data {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in d.chunks(16) {
            // SAFETY: a prefetch is a hint; it never faults and the address is in bounds.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}
