//! The prefill of a decode: every distinct (prompt, weights) pair runs through the model once,
//! and each sequence that repeats it gets its own copy of that run's KV cache and logits.
//!
//! GRPO samples a group of completions of every prompt with the same weights, so its batch
//! holds each prompt G times; prefilling them separately repeats the same forward G times.
//! A sequence's rows never attend outside it and every row-wise operation is independent of
//! the others, so a repeated prompt's cache and last logits are those of its first
//! occurrence (bit for bit, as long as the GEMMs pick the same kernel for the smaller batch:
//! both above, or both at or below, the backend's few-rows threshold).

use super::compact::FreshCompact;
use super::forward::{Logits, SeqOwners};
use super::model::Llama;
use crate::error::Result;
use eggroll_core::cpu::Cpu;
use eggroll_core::transformer::SeqCache;
use std::collections::HashMap;

/// Runs `prompts` through `model` from empty caches (sequence `s` with `owners`' weights for
/// it), each distinct prompt and owner once. Returns every sequence's cache and the logits of
/// its last prompt position, as one batched [`Llama::forward_with`] of all prompts would.
pub fn prefill(
    model: &Llama,
    cpu: &Cpu,
    prompts: &[Vec<u32>],
    owners: SeqOwners<'_>,
    compact: &FreshCompact,
) -> Result<(Vec<SeqCache>, Vec<Vec<f32>>)> {
    let (first, of) = distinct(prompts, owners);
    if first.len() == prompts.len() {
        return prefill_all(model, cpu, prompts, owners, compact);
    }
    let inputs: Vec<&[u32]> = first.iter().map(|&s| prompts[s].as_slice()).collect();
    let members: Vec<u32> = match owners {
        SeqOwners::Plain => Vec::new(),
        SeqOwners::Members { members, .. } => first.iter().map(|&s| members[s]).collect(),
    };
    let owners_once = match owners {
        SeqOwners::Plain => SeqOwners::Plain,
        SeqOwners::Members { pop, .. } => SeqOwners::Members {
            pop,
            members: &members,
        },
    };
    let mut caches: Vec<_> = first.iter().map(|_| model.new_cache()).collect();
    let logits = match model.forward_with(
        cpu,
        &mut caches,
        &inputs,
        Logits::Last,
        owners_once,
        compact,
    ) {
        Ok(l) => l,
        // The error names a sequence of the shorter batch: the full one names the caller's.
        Err(_) => return prefill_all(model, cpu, prompts, owners, compact),
    };
    let out_caches = of.iter().map(|&u| caches[u].clone()).collect();
    let out_logits = of.iter().map(|&u| logits[u].clone()).collect();
    Ok((out_caches, out_logits))
}

/// Every prompt prefilled as its own sequence, in one batch.
fn prefill_all(
    model: &Llama,
    cpu: &Cpu,
    prompts: &[Vec<u32>],
    owners: SeqOwners<'_>,
    compact: &FreshCompact,
) -> Result<(Vec<SeqCache>, Vec<Vec<f32>>)> {
    let mut caches: Vec<_> = prompts.iter().map(|_| model.new_cache()).collect();
    let inputs: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
    let logits = model.forward_with(cpu, &mut caches, &inputs, Logits::Last, owners, compact)?;
    Ok((caches, logits))
}

/// The first sequence of every distinct (prompt, owner) pair, in order, and for every
/// sequence the index of its pair in that list. With [`SeqOwners::Members`] the owner is the
/// sequence's member (members' weights differ); with [`SeqOwners::Plain`] all share one.
/// A members list of the wrong length shares nothing (the forward reports it).
fn distinct(prompts: &[Vec<u32>], owners: SeqOwners<'_>) -> (Vec<usize>, Vec<usize>) {
    let owner = |s: usize| match owners {
        SeqOwners::Plain => Some(None),
        SeqOwners::Members { members, .. } if members.len() == prompts.len() => {
            Some(Some(members[s]))
        }
        SeqOwners::Members { .. } => None,
    };
    let mut seen: HashMap<(&[u32], Option<u32>), usize> = HashMap::new();
    let mut first = Vec::new();
    let mut of = Vec::with_capacity(prompts.len());
    for (s, p) in prompts.iter().enumerate() {
        let u = match owner(s) {
            Some(o) => *seen.entry((p.as_slice(), o)).or_insert_with(|| {
                first.push(s);
                first.len() - 1
            }),
            None => {
                first.push(s);
                first.len() - 1
            }
        };
        of.push(u);
    }
    (first, of)
}

#[cfg(test)]
#[path = "prefill_tests.rs"]
mod tests;
