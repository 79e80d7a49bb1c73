//! One GRPO step on a [`GradModel`] (LoRA adapters or full finetuning): sample G completions
//! of every prompt from the current policy (temperature 1, no truncation of the distribution,
//! so the sampled tokens' log-probabilities are the policy's own, as TRL's defaults), score
//! them, turn the rewards into group advantages, and take μ optimiser steps on the clipped
//! ratio loss, whose per-token derivatives go back through the hand-written backward.
//!
//! Sampling decodes every completion of the step in one batch with the inference forward (KV
//! caches); with adapters it runs on the base with the adapters folded in (`Lora::merge`, then
//! `unmerge`: one f32 rounding per step, and the same roundings on every run). A completion
//! that stops on a stop token keeps that token (the model is trained to emit it); one cut by
//! the budget is truncated, and masked out of the loss when `mask_truncated` is set. The
//! reference model of the KL term (β > 0) is a frozen copy of the starting weights.

use super::advantages::{group_advantages, RewardScale};
use super::loss::{grpo_loss, mask_truncated, GrpoLoss, GrpoLossConfig, SeqLogps};
use crate::error::{LlmError, Result};
use crate::grad::{token_logp, AdamW, GradModel, Grads, Segment, Sequence};
use crate::llama::generate::{decode, Finish, GreedyOptions};
use crate::llama::sampling::Sampling;
use crate::llama::SeqOwners;
use eggroll_core::cpu::Cpu;
use std::time::Instant;

/// GRPO's settings (TRL's names where it has them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GrpoConfig {
    /// Completions per prompt, G (`num_generations`).
    pub group_size: usize,
    /// Most new tokens per completion (`max_completion_length`).
    pub max_new_tokens: usize,
    /// Optimiser steps per batch of completions, μ (`num_iterations`).
    pub iterations: usize,
    /// The loss's clip ranges, β and aggregation.
    pub loss: GrpoLossConfig,
    /// How advantages are scaled (`scale_rewards`).
    pub scale: RewardScale,
    /// Added to the deviation when scaling (TRL: 1e-4).
    pub eps: f32,
    /// Whether completions cut by the token budget are left out of the loss.
    pub mask_truncated: bool,
    /// Seed of the sampling draws.
    pub seed: u64,
}

impl Default for GrpoConfig {
    fn default() -> Self {
        GrpoConfig {
            group_size: 8,
            max_new_tokens: 64,
            iterations: 1,
            loss: GrpoLossConfig::default(),
            scale: RewardScale::Group,
            eps: 1e-4,
            mask_truncated: false,
            seed: 0,
        }
    }
}

/// What a step did (the metrics a run logs).
#[derive(Clone, Debug, PartialEq)]
pub struct GrpoStepReport {
    /// Mean reward of the step's completions.
    pub reward_mean: f64,
    /// Groups whose rewards all agreed (no signal) and all groups.
    pub tied_groups: usize,
    /// Prompts of the step.
    pub groups: usize,
    /// The loss of the first iteration.
    pub loss: f64,
    /// Shares of clipped tokens (first iteration).
    pub clip_low: f64,
    /// Shares of tokens clipped at the ceiling (first iteration).
    pub clip_high: f64,
    /// Mean k3 KL to the reference (first iteration; 0 with β = 0).
    pub kl: f64,
    /// Mean completion length in tokens.
    pub completion_tokens: f64,
    /// Share of completions cut by the token budget.
    pub truncated: f64,
    /// Every completion of the step (G per prompt, prompt by prompt), stop token included.
    pub completions: Vec<Vec<u32>>,
    /// Seconds spent sampling the completions.
    pub sample_seconds: f64,
    /// Seconds in the training forwards (every iteration, and the reference's).
    pub forward_seconds: f64,
    /// Seconds in the loss, the backwards and the optimiser steps.
    pub backward_seconds: f64,
}

/// The fixed inputs of GRPO's loss in one step: the prompt + completion sequences (targets
/// masked on the prompt), one advantage per completion, and the completions'
/// log-probabilities under the sampling policy and the reference (when they are used).
pub struct LossInputs<'a> {
    /// Prompt + completion, as next-token sequences whose targets are the completion.
    pub seqs: &'a [Sequence],
    /// One advantage per sequence.
    pub advantages: &'a [f32],
    /// Log-probabilities under the policy that sampled (`None`: the current one).
    pub old: Option<&'a [Vec<f32>]>,
    /// Log-probabilities under the reference model (β > 0).
    pub reference: Option<&'a [Vec<f32>]>,
    /// Whether each completion finished (stopped before the budget).
    pub finished: &'a [bool],
}

/// A GRPO run: the settings, the optimiser and the optional reference model.
pub struct Grpo {
    /// Settings.
    pub config: GrpoConfig,
    /// The frozen starting model of the KL term (only when β > 0).
    reference: Option<GradModel>,
    /// Steps taken.
    pub step: u64,
}

