//! `bench llm`: batched decoding of a Llama-family model with its own weights (plain) and as
//! an ES population (every sequence its own member's rank-r perturbation of every projection),
//! on the same batch, prompts and number of new tokens, in one run: prefill and decode timed
//! apart, tokens/s, GFLOP/s against the machine's measured GEMM peak, peak memory.
//!
//! Decoding is greedy with no stop token, so every sequence produces exactly `new_tokens`
//! tokens in both phases and the work is the same. The two phases alternate `repeats` times and
//! each keeps its fastest prefill and fastest decode, so a burst of other work on a shared
//! machine does not land on one side of the ratio only.

use super::peak::{peak_memory_bytes, reset_peak_memory, GemmPeak};
use crate::error::Result;
use eggroll_core::cpu::Cpu;
use eggroll_core::{NoiseKind, Population, PopulationParams};
use eggroll_llm::llama::generate::argmax;
use eggroll_llm::llama::{Llama, Logits, SeqCache, SeqOwners};
use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug)]
pub struct LlmBenchOptions {
    /// Sequences decoded together (and members of the population).
    pub batch: usize,
    /// Prompt tokens per sequence.
    pub prompt_tokens: usize,
    /// New tokens per sequence.
    pub new_tokens: usize,
    /// Rank of the population's perturbations.
    pub rank: u32,
    /// Times the plain and population phases are run, alternately (each keeps its best).
    pub repeats: usize,
}

/// One timed phase.
#[derive(Clone, Debug, Serialize)]
pub struct LlmPhase {
    /// Seconds of the prefill (every prompt through the model, last rows' logits).
    pub prefill_seconds: f64,
    /// Prompt tokens per second.
    pub prefill_tokens_per_s: f64,
    /// GFLOP/s of the prefill's projections.
    pub prefill_gflops: f64,
    /// Seconds of the decode steps.
    pub decode_seconds: f64,
    /// New tokens per second (all sequences).
    pub decode_tokens_per_s: f64,
    /// GFLOP/s of the decode steps' projections and head.
    pub decode_gflops: f64,
    /// Peak resident memory during the phase (bytes).
    pub peak_memory_bytes: Option<u64>,
}

impl LlmPhase {
    /// The faster prefill and the faster decode of two runs of one phase, with the first run's
    /// peak memory (later runs hold both models at once).
    fn best(self, other: LlmPhase) -> LlmPhase {
        let (pre, dec) = (
            if other.prefill_seconds < self.prefill_seconds {
                &other
            } else {
                &self
            },
            if other.decode_seconds < self.decode_seconds {
                &other
            } else {
                &self
            },
        );
        LlmPhase {
            prefill_seconds: pre.prefill_seconds,
            prefill_tokens_per_s: pre.prefill_tokens_per_s,
            prefill_gflops: pre.prefill_gflops,
            decode_seconds: dec.decode_seconds,
            decode_tokens_per_s: dec.decode_tokens_per_s,
            decode_gflops: dec.decode_gflops,
            peak_memory_bytes: self.peak_memory_bytes,
        }
    }
}

/// The report of one model.
#[derive(Clone, Debug, Serialize)]
pub struct LlmBenchReport {
    /// Which model.
    pub model: String,
    /// Batch (sequences = members).
    pub batch: usize,
    /// Prompt tokens per sequence.
    pub prompt_tokens: usize,
    /// New tokens per sequence.
    pub new_tokens: usize,
    /// Rank of the perturbations.
    pub rank: u32,
    /// Threads used.
    pub threads: usize,
    /// Alternating runs of each phase (each phase's figures are its best).
    pub repeats: usize,
    /// GFLOP of one decoded token (projections and head, 2 flops per multiply-add).
    pub gflop_per_token: f64,
    /// The machine's measured f32 GEMM peak in this run (GFLOP/s).
    pub gemm_peak_gflops: f64,
    /// How the peak was measured (sizes, spread, CPU and vector features).
    pub gemm_peak: GemmPeak,
    /// Plain batched decoding.
    pub plain: LlmPhase,
    /// Population decoding.
    pub population: LlmPhase,
    /// Population / plain decode tokens/s.
    pub decode_ratio: f64,
    /// Population / plain prefill tokens/s.
    pub prefill_ratio: f64,
    /// Plain decode GFLOP/s over the GEMM peak.
    pub plain_decode_fraction_of_peak: f64,
    /// KV cache bytes at the end of decoding (all sequences).
    pub kv_cache_bytes: usize,
}

