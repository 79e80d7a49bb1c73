//! Greedy decoding of a batch of prompts: one prefill of every distinct prompt together
//! ([`super::prefill`]: repeated prompts with the same weights run once), then one
//! batched forward per new token over the sequences still running, each stopping at a stop
//! token (EOS) or after `max_new_tokens`.

use super::forward::{Logits, SeqOwners};
use super::model::Llama;
use super::prefill::prefill;
use crate::error::{LlmError, Result};
use eggroll_core::cpu::Cpu;
use rayon::prelude::*;

/// When greedy decoding stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GreedyOptions {
    /// Most tokens generated per sequence.
    pub max_new_tokens: usize,
    /// Tokens that end a sequence (usually the tokenizer's EOS); not included in the output.
    pub stop_tokens: Vec<u32>,
}

/// Why a sequence stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// It produced this stop token.
    Stop(u32),
    /// It reached `max_new_tokens`.
    Length,
}

/// One sequence's generated tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    /// New tokens (without the stop token).
    pub tokens: Vec<u32>,
    /// Why it ended.
    pub finish: Finish,
}

/// The id of the largest logit (the first of equal ones); an error names the sequence when
/// a logit is not finite.
pub fn argmax(logits: &[f32], seq: usize) -> Result<u32> {
    super::first_max::first_max(logits)
        .map(|i| i as u32)
        .map_err(|i| {
            LlmError::config(
                "generate",
                format!(
                    "logit {i} of sequence {seq} is {}: the model's weights or inputs are broken",
                    logits[i]
                ),
            )
        })
}

/// Greedy continuations of every prompt with the model's own weights, decoded together.
pub fn generate_greedy(
    model: &Llama,
    prompts: &[Vec<u32>],
    opts: &GreedyOptions,
) -> Result<Vec<Generation>> {
    decode(
        model,
        &Cpu::new(),
        prompts,
        SeqOwners::Plain,
        opts,
        &|s, _, l| argmax(l, s),
    )
}

/// Chooses sequence `s`'s next token at decode step `step` from its logits: a pure function
/// of its arguments (the sequences' picks of a step run in parallel).
pub type PickToken<'a> = dyn Fn(usize, usize, &[f32]) -> Result<u32> + Sync + 'a;

/// Continuations of every prompt decoded together, sequence `s` with `owners`' weights for it
/// and its next token chosen by `pick(s, step, logits)`.
pub fn decode(
    model: &Llama,
    cpu: &Cpu,
    prompts: &[Vec<u32>],
    owners: SeqOwners<'_>,
    opts: &GreedyOptions,
    pick: &PickToken<'_>,
) -> Result<Vec<Generation>> {
    if let Some(i) = prompts.iter().position(|p| p.is_empty()) {
        return Err(LlmError::config(
            "generate",
            format!("prompt {i} is empty: there is no token to continue from"),
        ));
    }
    let mut out: Vec<Generation> = prompts
        .iter()
        .map(|_| Generation {
            tokens: Vec::new(),
            finish: Finish::Length,
        })
        .collect();
    let mut running = vec![opts.max_new_tokens > 0; prompts.len()];
    if opts.max_new_tokens == 0 {
        return Ok(out);
    }
    // Each distinct prompt (with the same weights) is prefilled once, its copies share the run.
    // Every matrix whose f32 values still equal the model file's blocks is read from the
    // blocks: the same logits from a seventh of the bytes (`llama::compact`).
    let compact = model.weights.fresh_compact();
    let (mut caches, mut logits) = prefill(model, cpu, prompts, owners, &compact)?;
    let mut step = 0;
    loop {
        let mut next: Vec<Vec<u32>> = vec![Vec::new(); prompts.len()];
        // Every running sequence's pick, in parallel (a draw over a 49k vocabulary is not
        // free); applied below in sequence order.
        let picks: Vec<Option<Result<u32>>> = (0..prompts.len())
            .into_par_iter()
            .map(|s| running[s].then(|| pick(s, step, &logits[s])))
            .collect();
        for (s, t) in picks.into_iter().enumerate() {
            let Some(t) = t else { continue };
            let t = t?;
            if opts.stop_tokens.contains(&t) {
                out[s].finish = Finish::Stop(t);
                running[s] = false;
                continue;
            }
            out[s].tokens.push(t);
            if out[s].tokens.len() >= opts.max_new_tokens {
                running[s] = false;
            } else {
                next[s].push(t);
            }
        }
        if !running.iter().any(|&r| r) {
            return Ok(out);
        }
        let inputs: Vec<&[u32]> = next.iter().map(Vec::as_slice).collect();
        logits = model.forward_with(cpu, &mut caches, &inputs, Logits::Last, owners, &compact)?;
        step += 1;
    }
}
