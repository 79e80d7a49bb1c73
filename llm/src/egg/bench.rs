//! `eggroll bench egg`: eggroll's own member-tokens/s at two shapes (1 × 64 and 6 × 256),
//! for whole generations (evaluation + update, what a peer's epoch time compares with) and
//! for evaluation alone, the int8 kernel that ran, and peak memory at N = 4096. No peer
//! figure is stored here: a ratio to nano-egg comes only from running it in the same sitting
//! (`../shared/peers/rerun_reference.sh nanoegg`).

use crate::egg::data::Streams;
use crate::egg::evaluate::{evaluate_population, PopulationSpec};
use crate::egg::params::Weights;
use crate::egg::update::{es_update, pair_signs};
use crate::error::Result;
use serde::Serialize;
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug, Serialize)]
pub struct EggBenchOptions {
    /// Timed generations per shape (after one warm-up).
    pub generations: usize,
    /// Population for the throughput shapes.
    pub population: u32,
    /// Window T.
    pub window: usize,
    /// Population of the memory check (one generation, evaluation + update, at 6 × 256).
    pub memory_population: u32,
    /// Window of the memory check.
    pub memory_window: usize,
}

impl Default for EggBenchOptions {
    fn default() -> Self {
        EggBenchOptions {
            generations: 2,
            population: 256,
            window: 100,
            memory_population: 4096,
            memory_window: 100,
        }
    }
}

/// Throughput at one shape.
#[derive(Clone, Debug, Serialize)]
pub struct ShapeReport {
    /// Layers.
    pub n_layers: usize,
    /// Width.
    pub d_model: usize,
    /// Population.
    pub population: u32,
    /// Window.
    pub window: usize,
    /// Member-tokens/s of population evaluation alone (noise regeneration + forward +
    /// fitness), not comparable with a peer's whole-epoch figure.
    pub member_tokens_per_second: f64,
    /// Member-tokens/s of whole generations (evaluation + integer update): the figure to set
    /// beside a peer's epoch time.
    pub generation_member_tokens_per_second: f64,
    /// Seconds of the timed generations' evaluation.
    pub evaluation_seconds: f64,
    /// Seconds of the timed generations' updates.
    pub update_seconds: f64,
}

/// The whole benchmark report (`--json` prints it).
#[derive(Clone, Debug, Serialize)]
pub struct EggBenchReport {
    /// Options used.
    pub options: EggBenchOptions,
    /// Threads in rayon's pool.
    pub threads: usize,
    /// The CPU model and the vector features its kernels could select.
    pub cpu: String,
    /// The int8 GEMM kernel that ran (`avx-vnni`, `avx512-vnni`, `avx2` or `portable`).
    pub int8_kernel: &'static str,
    /// 6 × 256 shape.
    pub large: ShapeReport,
    /// 1 × 64 shape.
    pub small: ShapeReport,
    /// Seconds of the N = 4096 generation at 6 × 256.
    pub memory_generation_seconds: f64,
    /// Peak resident memory of the process (VmHWM), MiB.
    pub peak_memory_mib: f64,
    /// Whether the peak stays ≤ 1 GiB.
    pub meets_memory_target: bool,
}

/// VmHWM from /proc/self/status in MiB (NaN where unavailable).
pub fn peak_memory_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Deterministic pseudo-text for benchmarking (throughput does not depend on content).
fn bench_text(len: usize) -> Vec<u8> {
    let alphabet = b"etaoin shrdlu,.\nETAOINcmfwypvbgkqjxz";
    (0..len as u32)
        .map(|i| alphabet[(eggroll_core::noise::hash32(i) % alphabet.len() as u32) as usize])
        .collect()
}

/// Run `generations` generations; returns (evaluation seconds, update seconds).
fn run_shape(
    d: usize,
    layers: usize,
    n: u32,
    window: usize,
    generations: usize,
) -> Result<(f64, f64)> {
    let text = bench_text(window * 64 + 1000);
    let mut w = Weights::init(d, layers, 1);
    let pairs = n as usize / 2;
    let mut streams = Streams::new(pairs, text.len(), window);
    let mut hidden = vec![0i8; n as usize * layers * d];
    let (mut te, mut tu) = (0.0, 0.0);
    for g in 0..generations {
        let (wins, resets) = streams.windows(&text, window);
        let spec = PopulationSpec {
            seed: 1,
            epoch: g as u32,
            rank: 1,
            sigma_shift: 4,
            chunk_members: 64,
            share_pair_state: false,
        };
        let t0 = Instant::now();
        let scores = evaluate_population(&w, spec, 0, &wins, &resets, &mut hidden, None)?;
        te += t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        es_update(&mut w, 1, g as u32, 1, &pair_signs(&scores), 1 << 31);
        tu += t1.elapsed().as_secs_f64();
        streams.advance(window);
    }
    Ok((te, tu))
}

fn shape(o: &EggBenchOptions, d: usize, layers: usize) -> Result<ShapeReport> {
    run_shape(d, layers, o.population, o.window, 1)?;
    let (te, tu) = run_shape(d, layers, o.population, o.window, o.generations.max(1))?;
    let tokens = (o.population as usize * o.window * o.generations.max(1)) as f64;
    Ok(ShapeReport {
        n_layers: layers,
        d_model: d,
        population: o.population,
        window: o.window,
        member_tokens_per_second: tokens / te,
        generation_member_tokens_per_second: tokens / (te + tu),
        evaluation_seconds: te,
        update_seconds: tu,
    })
}

/// Measure both shapes and the memory check (seconds to a few minutes on 2 cores).
pub fn bench_egg(o: &EggBenchOptions) -> Result<EggBenchReport> {
    let small = shape(o, 64, 1)?;
    let large = shape(o, 256, 6)?;
    let t0 = Instant::now();
    run_shape(256, 6, o.memory_population, o.memory_window, 1)?;
    let mem_secs = t0.elapsed().as_secs_f64();
    let peak = peak_memory_mib();
    Ok(EggBenchReport {
        options: o.clone(),
        threads: rayon::current_num_threads(),
        cpu: eggroll_core::cpu::cpu_description(),
        int8_kernel: eggroll_core::int::I8Kernel::detect().name(),
        large,
        small,
        memory_generation_seconds: mem_secs,
        peak_memory_mib: peak,
        meets_memory_target: peak <= 1024.0,
    })
}
