//! `eggroll bench lowrank`: plain batched inference vs the EGGROLL population forward vs one
//! EGGROLL generation vs naive full-rank ES, on the same MLP shapes, in one run.

use super::noise_cost::{self, NoiseCost};
use super::peak::{peak_memory_bytes, reset_peak_memory, GemmPeak};
use crate::error::Result;
use eggroll_core::backend::Activation;
use eggroll_core::mlp::{Mlp, MlpConfig};
use eggroll_core::model::{apply_es_update, zero_optim_state};
use eggroll_core::optim::Optimizer;
use eggroll_core::population::{NoiseKind, Population, PopulationParams, RowOwners};
use eggroll_core::shaping::{shape_fitness, Shaping};
use eggroll_core::{Backend, Model};
use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// Shape and effort of the benchmark.
#[derive(Clone, Debug)]
pub struct LowrankOptions {
    /// Hidden width (every layer is hidden × hidden).
    pub hidden: usize,
    /// Number of layers.
    pub layers: usize,
    /// Population size N (one input row per member).
    pub population: u32,
    /// Rank r.
    pub rank: u32,
    /// Minimum seconds spent timing each phase.
    pub min_seconds: f64,
    /// Skip the naive full-rank phases (they are slow by design).
    pub skip_naive: bool,
}

impl Default for LowrankOptions {
    fn default() -> Self {
        LowrankOptions {
            hidden: 256,
            layers: 3,
            population: 4096,
            rank: 1,
            min_seconds: 1.0,
            skip_naive: false,
        }
    }
}

/// One timed phase.
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    /// Seconds per call (best of the repetitions).
    pub seconds: f64,
    /// Member evaluations per second.
    pub member_evals_per_s: f64,
    /// Useful GFLOP/s (the shared-GEMM flops of the forward; ×3 for a generation's update GEMMs).
    pub gflops: f64,
    /// Peak resident memory during the phase, bytes.
    pub peak_memory_bytes: Option<u64>,
}

/// The report of `eggroll bench lowrank`.
#[derive(Clone, Debug, Serialize)]
pub struct LowrankReport {
    /// Backend name.
    pub backend: String,
    /// Threads available to rayon.
    pub threads: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Layers.
    pub layers: usize,
    /// Population.
    pub population: u32,
    /// Rank.
    pub rank: u32,
    /// Measured GEMM peak of this machine (GFLOP/s, best over sizes; see `gemm_peak`).
    pub gemm_peak_gflops: f64,
    /// How the peak was measured (sizes, spread, CPU and vector features).
    pub gemm_peak: GemmPeak,
    /// (a) plain batched inference, no noise.
    pub inference: Phase,
    /// (b) EGGROLL population forward.
    pub eggroll_forward: Phase,
    /// (c) one EGGROLL generation: forward, shaping, update.
    pub eggroll_generation: Phase,
    /// (d) naive full-rank ES forward.
    pub naive_forward: Option<Phase>,
    /// (d) naive full-rank ES generation.
    pub naive_generation: Option<Phase>,
    /// b/a throughput ratio.
    pub forward_vs_inference: f64,
    /// Speed-up of an EGGROLL generation over a naive one (d time / c time).
    pub generation_speedup_vs_naive: Option<f64>,
    /// Forward GFLOP/s as a fraction of the CPU's GEMM peak.
    pub forward_fraction_of_peak: f64,
    /// The CPU forward's noise regeneration timed alone (CPU backend only: device backends
    /// generate their noise in their kernels).
    pub noise: Option<NoiseCost>,
    /// Seconds to upload one forward's input (N × hidden floats).
    pub upload_seconds: f64,
    /// Seconds to download one forward's output.
    pub download_seconds: f64,
}

/// Time several phases in interleaved rounds (so machine load drifts affect all alike) and
/// keep each phase's best time; peak memory is measured on a separate run of each phase.
fn time_phases(
    rounds: usize,
    min_seconds: f64,
    phases: &mut [&mut dyn FnMut() -> Result<()>],
) -> Result<Vec<(f64, Option<u64>)>> {
    let mut out = Vec::with_capacity(phases.len());
    for f in phases.iter_mut() {
        reset_peak_memory();
        f()?; // warm-up, and the peak-memory sample
        out.push((f64::INFINITY, peak_memory_bytes()));
    }
    let start = Instant::now();
    let mut round = 0;
    while round < rounds || (start.elapsed().as_secs_f64() < min_seconds && round < 1000) {
        for (f, slot) in phases.iter_mut().zip(out.iter_mut()) {
            let t = Instant::now();
            f()?;
            slot.0 = slot.0.min(t.elapsed().as_secs_f64());
        }
        round += 1;
    }
    Ok(out)
}