/// Multiply-adds of the projections of one token, and of the head.
fn macs(m: &Llama) -> (f64, f64) {
    let projections: usize = m.weights.proj_info.iter().map(|i| i.rows * i.cols).sum();
    let head = m.weights.head();
    (projections as f64, (head.rows * head.cols) as f64)
}

/// Prompts of `len` tokens: a fixed sentence's ids repeated, different per sequence.
fn prompts(m: &Llama, batch: usize, len: usize) -> Vec<Vec<u32>> {
    let v = m.config.vocab_size as u64;
    (0..batch as u64)
        .map(|s| {
            (0..len as u64)
                .map(|i| ((s * 7919 + i * 104_729 + 13) % v) as u32)
                .collect()
        })
        .collect()
}

fn phase(
    m: &Llama,
    cpu: &Cpu,
    opts: &LlmBenchOptions,
    owners: SeqOwners<'_>,
) -> Result<(LlmPhase, usize)> {
    reset_peak_memory();
    let (proj, head) = macs(m);
    let ps = prompts(m, opts.batch, opts.prompt_tokens);
    let mut caches: Vec<SeqCache> = ps.iter().map(|_| m.new_cache()).collect();
    let inputs: Vec<&[u32]> = ps.iter().map(Vec::as_slice).collect();
    let t = Instant::now();
    // As `decode` does: matrices still equal to the file's blocks are read from them (the
    // check, one pass over the weights, counts as prefill time).
    let compact = m.weights.fresh_compact();
    let mut logits = m.forward_with(cpu, &mut caches, &inputs, Logits::Last, owners, &compact)?;
    let prefill = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..opts.new_tokens {
        // Every sequence's pick in parallel, as `decode` does.
        let next: Vec<Vec<u32>> = logits
            .par_iter()
            .enumerate()
            .map(|(s, l)| argmax(l, s).map(|t| vec![t]))
            .collect::<std::result::Result<_, _>>()?;
        let inputs: Vec<&[u32]> = next.iter().map(Vec::as_slice).collect();
        logits = m.forward_with(cpu, &mut caches, &inputs, Logits::Last, owners, &compact)?;
    }
    let decode = t.elapsed().as_secs_f64();
    let b = opts.batch as f64;
    let prompt_tokens = b * opts.prompt_tokens as f64;
    let new_tokens = b * opts.new_tokens as f64;
    let kv = caches.iter().map(SeqCache::bytes).sum();
    Ok((
        LlmPhase {
            prefill_seconds: prefill,
            prefill_tokens_per_s: prompt_tokens / prefill,
            prefill_gflops: 2.0 * (prompt_tokens * proj + b * head) / prefill / 1e9,
            decode_seconds: decode,
            decode_tokens_per_s: new_tokens / decode,
            decode_gflops: 2.0 * new_tokens * (proj + head) / decode / 1e9,
            peak_memory_bytes: peak_memory_bytes(),
        },
        kv,
    ))
}

