//! The reasoning task: a population's members answer problems in the model's chat template,
//! all decoded together (one shared GEMM per projection per step, each sequence corrected by
//! its member's low-rank perturbation), and each member's fitness is its mean reward.
//!
//! Problem `i` of the training set is a pure function of (family, seed, i), so every process
//! of an MPI run draws the same problems without talking; generation `g` uses problems
//! `g·P ..` (layout `shared`) or one block of `P` per antithetic pair (layout `pair`). The
//! held-out set comes from [`crate::reasoning::held_out_problems`]'s seed and is scored greedily with
//! the unperturbed model.

use super::config::{FitnessLayout, ReasoningTaskConfig};
use crate::error::{LlmError, Result};
use crate::llama::generate::{argmax, decode, Generation, GreedyOptions};
use crate::llama::{Llama, LlamaTokenizer, SeqOwners};
use crate::reasoning::{self, Outcome, Problem, ReasoningKind, RewardScheme};
use eggroll_core::cpu::Cpu;
use eggroll_core::task::{Metrics, Task};
use eggroll_core::Population;
use std::ops::Range;
use std::sync::Mutex;

/// Counts of one generation's training answers on this process.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Tally {
    answers: usize,
    correct: usize,
    format_only: usize,
    new_tokens: usize,
}

/// Members answer reasoning problems; fitness is the mean reward.
pub struct ReasoningTask {
    cfg: ReasoningTaskConfig,
    kind: ReasoningKind,
    scheme: RewardScheme,
    tokenizer: LlamaTokenizer,
    stop_tokens: Vec<u32>,
    held_out: Vec<(Problem, Vec<u32>)>,
    last: Mutex<Tally>,
}

impl ReasoningTask {
    /// The task of `cfg` with the model's `tokenizer` (its chat template and stop tokens).
    pub fn new(cfg: &ReasoningTaskConfig, tokenizer: LlamaTokenizer) -> Result<Self> {
        cfg.validate()?;
        let kind = cfg.problem;
        let scheme = cfg.scheme();
        let stop_tokens = crate::llama::text::stop_tokens(&tokenizer);
        let mut held_out = Vec::with_capacity(cfg.eval_problems);
        for p in reasoning::held_out_problems(&kind, cfg.seed, 0..cfg.eval_problems as u64)? {
            let ids = tokenizer.encode_chat(&p.prompt)?;
            held_out.push((p, ids));
        }
        Ok(ReasoningTask {
            cfg: cfg.clone(),
            kind,
            scheme,
            tokenizer,
            stop_tokens,
            held_out,
            last: Mutex::new(Tally::default()),
        })
    }

    /// The training problems member `member` answers at `generation`: their indices into the
    /// training set.
    pub fn problem_indices(&self, pop: &Population, member: u32, generation: u64) -> Range<u64> {
        let p = self.cfg.prompts as u64;
        let block = match self.cfg.layout {
            FitnessLayout::Shared => generation,
            FitnessLayout::Pair => {
                generation * u64::from(pop.streams()) + u64::from(pop.stream_of(member))
            }
        };
        block * p..(block + 1) * p
    }

    /// Decode `prompts` (sequence `s` as `owners` says) greedily within the answer budget.
    fn answer(
        &self,
        cpu: &Cpu,
        model: &Llama,
        prompts: &[Vec<u32>],
        owners: SeqOwners<'_>,
    ) -> Result<Vec<Generation>> {
        let opts = GreedyOptions {
            max_new_tokens: self.cfg.max_new_tokens,
            stop_tokens: self.stop_tokens.clone(),
        };
        decode(model, cpu, prompts, owners, &opts, &|s, _, l| argmax(l, s))
    }

    /// The reward of one generated answer.
    fn score(&self, problem: &Problem, g: &Generation) -> Result<reasoning::Scored> {
        let text = self.tokenizer.decode(&g.tokens, true)?;
        reasoning::score(problem, &text, self.scheme)
    }
}

