//! The batched perturbed linear layer on the CPU.
//!
//! Rows are split into fixed-size chunks of whole members (the split never depends on the
//! thread count, so results are bit-identical for any `RAYON_NUM_THREADS`). Per chunk: the
//! bias and each member's correction regenerated from its key (low rank `s·(σ/√r)·(X_i·B)·Aᵀ`,
//! or for OpenES the dense `s·σ·X_i·Eᵀ`), then one shared GEMM adding `X·Wᵀ` onto them, then
//! the layer's activation while the chunk is still in cache.

use super::activation::activate_in_place;
use super::gemm::{sgemm, MatRef};
use super::kernels::{axpy, init_rows, lowrank_rows, Correction};
use super::noise_factors::{full_noise, table};
use crate::backend::Activation;
use crate::error::{check_len, CoreError, Result};
use crate::population::{NoiseKind, Population, RowMembers};
use rayon::prelude::*;
use std::mem::MaybeUninit;

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
    let mut y: Vec<MaybeUninit<f32>> = Vec::with_capacity(rows * n_out);
    // SAFETY: `MaybeUninit` needs no initialisation; every chunk writes all of its elements
    // (`init_rows`) before anything reads them.
    unsafe { y.set_len(rows * n_out) };
    let chunk = |(c, raw): (usize, &mut [MaybeUninit<f32>])| {
        // The chunk starts as the bias (or zeros), written here while it is about to be used
        // (by each stream group's correction, or before the GEMM), instead of one serial
        // memset of the whole output before the parallel work.
        let r0 = c * chunk_rows;
        let nr = raw.len() / n_out;
        let xc = &x[r0 * n_in..(r0 + nr) * n_in];
        let bias = layer.bias.map(|(b, _)| b);
        // Corrections first, then the GEMM accumulates onto them (beta = 1): the chunk's
        // output is read and written once, inside the GEMM's own tiles, instead of in extra
        // passes after it (at width 1024 a chunk's output does not stay in cache).
        let y_chunk = match perturb {
            Some((pop, members)) => add_corrections(pop, &members, r0, xc, layer, raw),
            None => init_rows(raw, n_out, bias),
        };
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
    Ok(assume_init(y))
}

/// The output once every chunk has initialised its elements.
fn assume_init(v: Vec<MaybeUninit<f32>>) -> Vec<f32> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: same layout and allocation; the chunks cover the vector and `init_rows` wrote
    // every element of each before this is reached.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<f32>(), v.len(), v.capacity()) }
}

/// Initialise the rows of one chunk (rows from `r0` on) to the bias, or zeros, and add every
/// member's noise correction; returns the chunk, every element written. Consecutive rows of
/// one noise stream (an antithetic pair's members) are corrected together, so their noise is
/// fetched once.
fn add_corrections<'y>(
    pop: &Population,
    members: &RowMembers<'_>,
    r0: usize,
    x: &[f32],
    layer: &HostLinear<'_>,
    y: &'y mut [MaybeUninit<f32>],
) -> &'y mut [f32] {
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
                let ys = init_rows(ys, n_out, layer.bias.map(|(b, _)| b));
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
    // SAFETY: the groups cover rows 0..rows, and `init_rows` wrote every element of each;
    // `MaybeUninit<f32>` has the layout of `f32`.
    unsafe { &mut *(y as *mut [MaybeUninit<f32>] as *mut [f32]) }
}