/// Measure `model` (named `name`) as `opts` says: plain decoding, then the population,
/// `opts.repeats` times over.
pub fn bench_llm(name: &str, model: &Llama, opts: &LlmBenchOptions) -> Result<LlmBenchReport> {
    let measured_peak = GemmPeak::measure();
    let peak = measured_peak.gflops;
    let cpu = Cpu::new();
    let (mut plain, kv_cache_bytes) = phase(model, &cpu, opts, SeqOwners::Plain)?;
    let mut trained = model.clone();
    trained.set_trained(|_, _| true);
    let pop = Population::new(PopulationParams {
        seed: 0,
        epoch: 0,
        size: opts.batch as u32,
        sigma: 1e-3,
        kind: NoiseKind::LowRank { rank: opts.rank },
        antithetic: opts.batch.is_multiple_of(2),
    })?;
    let members: Vec<u32> = (0..opts.batch as u32).collect();
    let owners = SeqOwners::Members {
        pop: &pop,
        members: &members,
    };
    let (mut population, _) = phase(&trained, &cpu, opts, owners)?;
    for _ in 1..opts.repeats {
        plain = plain.best(phase(model, &cpu, opts, SeqOwners::Plain)?.0);
        population = population.best(phase(&trained, &cpu, opts, owners)?.0);
    }
    let (proj, head) = macs(model);
    Ok(LlmBenchReport {
        model: name.to_string(),
        batch: opts.batch,
        prompt_tokens: opts.prompt_tokens,
        new_tokens: opts.new_tokens,
        rank: opts.rank,
        threads: rayon::current_num_threads(),
        repeats: opts.repeats.max(1),
        gflop_per_token: 2.0 * (proj + head) / 1e9,
        gemm_peak_gflops: peak,
        gemm_peak: measured_peak,
        decode_ratio: population.decode_tokens_per_s / plain.decode_tokens_per_s,
        prefill_ratio: population.prefill_tokens_per_s / plain.prefill_tokens_per_s,
        plain_decode_fraction_of_peak: plain.decode_gflops / peak,
        plain,
        population,
        kv_cache_bytes,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use eggroll_llm::llama::gguf::Gguf;
    use eggroll_llm::llama::tiny::{tiny_gguf, TinySpec};

    #[test]
    fn the_best_of_two_runs_takes_each_part_from_its_faster_run() {
        let run = |prefill: f64, decode: f64, peak: u64| LlmPhase {
            prefill_seconds: prefill,
            prefill_tokens_per_s: 1.0 / prefill,
            prefill_gflops: 2.0 / prefill,
            decode_seconds: decode,
            decode_tokens_per_s: 1.0 / decode,
            decode_gflops: 2.0 / decode,
            peak_memory_bytes: Some(peak),
        };
        let b = run(2.0, 3.0, 10).best(run(1.0, 4.0, 20));
        assert_eq!((b.prefill_seconds, b.prefill_gflops), (1.0, 2.0));
        assert_eq!((b.decode_seconds, b.decode_tokens_per_s), (3.0, 1.0 / 3.0));
        assert_eq!(b.peak_memory_bytes, Some(10));
    }

    #[test]
    fn both_phases_decode_the_same_batch_and_cache_every_token() {
        let spec = TinySpec::default();
        let g = Gguf::from_bytes(
            std::path::Path::new("tiny.gguf"),
            tiny_gguf(&spec).to_bytes().unwrap(),
        )
        .unwrap();
        let m = Llama::from_gguf(&g).unwrap();
        let opts = LlmBenchOptions {
            batch: 6,
            prompt_tokens: 5,
            new_tokens: 3,
            rank: 2,
            repeats: 2,
        };
        let r = bench_llm("tiny", &m, &opts).unwrap();
        let c = &m.config;
        // Keys and values of every prompt and new token, every layer, every sequence.
        let per_token = c.n_layers * 2 * c.kv_dim() * 4;
        assert_eq!(r.kv_cache_bytes, 6 * (5 + 3) * per_token);
        let (proj, head) = macs(&m);
        assert_eq!(r.gflop_per_token, 2.0 * (proj + head) / 1e9);
        for p in [&r.plain, &r.population] {
            assert!(p.decode_tokens_per_s > 0.0 && p.prefill_tokens_per_s > 0.0);
            let tokens = p.decode_tokens_per_s * p.decode_seconds;
            assert!((tokens - 18.0).abs() < 1e-6, "{tokens} new tokens");
        }
        assert_eq!(r.repeats, 2);
    }
}
