//! The batched perturbed linear layer on the CPU.
//!
//! Rows are split into fixed-size chunks of whole members (the split never depends on the
//! thread count, so results are bit-identical for any `RAYON_NUM_THREADS`). Per chunk: first
//! one shared GEMM writing `X·Wᵀ` (beta = 0; W packed once for all chunks where the CPU has
//! AVX-512), then, per row, the bias and the member's
//! correction regenerated from its key (low rank `s·(σ/√r)·(X_i·B)·Aᵀ`, or for OpenES the dense
//! `s·σ·X_i·Eᵀ`) added onto it, then the layer's activation while the chunk is still in cache.
//! Rows of baseline members (sign 0, `eggroll_baseline`) get the plain rows' bias and
//! activation only, so they equal plain inference bit for bit.

use super::activation::activate_in_place;
use super::gemm::{sgemm, sgemm_into, MatRef};
use super::gemm_nt::{self, gemm_nt_into, gemm_nt_rows_into};
use super::gemm_packed::{self, gemm_packed_into, Panels};
use super::kernels::{add_noise, axpy, lowrank_rows, Correction, VectorNoise};
use super::noise_factors::{full_noise, NoiseCache};
use crate::backend::Activation;
use crate::error::{check_len, Result};
use crate::noise::{SignedWindow, WORD};
use crate::population::{NoiseKind, Population, RowOwners};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Layers with fewer multiply-adds than this run on the calling thread.
const SEQUENTIAL_MACS: usize = 1 << 21;

/// Batches of at most this many rows take the unpacked GEMM ([`gemm_nt_into`]) where the CPU
/// has AVX2 and FMA: below it, packing W costs more than it saves (`bench llm`). Larger ones
/// take the packed GEMM (`gemm_packed`, AVX-512) or else the blocked GEMM (`matrixmultiply`):
/// the same bits either way, however the rows are chunked.
pub const NT_MAX_ROWS: usize = 128;

/// Rows per parallel task of the corrections after the unpacked GEMM: a decode step's 64 rows
/// would otherwise be one chunk, its members' noise and rank-r terms on one thread while the
/// others wait. Even, so antithetic pairs stay together; every row's correction is its own
/// arithmetic, so the split changes no result.
const NT_FINISH_ROWS: usize = 16;

/// Inputs narrower than this keep the blocked GEMM: the dot products would be too short to
/// pay for their lane reductions.
const NT_MIN_IN: usize = 64;

/// Target rows per parallel chunk: an eighth of the batch, between 64 and 512 rows. Large
/// chunks amortise the GEMM's packing of W; eight of them still spread over the threads. The
/// chunking depends on the batch only, never on the thread count.
pub fn target_chunk_rows(rows: usize) -> usize {
    (rows / 8).clamp(64, 512)
}

/// Host view of a linear layer.
pub(crate) struct HostLinear<'a> {
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
    /// The weight's rows from a compact form (`LinearLayer::rows`).
    pub rows: Option<&'a dyn crate::backend::WeightRows>,
}