impl Grpo {
    /// Start a run on `model`; with β > 0 the starting weights are copied as the reference.
    pub fn new(config: GrpoConfig, model: &GradModel) -> Result<Self> {
        if config.group_size < 2 {
            return Err(LlmError::config(
                "grpo.group_size",
                format!(
                    "{}: GRPO compares at least 2 completions per prompt",
                    config.group_size
                ),
            ));
        }
        if config.iterations == 0 || config.max_new_tokens == 0 {
            return Err(LlmError::config(
                "grpo",
                "iterations and max_new_tokens must be ≥ 1",
            ));
        }
        let reference = (config.loss.beta > 0.0).then(|| {
            let mut base = model.llama.clone();
            if let Some(l) = &model.lora {
                // The adapters' current product is the starting point too.
                let _ = l.merge(&mut base.weights);
            }
            GradModel::new(base, None, false)
        });
        Ok(Grpo {
            config,
            reference,
            step: 0,
        })
    }

    /// One step on `prompts` (token ids, chat template applied): `reward(p, completion)`
    /// scores completion tokens of prompt `p` (stop token included when it stopped).
    pub fn step(
        &mut self,
        cpu: &Cpu,
        model: &mut GradModel,
        opt: &mut AdamW,
        prompts: &[Vec<u32>],
        stop_tokens: &[u32],
        reward: &mut dyn FnMut(usize, &[u32]) -> Result<f32>,
    ) -> Result<GrpoStepReport> {
        let cfg = self.config;
        let g = cfg.group_size;
        let batch: Vec<Vec<u32>> = prompts
            .iter()
            .flat_map(|p| std::iter::repeat_n(p.clone(), g))
            .collect();
        let clock = Instant::now();
        let gens = self.sample(cpu, model, &batch, stop_tokens)?;
        let sample_seconds = clock.elapsed().as_secs_f64();
        let mut times = PhaseTimes::default();
        let mut completions = Vec::with_capacity(gens.len());
        let mut finished = Vec::with_capacity(gens.len());
        for gen in gens {
            let mut c = gen.tokens;
            if let Finish::Stop(t) = gen.finish {
                c.push(t);
            }
            finished.push(gen.finish != Finish::Length);
            completions.push(c);
        }
        let rewards: Vec<f32> = completions
            .iter()
            .enumerate()
            .map(|(i, c)| reward(i / g, c))
            .collect::<Result<_>>()?;
        let adv = group_advantages(&rewards, g, cfg.scale, cfg.eps)?;
        // Sequences of prompt + completion; completions of zero tokens cannot be scored.
        let seqs: Vec<Sequence> = batch
            .iter()
            .zip(&completions)
            .map(|(p, c)| {
                let full: Vec<u32> = p.iter().chain(c).copied().collect();
                Sequence::next_token(&full, p.len())
            })
            .collect::<Result<_>>()?;
        let reference = match &self.reference {
            Some(r) => {
                let clock = Instant::now();
                let lp = self.completion_logps(cpu, r, &seqs, None)?.0;
                times.forward += clock.elapsed().as_secs_f64();
                Some(lp)
            }
            None => None,
        };
        let mut old: Option<Vec<Vec<f32>>> = None;
        let mut first = None;
        for it in 0..cfg.iterations {
            let key = self.step * cfg.iterations as u64 + it as u64;
            let inputs = LossInputs {
                seqs: &seqs,
                advantages: &adv.values,
                old: old.as_deref(),
                reference: reference.as_deref(),
                finished: &finished,
            };
            let (loss, grads, logps) =
                self.timed_loss_and_grads(cpu, model, &inputs, key, &mut times)?;
            let clock = Instant::now();
            opt.step(model, &grads)?;
            times.backward += clock.elapsed().as_secs_f64();
            if old.is_none() {
                old = Some(logps);
            }
            if first.is_none() {
                first = Some(loss);
            }
        }
        self.step += 1;
        let first = first.ok_or_else(|| LlmError::config("grpo.iterations", "no iteration ran"))?;
        let n = completions.len().max(1) as f64;
        Ok(GrpoStepReport {
            reward_mean: rewards.iter().map(|&r| r as f64).sum::<f64>() / n,
            tied_groups: adv.tied_groups,
            groups: adv.groups,
            loss: first.loss,
            clip_low: first.clip_low,
            clip_high: first.clip_high,
            kl: first.kl,
            completion_tokens: completions.iter().map(Vec::len).sum::<usize>() as f64 / n,
            truncated: finished.iter().filter(|&&f| !f).count() as f64 / n,
            completions,
            sample_seconds,
            forward_seconds: times.forward,
            backward_seconds: times.backward,
        })
    }

    /// GRPO's loss on fixed completions and its gradients for every trainable tensor of
    /// `model` (and the completions' log-probabilities under it); `key` keys LoRA dropout.
    pub fn loss_and_grads(
        &self,
        cpu: &Cpu,
        model: &GradModel,
        inputs: &LossInputs<'_>,
        key: u64,
    ) -> Result<(GrpoLoss, Grads, Vec<Vec<f32>>)> {
        self.timed_loss_and_grads(cpu, model, inputs, key, &mut PhaseTimes::default())
    }

