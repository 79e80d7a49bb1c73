//! Population evaluation (each member's integer log-likelihood over its pair's window) and
//! validation bits/byte of the unperturbed model.
//!
//! Members are cut into chunks of `chunk_members` (whole pairs); each chunk regenerates its
//! pairs' noise and runs one [`Runner`]: one shared GEMM per matrix and step for all its
//! members. Chunks run in parallel on rayon; every member's result depends only on its own
//! data, weights and noise, so any thread count (or chunk size) gives the same bits.

use crate::egg::forward::Runner;
use crate::egg::noise::ChunkNoise;
use crate::egg::params::{Weights, VOCAB};
use crate::egg::tables::log_prob16;
use crate::error::Result;
use eggroll_core::int::DynIntKernels;
use rayon::prelude::*;

/// Byte that separates documents: the hidden state is reset before it is read.
pub const DOC_SEPARATOR: u8 = 0;

/// What a population evaluation needs besides the weights.
#[derive(Clone, Copy, Debug)]
pub struct PopulationSpec {
    /// Run seed.
    pub seed: u64,
    /// Noise epoch.
    pub epoch: u32,
    /// Perturbation rank.
    pub rank: usize,
    /// σ = 2^-sigma_shift.
    pub sigma_shift: u32,
    /// Members per work item (even).
    pub chunk_members: usize,
    /// After scoring, give both members of a pair the `+` member's final hidden state, so the
    /// next generation compares the pair from one common state (less fitness noise).
    pub share_pair_state: bool,
}

/// Score pairs `first_pair ..` (a process's share of the population, or all of it):
/// `windows[k]` (T+1 bytes) is read by pair `first_pair + k`'s two members, whose hidden states
/// (`state`, their members × layers × D) are zeroed first when `resets[k]`, carried otherwise,
/// and updated in place (see [`PopulationSpec::share_pair_state`]). Returns each member's
/// Σ log2 p in 1/16 bit. Matrix products run on `kernels` when given (same bits), else
/// on the CPU; a kernel failure is the error.
pub fn evaluate_population(
    wts: &Weights,
    spec: PopulationSpec,
    first_pair: usize,
    windows: &[&[u8]],
    resets: &[bool],
    state: &mut [i8],
    kernels: Option<&dyn DynIntKernels>,
) -> Result<Vec<i64>> {
    let per_member = wts.layout.layers() * wts.layout.d;
    let members = windows.len() * 2;
    assert_eq!(state.len(), members * per_member);
    let chunk = spec.chunk_members.max(2) & !1;
    let scores: Vec<Vec<i64>> = state
        .par_chunks_mut(chunk * per_member)
        .enumerate()
        .map(|(c, st)| {
            let rows = st.len() / per_member;
            let local = c * chunk / 2;
            let noise = ChunkNoise::generate_for(
                &wts.layout,
                spec.seed,
                spec.epoch,
                (first_pair + local) as u32,
                rows / 2,
                spec.rank,
                spec.sigma_shift,
                kernels.is_none(),
            );
            let mut run = Runner::new(wts, Some(&noise), rows).with_kernels(kernels);
            run.load_state(st);
            let wins = &windows[local..local + rows / 2];
            for (q, _) in resets[local..local + rows / 2]
                .iter()
                .enumerate()
                .filter(|(_, &r)| r)
            {
                run.reset_row(2 * q);
                run.reset_row(2 * q + 1);
            }
            let steps = wins.first().map_or(0, |w| w.len().saturating_sub(1));
            let mut ll = vec![0i64; rows];
            let mut bytes = vec![0u8; rows];
            for t in 0..steps {
                for r in 0..rows {
                    bytes[r] = wins[r / 2][t];
                    if bytes[r] == DOC_SEPARATOR {
                        run.reset_row(r);
                    }
                }
                run.step(&bytes);
                let logits = run.logits();
                for (r, l) in ll.iter_mut().enumerate() {
                    *l += log_prob16(&logits[r * VOCAB..][..VOCAB], wins[r / 2][t + 1]) as i64;
                }
            }
            if let Some(e) = run.take_error() {
                return Err(e);
            }
            run.store_state(st);
            if spec.share_pair_state {
                for pair in st.chunks_exact_mut(2 * per_member) {
                    let (plus, minus) = pair.split_at_mut(per_member);
                    minus.copy_from_slice(plus);
                }
            }
            Ok(ll)
        })
        .collect::<Result<_>>()?;
    Ok(scores.into_iter().flatten().collect())
}

/// Log-likelihood of `data` under the unperturbed model, read as `streams` parallel
/// contiguous segments from zero state (the remainder that does not divide evenly is not
/// scored). Returns (Σ log2 p in 1/16 bit, bytes scored). Matrix products run on `kernels`
/// when given.
pub fn evaluate_plain(
    wts: &Weights,
    data: &[u8],
    streams: usize,
    kernels: Option<&dyn DynIntKernels>,
) -> Result<(i64, u64)> {
    let streams = streams.clamp(1, data.len().max(1));
    let seg = data.len() / streams;
    if seg < 2 {
        return Ok((0, 0));
    }
    let per_task = 16usize;
    let starts: Vec<usize> = (0..streams).map(|s| s * seg).collect();
    let parts: Vec<i64> = starts
        .par_chunks(per_task)
        .map(|group| {
            let rows = group.len();
            let mut run = Runner::new(wts, None, rows).with_kernels(kernels);
            let mut ll = 0i64;
            let mut bytes = vec![0u8; rows];
            for t in 0..seg - 1 {
                for (r, &s) in group.iter().enumerate() {
                    bytes[r] = data[s + t];
                    if bytes[r] == DOC_SEPARATOR {
                        run.reset_row(r);
                    }
                }
                run.step(&bytes);
                for (r, &s) in group.iter().enumerate() {
                    ll += log_prob16(&run.logits()[r * VOCAB..][..VOCAB], data[s + t + 1]) as i64;
                }
            }
            match run.take_error() {
                Some(e) => Err(e),
                None => Ok(ll),
            }
        })
        .collect::<Result<_>>()?;
    Ok((parts.iter().sum(), (streams * (seg - 1)) as u64))
}

/// Bits per byte from a 1/16-bit log-likelihood sum.
pub fn bits_per_byte(ll16: i64, bytes: u64) -> f64 {
    if bytes == 0 {
        return f64::NAN;
    }
    -(ll16 as f64) / 16.0 / bytes as f64
}