/// `y = act(x·(W + E_i)ᵀ + (b + e_i))` for every member's rows (`RowOwners::Plain`: plain
/// inference), with the calling backend's noise cache. The activation is applied to each
/// chunk right after its GEMM, while the chunk is still in cache.
pub(crate) fn linear_forward(
    cache: &NoiseCache,
    x: &[f32],
    rows: usize,
    layer: &HostLinear<'_>,
    owners: RowOwners<'_>,
    act: Activation,
) -> Result<Vec<f32>> {
    let (n_in, n_out) = (layer.in_dim, layer.out_dim);
    check_len("linear input", rows * n_in, x.len())?;
    check_len("linear weight", n_out * n_in, layer.weight.len())?;
    if let Some((b, _)) = layer.bias {
        check_len("linear bias", n_out, b.len())?;
    }
    owners.check(rows)?;
    let chunk_rows = match owners {
        RowOwners::Grouped {
            rows_per_member, ..
        } => {
            let per_chunk = (target_chunk_rows(rows) / rows_per_member).max(1);
            (per_chunk + per_chunk % 2) * rows_per_member
        }
        RowOwners::Tagged { .. } | RowOwners::Plain => target_chunk_rows(rows),
    };
    let mut y: Vec<MaybeUninit<f32>> = Vec::with_capacity(rows * n_out);
    // SAFETY: `MaybeUninit` needs no initialisation; every element is written by a GEMM
    // (`sgemm_into` per chunk, or `gemm_nt_into` over the whole output) before anything reads it.
    unsafe { y.set_len(rows * n_out) };
    // Small layers (an RL step) run on the calling thread: handing them to the pool costs
    // more than the work; so does every layer inside `serial` (the caller already runs one
    // rayon task per block). The chunks, and so the results, are the same either way.
    let parallel = !super::is_serial() && rows * n_in * n_out >= SEQUENTIAL_MACS;
    // Then, per chunk of rows holding `x·Wᵀ`, the bias and the member's correction while the
    // chunk and its inputs are still in cache, then the activation.
    let finish = |r0: usize, xc: &[f32], y_chunk: &mut [f32]| match owners.population() {
        Some(pop) => add_corrections(cache, pop, &owners, r0, xc, layer, y_chunk, act),
        None => {
            for row in y_chunk.chunks_mut(n_out) {
                if let Some((b, _)) = layer.bias {
                    axpy(1.0, b, row);
                }
                activate(row, act);
            }
        }
    };
    let x_of = |r0: usize, nr: usize| &x[r0 * n_in..(r0 + nr) * n_in];
    if rows <= NT_MAX_ROWS && n_in >= NT_MIN_IN && gemm_nt::available() {
        // Few rows (a decode step): one unpacked GEMM split over W's rows, then the chunks;
        // W read from its compact form where the layer has one (a 7th of the bytes for 4.5-bit
        // blocks), the same values either way.
        let yi = match layer.rows {
            Some(w) => gemm_nt_rows_into(x, rows, w, n_out, n_in, &mut y, parallel),
            None => gemm_nt_into(x, rows, layer.weight, n_out, n_in, &mut y, parallel),
        };
        // Plain rows with no bias and no activation are finished already: no second pass
        // over the pool (a decode step has seven such projections per layer).
        if owners.population().is_none() && layer.bias.is_none() && act == Activation::Identity {
            return Ok(assume_init(y));
        }
        let finish_rows = match owners {
            RowOwners::Grouped { .. } => chunk_rows,
            RowOwners::Tagged { .. } | RowOwners::Plain => chunk_rows.min(NT_FINISH_ROWS),
        };
        let each = |(c, y_chunk): (usize, &mut [f32])| {
            let r0 = c * finish_rows;
            finish(r0, x_of(r0, y_chunk.len() / n_out), y_chunk)
        };
        if parallel {
            yi.par_chunks_mut(finish_rows * n_out)
                .enumerate()
                .for_each(each);
        } else {
            yi.chunks_mut(finish_rows * n_out)
                .enumerate()
                .for_each(each);
        }
        return Ok(assume_init(y));
    }
    // Where the CPU has AVX-512, W is packed once for all chunks (`gemm_packed`), unless it
    // is too narrow to fill a panel or too big to copy (a vocabulary head).
    let packed =
        gemm_packed::takes(n_out, n_in).then(|| Panels::pack(layer.weight, n_out, n_in, parallel));
    let chunk = |(c, raw): (usize, &mut [MaybeUninit<f32>])| {
        let r0 = c * chunk_rows;
        let xc = x_of(r0, raw.len() / n_out);
        let nr = xc.len() / n_in;
        // The shared GEMM writes the chunk (beta = 0: no zeroing pass before it).
        let y_chunk = match &packed {
            Some(w) => gemm_packed_into(xc, nr, w, raw),
            None => {
                let w = MatRef::row_major(layer.weight, n_out, n_in);
                sgemm_into(1.0, MatRef::row_major(xc, nr, n_in), w.t(), raw)
            }
        };
        finish(r0, xc, y_chunk);
    };
    if parallel {
        y.par_chunks_mut(chunk_rows * n_out)
            .enumerate()
            .for_each(chunk);
    } else {
        y.chunks_mut(chunk_rows * n_out).enumerate().for_each(chunk);
    }
    if let Some(w) = packed {
        w.release();
    }
    Ok(assume_init(y))
}

