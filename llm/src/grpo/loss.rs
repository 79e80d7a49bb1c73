//! GRPO's clipped-ratio loss over completion tokens, and its derivative per token.
//!
//! Per token t of completion i, with ratio `ρ = exp(logp − logp_old)` and advantage `A_i`:
//! `ℓ_t = −min(ρ·A_i, clip(ρ, 1 − ε_low, 1 + ε_high)·A_i) + β·KL_t`, where
//! `KL_t = exp(ref − logp) − (ref − logp) − 1` (the k3 estimator; only when β > 0).
//! The loss aggregates `ℓ_t` over the unmasked tokens as TRL does:
//! `grpo`: the mean over completions of each one's token mean; `dapo`: the sum over the batch
//! divided by the batch's token count; `dr_grpo`: the sum divided by (completions × the
//! maximum completion length).
//!
//! `∂ℓ_t/∂logp = −A·ρ` unless the clipped branch is the minimum and clipping is active
//! (`A > 0` and `ρ > 1 + ε_high`, or `A < 0` and `ρ < 1 − ε_low`), where it is 0; the KL term
//! adds `β·(1 − exp(ref − logp))`.

use crate::error::{LlmError, Result};

/// How per-token losses are combined into one number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossAggregation {
    /// Mean over completions of each completion's mean over its tokens.
    Grpo,
    /// Sum over every token of the batch divided by the number of tokens.
    Dapo,
    /// Sum over every token divided by completions × `max_completion_length`.
    DrGrpo,
}

impl LossAggregation {
    /// Parse a config value (`grpo`, `dapo`, `dr_grpo`), naming `key` when it is unknown.
    pub fn parse(key: &str, value: &str) -> Result<Self> {
        match value {
            "grpo" => Ok(LossAggregation::Grpo),
            "dapo" => Ok(LossAggregation::Dapo),
            "dr_grpo" => Ok(LossAggregation::DrGrpo),
            other => Err(LlmError::config(
                key,
                format!("`{other}` is not one of grpo, dapo, dr_grpo"),
            )),
        }
    }
}

/// The loss's settings (TRL's names: `epsilon`, `epsilon_high`, `beta`, `loss_type`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GrpoLossConfig {
    /// Lower clip range ε_low (ratio floor 1 − ε_low).
    pub eps_low: f32,
    /// Upper clip range ε_high (ratio ceiling 1 + ε_high; "clip-higher" when above ε_low).
    pub eps_high: f32,
    /// Weight of the k3 KL penalty to the reference model (0: no reference needed).
    pub beta: f32,
    /// How token losses are combined.
    pub aggregation: LossAggregation,
    /// The completion token budget (the divisor of `dr_grpo`).
    pub max_completion_length: usize,
}

impl Default for GrpoLossConfig {
    fn default() -> Self {
        GrpoLossConfig {
            eps_low: 0.2,
            eps_high: 0.2,
            beta: 0.0,
            aggregation: LossAggregation::Dapo,
            max_completion_length: 64,
        }
    }
}

/// One completion's per-token log-probabilities of its sampled tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct SeqLogps {
    /// Under the policy being trained (the one the gradient is taken of).
    pub logp: Vec<f32>,
    /// Under the policy that sampled the completion (`None`: the same as `logp`, ratio 1, as
    /// on the first of μ iterations).
    pub old: Option<Vec<f32>>,
    /// Under the reference model (needed when β > 0).
    pub reference: Option<Vec<f32>>,
    /// Which tokens count (false: padding, or a truncated completion's masked tokens).
    pub mask: Vec<bool>,
}

/// The aggregated loss, its derivative per token and the figures a run logs.
#[derive(Clone, Debug, PartialEq)]
pub struct GrpoLoss {
    /// The loss (to minimise).
    pub loss: f64,
    /// `∂loss/∂logp` for every token of every completion (0 where masked).
    pub dlogp: Vec<Vec<f32>>,
    /// Share of unmasked tokens clipped at the floor with a negative advantage.
    pub clip_low: f64,
    /// Share of unmasked tokens clipped at the ceiling with a positive advantage.
    pub clip_high: f64,
    /// Mean k3 KL over unmasked tokens (0 when β = 0).
    pub kl: f64,
    /// Unmasked tokens in the batch.
    pub tokens: usize,
}

/// Mask out every token of completions that did not finish (no EOS within the budget), as
/// TRL's `mask_truncated_completions` does: they are not rewarded or penalised for text the
/// budget cut.
pub fn mask_truncated(seqs: &mut [SeqLogps], finished: &[bool]) {
    for (s, &done) in seqs.iter_mut().zip(finished) {
        if !done {
            s.mask.iter_mut().for_each(|m| *m = false);
        }
    }
}

