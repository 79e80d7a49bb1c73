//! `bench_lowrank`: what EGGROLL costs on this device compared with plain batched inference.
//!
//! An MLP of `layers` square `hidden × hidden` layers (tanh, with biases) evaluates one row
//! per member (or `rows_per_member`). Reported, as the best wall-clock time of `repeats`
//! runs after one warm-up, each ending with a device sync: plain batched inference, the
//! EGGROLL population forward, one whole generation (forward, fitness download, z-score
//! shaping, ES direction and Adam step for every tensor), optionally the naive full-rank
//! (OpenES) forward and generation, and for the forward the split between resident kernel
//! time and host↔device transfers (upload of the inputs, download of the outputs). On a
//! software device these figures say nothing about GPUs.

use crate::device::Cubecl;
use crate::error::{CubeclError, Result};
use eggroll_core::backend::Activation;
use eggroll_core::mlp::{Mlp, MlpConfig};
use eggroll_core::model::{apply_es_update, zero_optim_state, Model};
use eggroll_core::noise::{fill_normals, StreamKey};
use eggroll_core::optim::Optimizer;
use eggroll_core::population::{MemberRows, NoiseKind, Population};
use eggroll_core::shaping::{shape_fitness, Shaping};
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchConfig {
    /// Width of every layer.
    pub hidden: usize,
    /// Number of `hidden × hidden` layers.
    pub layers: usize,
    /// Population size N (even: antithetic pairs).
    pub population: u32,
    /// Rank r of the perturbations.
    pub rank: u32,
    /// Input rows evaluated by each member.
    pub rows_per_member: usize,
    /// Timed repetitions (after one warm-up); the best is kept.
    pub repeats: usize,
    /// Also time the naive full-rank (OpenES) forward and generation (slow by design).
    pub full_rank: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            hidden: 256,
            layers: 3,
            population: 1024,
            rank: 1,
            rows_per_member: 1,
            repeats: 5,
            full_rank: false,
        }
    }
}

/// The measured figures (seconds per call, best of the repetitions).
#[derive(Clone, Debug, PartialEq)]
pub struct LowRankBench {
    /// Device (and runtime) that ran the benchmark.
    pub device: String,
    /// Whether it is a software device (Mesa lavapipe): figures are then not GPU figures.
    pub software: bool,
    /// The configuration measured.
    pub config: BenchConfig,
    /// Plain batched inference of all N·rows_per_member rows through the unperturbed model.
    pub inference_s: f64,
    /// The EGGROLL population forward (shared GEMM + fused low-rank corrections).
    pub population_forward_s: f64,
    /// One generation: forward, fitness download, shaping, ES direction and step per tensor.
    pub generation_s: f64,
    /// Device time of the population forward with data resident (same as
    /// `population_forward_s`; named for the kernel/transfer split).
    pub kernel_s: f64,
    /// Host→device upload of the input batch.
    pub upload_s: f64,
    /// Device→host download of the output batch.
    pub download_s: f64,
    /// Naive full-rank (OpenES) population forward, when requested.
    pub full_rank_forward_s: Option<f64>,
    /// Naive full-rank (OpenES) generation, when requested.
    pub full_rank_generation_s: Option<f64>,
}

impl LowRankBench {
    /// Population forward time over plain inference time (EGGROLL's overhead factor).
    pub fn forward_overhead(&self) -> f64 {
        self.population_forward_s / self.inference_s
    }

    /// Upload plus download time of one forward's inputs and outputs.
    pub fn transfer_s(&self) -> f64 {
        self.upload_s + self.download_s
    }

    /// How many times faster an EGGROLL generation is than a naive full-rank one.
    pub fn speedup_vs_full_rank(&self) -> Option<f64> {
        self.full_rank_generation_s.map(|f| f / self.generation_s)
    }

    /// Shared-GEMM throughput of plain inference, in GFLOP/s.
    pub fn inference_gflops(&self) -> f64 {
        let c = &self.config;
        let rows = c.population as f64 * c.rows_per_member as f64;
        2.0 * rows * (c.hidden * c.hidden * c.layers) as f64 / self.inference_s / 1e9
    }

    /// One JSON object with every figure (for `eggroll bench --json`).
    pub fn to_json(&self) -> String {
        let c = &self.config;
        format!(
            "{{\"backend\":\"cubecl\",\"device\":{:?},\"software\":{},\"hidden\":{},\"layers\":{},\
             \"population\":{},\"rank\":{},\"rows_per_member\":{},\"repeats\":{},\
             \"inference_s\":{:e},\"population_forward_s\":{:e},\"generation_s\":{:e},\
             \"kernel_s\":{:e},\"upload_s\":{:e},\"download_s\":{:e},\"transfer_s\":{:e},\
             \"full_rank_forward_s\":{},\"full_rank_generation_s\":{},\
             \"forward_overhead\":{:.4},\"inference_gflops\":{:.3}}}",
            self.device,
            self.software,
            c.hidden,
            c.layers,
            c.population,
            c.rank,
            c.rows_per_member,
            c.repeats,
            self.inference_s,
            self.population_forward_s,
            self.generation_s,
            self.kernel_s,
            self.upload_s,
            self.download_s,
            self.transfer_s(),
            json_opt(self.full_rank_forward_s),
            json_opt(self.full_rank_generation_s),
            self.forward_overhead(),
            self.inference_gflops()
        )
    }
}