/// The output once every chunk has initialised its elements.
fn assume_init(v: Vec<MaybeUninit<f32>>) -> Vec<f32> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: same layout and allocation; the chunks cover the vector and each one's GEMM
    // wrote every element before this is reached.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<f32>(), v.len(), v.capacity()) }
}

/// Add the bias and every member's noise correction to its rows of one chunk (rows from `r0`
/// on, holding `x·Wᵀ`). Consecutive rows of one noise stream (an antithetic pair's members)
/// are corrected together, so their noise is fetched once.
#[allow(clippy::too_many_arguments)]
fn add_corrections(
    cache: &NoiseCache,
    pop: &Population,
    owners: &RowOwners<'_>,
    r0: usize,
    x: &[f32],
    layer: &HostLinear<'_>,
    y: &mut [f32],
    act: Activation,
) {
    let (n_in, n_out) = (layer.in_dim, layer.out_dim);
    let rows = y.len() / n_out;
    let (mut factor_scratch, mut bias_scratch) = (Vec::new(), Vec::new());
    let (mut signs, mut words) = (Vec::new(), Vec::new());
    // The rank-1 pass with a bias reads an uncached bias noise straight from the pool, in
    // whole sign words.
    let window_bias = matches!(pop.kind, NoiseKind::LowRank { rank: 1 }) && n_out % WORD == 0;
    let weight_table = match pop.kind {
        NoiseKind::LowRank { rank } => {
            Some(cache.table(pop, layer.weight_id, n_out, n_in, rank as usize))
        }
        NoiseKind::Full => None,
    };
    let bias_table = layer.bias.map(|(_, id)| cache.table(pop, id, n_out, 0, 0));
    // Only perturbed batches come here, so every row has a member.
    let member_of = |row: usize| owners.member_of(row).unwrap_or(0);
    let mut start = 0;
    while start < rows {
        // A group: consecutive rows of one stream, with each row's sign.
        let stream = pop.stream_of(member_of(r0 + start));
        signs.clear();
        let mut end = start;
        while end < rows {
            let member = member_of(r0 + end);
            if pop.stream_of(member) != stream {
                break;
            }
            signs.push(pop.sign_of(member));
            end += 1;
        }
        let xs = &x[start * n_in..end * n_in];
        let ys = &mut y[start * n_out..end * n_out];
        start = end;
        // A baseline stream (every member of `eggroll_baseline`'s group pair has sign 0): the
        // unperturbed rows, computed exactly as plain inference computes them.
        if signs.iter().all(|&s| s == 0.0) {
            for row in ys.chunks_mut(n_out) {
                if let Some((b, _)) = layer.bias {
                    axpy(1.0, b, row);
                }
                activate(row, act);
            }
            continue;
        }
        let bias_noise = bias_table.as_ref().map(|t| {
            let eps = match t.stored_vector(stream) {
                Some(v) => VectorNoise::Values(v),
                None if window_bias => {
                    VectorNoise::Window(SignedWindow::new(t.key(stream), n_out, &mut words))
                }
                // Regenerated for this use (`stored_vector` has counted it).
                None => VectorNoise::Values(t.regenerated_vector(stream, &mut bias_scratch)),
            };
            (eps, pop.sigma)
        });
        match &weight_table {
            Some(t) => {
                let c = Correction {
                    base: layer.bias.map(|(b, _)| b),
                    factors: t.low_rank(stream, &mut factor_scratch),
                    scale: pop.matrix_scale(),
                    bias_noise,
                };
                lowrank_rows(xs, ys, (n_in, n_out), &signs, &c);
                activate(ys, act);
            }
            None => {
                if let Some((b, _)) = layer.bias {
                    for row in ys.chunks_mut(n_out) {
                        axpy(1.0, b, row);
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
                            add_noise(sign * sigma, eps, yr);
                        }
                    }
                    activate(yr, act);
                }
            }
        }
    }
}

/// `act` applied to `rows` in place, right after their last term was added (still in L1).
fn activate(rows: &mut [f32], act: Activation) {
    if act != Activation::Identity {
        activate_in_place(rows, act);
    }
}