/// The 2.5% and 97.5% quantiles of the mean of `xs` over 1,000 bootstrap resamples (a fixed
/// generator: the same figures on every run).
pub fn bootstrap_ci(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let n = xs.len() as u64;
    let mut means: Vec<f64> = (0..1000)
        .map(|_| (0..n).map(|_| xs[(next() % n) as usize]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    (means[25], means[974])
}

impl Task<Cpu, Llama> for ReasoningTask {
    type Error = LlmError;

    fn input_dim(&self) -> usize {
        0
    }

    fn output_dim(&self) -> usize {
        0
    }

    fn fitness(
        &self,
        backend: &Cpu,
        model: &Llama,
        pop: &Population,
        members: Range<u32>,
        generation: u64,
    ) -> Result<Vec<f32>> {
        let mut prompts = Vec::new();
        let mut problems = Vec::new();
        let mut owner = Vec::new();
        for m in members.clone() {
            let range = self.problem_indices(pop, m, generation);
            for p in reasoning::problems(&self.kind, self.cfg.seed, range)? {
                prompts.push(self.tokenizer.encode_chat(&p.prompt)?);
                problems.push(p);
                owner.push(m);
            }
        }
        let gens = self.answer(
            backend,
            model,
            &prompts,
            SeqOwners::Members {
                pop,
                members: &owner,
            },
        )?;
        let mut tally = Tally::default();
        // Per member: its mean reward, or (group_norm) its reward on each problem in turn.
        let mut fitness = vec![0.0f32; members.len() * self.scores_per_member()];
        for (i, ((p, g), &m)) in problems.iter().zip(&gens).zip(&owner).enumerate() {
            let s = self.score(p, g)?;
            if self.cfg.group_norm {
                fitness[i] = s.reward;
            } else {
                fitness[(m - members.start) as usize] += s.reward / self.cfg.prompts as f32;
            }
            tally.answers += 1;
            tally.correct += usize::from(s.outcome == Outcome::Correct);
            tally.format_only += usize::from(s.outcome == Outcome::FormatOnly);
            tally.new_tokens += g.tokens.len();
        }
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tally;
        Ok(fitness)
    }

    fn scores_per_member(&self) -> usize {
        if self.cfg.group_norm {
            self.cfg.prompts
        } else {
            1
        }
    }

    fn combine_scores(&self, pop: &Population, scores: Vec<f32>) -> Result<Vec<f32>> {
        if !self.cfg.group_norm {
            return Ok(scores);
        }
        let group = match self.cfg.layout {
            FitnessLayout::Shared => pop.size as usize,
            FitnessLayout::Pair => (pop.size / pop.streams().max(1)) as usize,
        };
        group_normalised(&scores, pop.size as usize, self.cfg.prompts, group)
    }

    fn rows_per_member(&self) -> usize {
        self.cfg.prompts
    }

    fn metric_names(&self) -> Vec<&'static str> {
        vec![
            "eval_accuracy",
            "eval_accuracy_low",
            "eval_accuracy_high",
            "eval_reward",
            "eval_format_only",
            "eval_answer_tokens",
        ]
    }

    fn evaluate(&self, backend: &Cpu, model: &Llama) -> Result<Metrics> {
        let prompts: Vec<Vec<u32>> = self.held_out.iter().map(|(_, ids)| ids.clone()).collect();
        let gens = self.answer(backend, model, &prompts, SeqOwners::Plain)?;
        let n = gens.len() as f64;
        let (mut correct, mut reward, mut format_only, mut tokens) = (Vec::new(), 0.0, 0, 0);
        for ((p, _), g) in self.held_out.iter().zip(&gens) {
            let s = self.score(p, g)?;
            correct.push(f64::from(u8::from(s.outcome == Outcome::Correct)));
            reward += f64::from(s.reward);
            format_only += usize::from(s.outcome == Outcome::FormatOnly);
            tokens += g.tokens.len();
        }
        let (low, high) = bootstrap_ci(&correct);
        Ok(vec![
            ("eval_accuracy", correct.iter().sum::<f64>() / n),
            ("eval_accuracy_low", low),
            ("eval_accuracy_high", high),
            ("eval_reward", reward / n),
            ("eval_format_only", format_only as f64 / n),
            ("eval_answer_tokens", tokens as f64 / n),
        ])
    }

    fn fitness_metrics(&self) -> Metrics {
        let t = *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = t.answers.max(1) as f64;
        vec![
            ("train_correct", t.correct as f64 / n),
            ("train_format_only", t.format_only as f64 / n),
            ("train_answer_tokens", t.new_tokens as f64 / n),
        ]
    }
}

/// Members' fitness from their per-problem rewards (`scores`: `members × prompts`,
/// member-major), each problem's rewards normalised over the `group` consecutive members
/// that answered it: `(r − mean) / std`, or 0 where the group's rewards all agree; then the
/// mean over a member's problems.
pub fn group_normalised(
    scores: &[f32],
    members: usize,
    prompts: usize,
    group: usize,
) -> Result<Vec<f32>> {
    if group < 2 {
        return Err(LlmError::config(
            "task.group_norm",
            "needs at least two members per problem (layout `pair` with an antithetic population, or `shared`)",
        ));
    }
    if scores.len() != members * prompts || !members.is_multiple_of(group) {
        return Err(LlmError::config(
            "task.group_norm",
            format!(
                "{} scores for {members} members of {prompts} problems in groups of {group}",
                scores.len()
            ),
        ));
    }
    let mut fitness = vec![0.0f64; members];
    for g0 in (0..members).step_by(group) {
        for j in 0..prompts {
            let r = |m: usize| f64::from(scores[m * prompts + j]);
            let mean = (g0..g0 + group).map(r).sum::<f64>() / group as f64;
            let var = (g0..g0 + group).map(|m| (r(m) - mean).powi(2)).sum::<f64>() / group as f64;
            if var.sqrt() < 1e-9 {
                continue;
            }
            for (m, f) in fitness.iter_mut().enumerate().skip(g0).take(group) {
                *f += (r(m) - mean) / var.sqrt() / prompts as f64;
            }
        }
    }
    Ok(fitness.into_iter().map(|f| f as f32).collect())
}

#[cfg(test)]
#[path = "task_tests.rs"]
mod tests;