fn check(seqs: &[SeqLogps], advantages: &[f32], cfg: &GrpoLossConfig) -> Result<()> {
    if seqs.len() != advantages.len() {
        return Err(LlmError::config(
            "grpo",
            format!(
                "{} completions for {} advantages",
                seqs.len(),
                advantages.len()
            ),
        ));
    }
    if !(cfg.eps_low >= 0.0 && cfg.eps_low < 1.0 && cfg.eps_high >= 0.0) {
        return Err(LlmError::config(
            "grpo.epsilon",
            format!(
                "clip range [{}, {}] must have 0 ≤ ε_low < 1 and ε_high ≥ 0",
                cfg.eps_low, cfg.eps_high
            ),
        ));
    }
    if !(cfg.beta >= 0.0 && cfg.beta.is_finite()) {
        return Err(LlmError::config(
            "grpo.beta",
            format!("{} must be ≥ 0", cfg.beta),
        ));
    }
    if cfg.aggregation == LossAggregation::DrGrpo && cfg.max_completion_length == 0 {
        return Err(LlmError::config(
            "grpo.max_new_tokens",
            "dr_grpo divides by it: must be ≥ 1",
        ));
    }
    for (i, s) in seqs.iter().enumerate() {
        let n = s.logp.len();
        let lens = [
            s.mask.len(),
            s.old.as_ref().map_or(n, Vec::len),
            s.reference.as_ref().map_or(n, Vec::len),
        ];
        if lens.iter().any(|&l| l != n) {
            return Err(LlmError::config(
                "grpo",
                format!("completion {i}: log-probability, mask and reference lengths differ"),
            ));
        }
        if cfg.beta > 0.0 && s.reference.is_none() {
            return Err(LlmError::config(
                "grpo.beta",
                format!(
                    "β = {} needs reference log-probabilities (completion {i} has none)",
                    cfg.beta
                ),
            ));
        }
    }
    Ok(())
}

/// GRPO's loss over `seqs` with one advantage per completion.
pub fn grpo_loss(seqs: &[SeqLogps], advantages: &[f32], cfg: &GrpoLossConfig) -> Result<GrpoLoss> {
    check(seqs, advantages, cfg)?;
    let tokens: usize = seqs
        .iter()
        .map(|s| s.mask.iter().filter(|&&m| m).count())
        .sum();
    let lo = 1.0 - cfg.eps_low as f64;
    let hi = 1.0 + cfg.eps_high as f64;
    let beta = cfg.beta as f64;
    let (mut loss, mut clip_low, mut clip_high, mut kl_sum) = (0.0f64, 0usize, 0usize, 0.0f64);
    let mut dlogp = Vec::with_capacity(seqs.len());
    for (s, &a) in seqs.iter().zip(advantages) {
        let a = a as f64;
        let n_s = s.mask.iter().filter(|&&m| m).count();
        // Weight of one token's loss in the aggregate.
        let w = match cfg.aggregation {
            LossAggregation::Grpo => 1.0 / (seqs.len() as f64 * n_s.max(1) as f64),
            LossAggregation::Dapo => 1.0 / tokens.max(1) as f64,
            LossAggregation::DrGrpo => 1.0 / (seqs.len() as f64 * cfg.max_completion_length as f64),
        };
        let mut d = vec![0.0f32; s.logp.len()];
        for t in 0..s.logp.len() {
            if !s.mask[t] {
                continue;
            }
            let lp = s.logp[t] as f64;
            let old = s.old.as_ref().map_or(lp, |o| o[t] as f64);
            let rho = (lp - old).exp();
            let clipped = rho.clamp(lo, hi);
            let mut l = -(rho * a).min(clipped * a);
            let low = a < 0.0 && rho < lo;
            let high = a > 0.0 && rho > hi;
            clip_low += low as usize;
            clip_high += high as usize;
            let mut g = if low || high { 0.0 } else { -a * rho };
            if beta > 0.0 {
                let diff = s.reference.as_ref().map_or(lp, |r| r[t] as f64) - lp;
                let kl = diff.exp() - diff - 1.0;
                kl_sum += kl;
                l += beta * kl;
                g += beta * (1.0 - diff.exp());
            }
            loss += w * l;
            d[t] = (w * g) as f32;
        }
        dlogp.push(d);
    }
    let per_token = |x: f64| if tokens == 0 { 0.0 } else { x / tokens as f64 };
    Ok(GrpoLoss {
        loss,
        dlogp,
        clip_low: per_token(clip_low as f64),
        clip_high: per_token(clip_high as f64),
        kl: per_token(kl_sum),
        tokens,
    })
}

#[cfg(test)]
#[path = "loss_tests.rs"]
mod tests;