fn json_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "null".into(), |s| format!("{s:e}"))
}

fn check(cfg: &BenchConfig) -> Result<()> {
    let bad = |what: &str, why: &str| -> Result<()> {
        Err(eggroll_core::CoreError::invalid(what, why).into())
    };
    if cfg.hidden == 0 || cfg.layers == 0 {
        return bad("bench shape", "hidden and layers must be at least 1");
    }
    if cfg.population < 2 || cfg.population % 2 == 1 {
        return bad("bench population", "must be even and at least 2");
    }
    if cfg.rank == 0 || cfg.rows_per_member == 0 || cfg.repeats == 0 {
        return bad(
            "bench",
            "rank, rows_per_member and repeats must be at least 1",
        );
    }
    Ok(())
}

/// Best wall time of `f` (including a device sync) over `repeats` calls, after one untimed
/// warm-up.
fn time<T>(gpu: &Cubecl, repeats: usize, mut f: impl FnMut() -> Result<T>) -> Result<f64> {
    f()?;
    gpu.sync()?;
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let start = Instant::now();
        f()?;
        gpu.sync()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Measure plain inference, the EGGROLL population forward, one generation, and the
/// kernel/transfer split for the given shape on `gpu`.
pub fn bench_lowrank(gpu: &Cubecl, cfg: &BenchConfig) -> Result<LowRankBench> {
    check(cfg)?;
    let mlp_cfg = MlpConfig {
        input: cfg.hidden,
        hidden: vec![cfg.hidden; cfg.layers - 1],
        output: cfg.hidden,
        activation: Activation::Tanh,
        output_activation: Activation::Tanh,
        bias: true,
    };
    let mut model = Mlp::init(gpu, mlp_cfg, 7)?;
    let pop = Population {
        seed: 7,
        epoch: 0,
        size: cfg.population,
        sigma: 0.01,
        kind: NoiseKind::LowRank { rank: cfg.rank },
        antithetic: true,
    };
    let rows = cfg.population as usize * cfg.rows_per_member;
    let mut host_x = vec![0.0f32; rows * cfg.hidden];
    fill_normals(StreamKey::new(11, 0, 0, 0), 0, 1.0, &mut host_x);
    let mr = MemberRows {
        first_member: 0,
        rows_per_member: cfg.rows_per_member,
    };
    let core = |e: eggroll_core::CoreError| CubeclError::from(e);

    let upload_s = time(gpu, cfg.repeats, || gpu.upload_f32(&host_x))?;
    let x = gpu.upload_f32(&host_x)?;
    let inference_s = time(gpu, cfg.repeats, || {
        model.forward_population(gpu, &x, rows, None).map_err(core)
    })?;
    let population_forward_s = time(gpu, cfg.repeats, || {
        model
            .forward_population(gpu, &x, rows, Some((&pop, mr)))
            .map_err(core)
    })?;
    let y = model
        .forward_population(gpu, &x, rows, Some((&pop, mr)))
        .map_err(core)?;
    let download_s = time(gpu, cfg.repeats, || gpu.download_f32(&y))?;

    let optimizer = Optimizer::default();
    let mut state = zero_optim_state(gpu, model.specs(), optimizer.state_slots())?;
    let step = optimizer.step(1, 1e-3, cfg.population);
    let per_member = cfg.rows_per_member * cfg.hidden;
    let mut generation = |p: &Population| -> Result<()> {
        let y = model
            .forward_population(gpu, &x, rows, Some((p, mr)))
            .map_err(core)?;
        let out = gpu.download_f32(&y)?;
        let fitness: Vec<f32> = out
            .chunks(per_member)
            .map(|c| c.iter().sum::<f32>() / per_member as f32)
            .collect();
        let weights = shape_fitness(&fitness, Shaping::ZScore, 1)?;
        apply_es_update(gpu, &mut model, &mut state, p, &weights, &step).map_err(core)
    };
    let generation_s = time(gpu, cfg.repeats, || generation(&pop))?;
    let (full_rank_forward_s, full_rank_generation_s) = if cfg.full_rank {
        let full = Population {
            kind: NoiseKind::Full,
            ..pop
        };
        let g = time(gpu, 1, || generation(&full))?;
        let f = time(gpu, 1, || {
            model
                .forward_population(gpu, &x, rows, Some((&full, mr)))
                .map_err(core)
        })?;
        (Some(f), Some(g))
    } else {
        (None, None)
    };
    Ok(LowRankBench {
        device: gpu.description(),
        software: gpu.is_software(),
        config: cfg.clone(),
        inference_s,
        population_forward_s,
        generation_s,
        kernel_s: population_forward_s,
        upload_s,
        download_s,
        full_rank_forward_s,
        full_rank_generation_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_configs() {
        let ok = BenchConfig::default();
        assert!(check(&ok).is_ok());
        for bad in [
            BenchConfig {
                population: 3,
                ..ok.clone()
            },
            BenchConfig {
                hidden: 0,
                ..ok.clone()
            },
            BenchConfig {
                rank: 0,
                ..ok.clone()
            },
            BenchConfig {
                repeats: 0,
                ..ok.clone()
            },
        ] {
            assert!(check(&bad).is_err(), "{bad:?}");
        }
    }
}