/// `Σ v²` with eight independent partial sums.
fn sum_of_squares(row: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = row.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v * v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Run the benchmark on `backend`.
pub fn bench_lowrank<B: Backend>(backend: &B, opts: &LowrankOptions) -> Result<LowrankReport> {
    let h = opts.hidden;
    let n = opts.population;
    let cfg = MlpConfig {
        input: h,
        hidden: vec![h; opts.layers.saturating_sub(1)],
        output: h,
        activation: Activation::Tanh,
        output_activation: Activation::Identity,
        bias: true,
    };
    let mut model = Mlp::init(backend, cfg, 1)?;
    let x_host: Vec<f32> = (0..n as usize * h)
        .map(|i| ((i % 13) as f32 - 6.0) * 0.1)
        .collect();
    let x = backend.upload(&x_host)?;
    let rows = n as usize;
    // One row per member.
    fn grouped(pop: &Population) -> RowOwners<'_> {
        RowOwners::Grouped {
            pop,
            first_member: 0,
            rows_per_member: 1,
        }
    }
    // Every timed call gets a fresh noise epoch, as a real generation does, so no call is
    // helped by noise cached for an earlier one.
    let epoch = std::cell::Cell::new(0u32);
    let pop = |kind| {
        epoch.set(epoch.get() + 1);
        Population::new(PopulationParams {
            seed: 7,
            epoch: epoch.get(),
            size: n,
            sigma: 0.01,
            kind,
            antithetic: true,
        })
    };
    let low = || pop(NoiseKind::LowRank { rank: opts.rank });
    let flops = 2.0 * n as f64 * (h * h) as f64 * opts.layers as f64;
    let phase = |(s, mem): (f64, Option<u64>), flop_mult: f64| Phase {
        seconds: s,
        member_evals_per_s: n as f64 / s,
        gflops: flops * flop_mult / s / 1e9,
        peak_memory_bytes: mem,
    };

    let optimizer = Optimizer::default();
    let mut optim = zero_optim_state(backend, model.specs(), optimizer.state_slots())?;
    let generation =
        |p: &Population, model: &mut Mlp<B>, optim: &mut Vec<Vec<B::Buffer>>| -> Result<()> {
            let out = backend.download(&model.forward(backend, &x, rows, grouped(p))?)?;
            // The toy fitness, minus each member's squared output, summed in 8 lanes and in
            // parallel like a real task's loss (a single running sum was 1.4 ms of latency).
            let fitness: Vec<f32> = out.par_chunks(h).map(|r| -sum_of_squares(r)).collect();
            let w = shape_fitness(&fitness, Shaping::ZScore, 1)?;
            apply_es_update(backend, model, optim, p, &w, &optimizer.step(1, 1e-6, n))?;
            backend.sync()?;
            Ok(())
        };
    let forward = |model: &Mlp<B>, p: Option<&Population>| -> Result<()> {
        model.forward(backend, &x, rows, p.map_or(RowOwners::Plain, grouped))?;
        backend.sync()?;
        Ok(())
    };
    let mut eggroll_fwd = || forward(&model, Some(&low()?));
    let mut plain_fwd = || forward(&model, None);
    let fwd_times = time_phases(3, opts.min_seconds, &mut [&mut plain_fwd, &mut eggroll_fwd])?;
    let inference = phase(fwd_times[0], 1.0);
    let eggroll_forward = phase(fwd_times[1], 1.0);
    let gen_times = time_phases(
        3,
        opts.min_seconds,
        &mut [&mut || generation(&low()?, &mut model, &mut optim)],
    )?;
    let eggroll_generation = phase(gen_times[0], 3.0);
    let (naive_forward, naive_generation) = if opts.skip_naive {
        (None, None)
    } else {
        let full = || pop(NoiseKind::Full);
        let f = time_phases(1, 0.0, &mut [&mut || forward(&model, Some(&full()?))])?;
        let g = time_phases(
            1,
            0.0,
            &mut [&mut || generation(&full()?, &mut model, &mut optim)],
        )?;
        (Some(phase(f[0], 1.0)), Some(phase(g[0], 3.0)))
    };
    // Transfers of one forward's input and output (what a host-fed workload pays).
    let y = model.forward(backend, &x, rows, RowOwners::Plain)?;
    let transfers = time_phases(
        3,
        0.0,
        &mut [
            &mut || {
                backend.upload(&x_host)?;
                backend.sync()?;
                Ok(())
            },
            &mut || backend.download(&y).map(drop).map_err(Into::into),
        ],
    )?;
    let measured_peak = GemmPeak::measure();
    let peak = measured_peak.gflops;
    let streams = low()?.streams();
    let noise = (backend.name() == "cpu").then(|| {
        let per_stream = (2 * h) * opts.rank as usize + h; // A and B, then the bias noise
        noise_cost::measure(
            streams,
            opts.layers,
            per_stream,
            inference.seconds,
            opts.min_seconds,
        )
    });
    Ok(LowrankReport {
        backend: backend.name().into(),
        threads: rayon::current_num_threads(),
        hidden: h,
        layers: opts.layers,
        population: n,
        rank: opts.rank,
        gemm_peak_gflops: peak,
        gemm_peak: measured_peak,
        forward_vs_inference: eggroll_forward.member_evals_per_s / inference.member_evals_per_s,
        generation_speedup_vs_naive: naive_generation
            .as_ref()
            .map(|g| g.seconds / eggroll_generation.seconds),
        forward_fraction_of_peak: eggroll_forward.gflops / peak,
        noise,
        upload_seconds: transfers[0].0,
        download_seconds: transfers[1].0,
        inference,
        eggroll_forward,
        eggroll_generation,
        naive_forward,
        naive_generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use eggroll_core::cpu::Cpu;

    #[test]
    fn tiny_report_is_complete_and_counts_the_forwards_noise() {
        let opts = LowrankOptions {
            hidden: 16,
            layers: 2,
            population: 64,
            rank: 2,
            min_seconds: 0.0,
            skip_naive: false,
        };
        let r = bench_lowrank(&Cpu::new(), &opts).expect("bench runs");
        let noise = r.noise.expect("the CPU backend reports its noise cost");
        // 32 pairs × 2 layers × (A and B of rank 2: 2·(16 + 16), bias: 16).
        assert_eq!(noise.normals_per_forward, 32 * 2 * (2 * 32 + 16));
        assert!(noise.forward_ceiling > 0.0 && noise.forward_ceiling < 1.0);
        for p in [&r.inference, &r.eggroll_forward, &r.eggroll_generation] {
            assert!(p.seconds > 0.0 && p.member_evals_per_s.is_finite());
        }
        assert!(r.naive_generation.is_some() && r.generation_speedup_vs_naive.is_some());
    }
}
