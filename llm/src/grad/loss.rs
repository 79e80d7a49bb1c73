//! Token-level losses on logits: the log-probability of given target tokens, its backward
//! from any per-token weight `d loss / d logp_t` (what a policy-gradient loss such as GRPO's
//! supplies), and the mean cross-entropy over unmasked targets built on the two.

use super::simd::with_avx2;
use crate::error::{LlmError, Result};
use eggroll_core::transformer::softmax::exp;
use rayon::prelude::*;

/// Check that `logits` holds one `vocab`-row per target and every target is in the vocabulary.
fn check(logits: &[f32], vocab: usize, targets: &[Option<u32>]) -> Result<()> {
    if vocab == 0 || logits.len() != targets.len() * vocab {
        return Err(LlmError::config(
            "targets",
            format!(
                "{} targets for {} logits of a {vocab}-token vocabulary",
                targets.len(),
                logits.len()
            ),
        ));
    }
    if let Some(bad) = targets.iter().flatten().find(|&&t| t as usize >= vocab) {
        return Err(LlmError::config(
            "targets",
            format!("target token {bad} is outside the vocabulary of {vocab}"),
        ));
    }
    Ok(())
}

/// The largest of `row` (finite values; a NaN is passed over).
#[inline(always)]
fn row_max(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let chunks = row.chunks_exact(16);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            *m = if x > *m { x } else { *m };
        }
    }
    lanes
        .iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

with_avx2! {
    /// `max` and `log Σ exp(x − max)` of one row: the exponentials in f32 by the vectorisable
    /// `exp` (within 2 ulp of libm's; the row's 49k libm calls were most of a GRPO step's
    /// loss), summed in eight f64 lanes and then pairwise.
    fn log_norm(row: &[f32]) -> (f32, f64) {
        let max = row_max(row);
        let mut acc = [0.0f64; 8];
        let chunks = row.chunks_exact(8);
        let tail: f64 = chunks
            .remainder()
            .iter()
            .map(|&x| f64::from(exp(x - max)))
            .sum();
        for c in chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                *a += f64::from(exp(x - max));
            }
        }
        for w in [4, 2, 1] {
            for l in 0..w {
                acc[l] += acc[l + w];
            }
        }
        (max, (acc[0] + tail).ln())
    }
}

with_avx2! {
    /// `dr = −g·exp(row − shift)`.
    fn scaled_probabilities(dr: &mut [f32], row: &[f32], shift: f32, g: f32) -> () {
        for (d, &x) in dr.iter_mut().zip(row) {
            *d = -g * exp(x - shift);
        }
    }
}

/// One row's log-probability of `t` and, into `dr`, its gradient on the row times `g`.
fn row_logp_and_grad(row: &[f32], t: usize, g: f32, dr: &mut [f32]) -> f32 {
    let (max, ln) = log_norm(row);
    scaled_probabilities(dr, row, max + ln as f32, g);
    dr[t] += g;
    (f64::from(row[t] - max) - ln) as f32
}

/// `log softmax(logits_r)[targets_r]` for every row `r` (`vocab` logits per row); 0 where the
/// target is `None` (masked).
pub fn token_logp(logits: &[f32], vocab: usize, targets: &[Option<u32>]) -> Result<Vec<f32>> {
    check(logits, vocab, targets)?;
    Ok(logits
        .par_chunks(vocab)
        .zip(targets.par_iter())
        .map(|(row, t)| match t {
            None => 0.0,
            Some(t) => {
                let (max, ln) = log_norm(row);
                (f64::from(row[*t as usize] - max) - ln) as f32
            }
        })
        .collect())
}

/// The gradient on the logits of a loss whose gradient on [`token_logp`]'s row `r` is
/// `dlogp[r]`: `dlogits_r = dlogp_r · (onehot(target_r) − softmax(logits_r))`, zero for
/// masked rows.
pub fn logp_backward(
    logits: &[f32],
    vocab: usize,
    targets: &[Option<u32>],
    dlogp: &[f32],
) -> Result<Vec<f32>> {
    check(logits, vocab, targets)?;
    if dlogp.len() != targets.len() {
        return Err(LlmError::config(
            "dlogp",
            format!("{} weights for {} targets", dlogp.len(), targets.len()),
        ));
    }
    let mut d = vec![0.0; logits.len()];
    d.par_chunks_mut(vocab)
        .zip(logits.par_chunks(vocab))
        .zip(targets.par_iter().zip(dlogp.par_iter()))
        .for_each(|((dr, row), (t, &g))| {
            if let Some(t) = t {
                row_logp_and_grad(row, *t as usize, g, dr);
            }
        });
    Ok(d)
}

/// Mean cross-entropy `−mean log p(target)` over the unmasked rows, and its gradient on the
/// logits. Refuses a batch with no unmasked target.
pub fn cross_entropy(
    logits: &[f32],
    vocab: usize,
    targets: &[Option<u32>],
) -> Result<(f32, Vec<f32>)> {
    let n = targets.iter().filter(|t| t.is_some()).count();
    if n == 0 {
        return Err(LlmError::config(
            "targets",
            "every target is masked: the cross-entropy of an empty set is undefined",
        ));
    }
    check(logits, vocab, targets)?;
    let w = -1.0 / n as f32;
    let mut d = vec![0.0; logits.len()];
    // One pass: each row's log-probability and its gradient together.
    let logp: Vec<f32> = d
        .par_chunks_mut(vocab)
        .zip(logits.par_chunks(vocab))
        .zip(targets.par_iter())
        .map(|((dr, row), t)| match t {
            Some(t) => row_logp_and_grad(row, *t as usize, w, dr),
            None => 0.0,
        })
        .collect();
    let loss = -logp.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    Ok((loss as f32, d))
}