    /// [`Self::loss_and_grads`], adding the forward's and the backward's seconds to `times`.
    fn timed_loss_and_grads(
        &self,
        cpu: &Cpu,
        model: &GradModel,
        inputs: &LossInputs<'_>,
        key: u64,
        times: &mut PhaseTimes,
    ) -> Result<(GrpoLoss, Grads, Vec<Vec<f32>>)> {
        let clock = Instant::now();
        let (logps, tape, targets) = self.completion_logps(cpu, model, inputs.seqs, Some(key))?;
        times.forward += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        let mut items: Vec<SeqLogps> = logps
            .iter()
            .enumerate()
            .map(|(i, lp)| SeqLogps {
                logp: lp.clone(),
                old: inputs.old.map(|o| o[i].clone()),
                reference: inputs.reference.map(|r| r[i].clone()),
                mask: vec![true; lp.len()],
            })
            .collect();
        if self.config.mask_truncated {
            mask_truncated(&mut items, inputs.finished);
        }
        let loss = grpo_loss(&items, inputs.advantages, &self.config.loss)?;
        // The per-completion-token derivatives go back onto the tape's logit rows: sequence
        // by sequence, its completion's tokens in order.
        let dlogp: Vec<f32> = loss.dlogp.concat();
        let grads = model.backward_from_logp(&tape, &targets, &dlogp)?;
        times.backward += clock.elapsed().as_secs_f64();
        Ok((loss, grads, logps))
    }

    /// Sample one completion per row of `batch` from the current policy.
    fn sample(
        &self,
        cpu: &Cpu,
        model: &mut GradModel,
        batch: &[Vec<u32>],
        stop_tokens: &[u32],
    ) -> Result<Vec<crate::llama::Generation>> {
        let opts = GreedyOptions {
            max_new_tokens: self.config.max_new_tokens,
            stop_tokens: stop_tokens.to_vec(),
        };
        let sampling = Sampling::top_p(1.0, 1.0);
        let seed = self.config.seed ^ self.step.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let pick = |s: usize, step: usize, logits: &[f32]| {
            sampling.sample(logits, seed, s as u64, step as u32)
        };
        model.with_adapters_merged(|llama| {
            decode(llama, cpu, batch, SeqOwners::Plain, &opts, &pick)
        })?
    }

    /// Per-completion-token log-probabilities of `seqs` under `model` (with the tape and the
    /// targets of its logit rows, for the backward); `step` keys LoRA dropout (`None`: none).
    ///
    /// Consecutive sequences with the same prompt (a group) hold it once: the tokens before
    /// the first target form a shared prefix that each completion continues (7/8 of the
    /// prompt rows' work saved at G = 8), and only rows with a target get logits.
    fn completion_logps(
        &self,
        cpu: &Cpu,
        model: &GradModel,
        seqs: &[Sequence],
        step: Option<u64>,
    ) -> Result<CompletionLogps> {
        let mut segs: Vec<Segment> = Vec::with_capacity(seqs.len() + seqs.len() / 2);
        let (mut rows, mut targets) = (Vec::new(), Vec::new());
        let mut counts = Vec::with_capacity(seqs.len());
        let mut prompt: Option<(usize, &[u32])> = None;
        let mut row = 0;
        for s in seqs {
            let k = s.targets.iter().position(Option::is_some).unwrap_or(0);
            let prefix = match prompt {
                _ if k == 0 => None,
                Some((i, p)) if p == &s.tokens[..k] => Some(i),
                _ => {
                    segs.push(Segment {
                        tokens: &s.tokens[..k],
                        prefix: None,
                    });
                    row += k;
                    prompt = Some((segs.len() - 1, &s.tokens[..k]));
                    Some(segs.len() - 1)
                }
            };
            let from = if prefix.is_some() { k } else { 0 };
            segs.push(Segment {
                tokens: &s.tokens[from..],
                prefix,
            });
            let mut n = 0;
            for (i, t) in s.targets[from..].iter().enumerate() {
                if t.is_some() {
                    rows.push(row + i);
                    targets.push(*t);
                    n += 1;
                }
            }
            counts.push(n);
            row += s.tokens.len() - from;
        }
        let tape = model.forward_segments(cpu, &segs, Some(rows), step)?;
        let flat = token_logp(&tape.logits, model.llama.config.vocab_size, &targets)?;
        let mut out = Vec::with_capacity(seqs.len());
        let mut at = 0;
        for n in counts {
            out.push(flat[at..at + n].to_vec());
            at += n;
        }
        Ok((out, tape, targets))
    }
}

/// Seconds of a step's training phases, summed over its iterations.
#[derive(Default)]
struct PhaseTimes {
    forward: f64,
    backward: f64,
}

/// Per-sequence completion log-probabilities, the forward's tape and its logit rows' targets.
type CompletionLogps = (Vec<Vec<f32>>, crate::grad::Tape, Vec<Option<u32>>);

#[cfg(test)]
#[path = "trainer_tests.rs"]
mod tests;
