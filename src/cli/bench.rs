//! `eggroll bench NAME`

use super::BackendName;
use anyhow::Result;
use clap::{Args, Subcommand};
use eggroll::bench::lowrank::{bench_lowrank, LowrankOptions, LowrankReport};
use eggroll::bench::peak::{cpu_description, fraction_note};
use eggroll::memory;

/// Arguments of `bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Which benchmark.
    #[command(subcommand)]
    pub which: Which,
}

/// Benchmarks.
#[derive(Subcommand, Debug)]
pub enum Which {
    /// Plain inference vs EGGROLL forward/generation vs naive full-rank ES.
    Lowrank(LowrankArgs),
    /// Environment stepping throughput (batch 4096, auto-reset; one thread and all threads;
    /// best and median of repeated timings).
    Envs(EnvsArgs),
    /// ES on CartPole: generations/s with 500-step episodes, env-steps/s, time to solve.
    Rl(RlArgs),
    /// The integer-only LM: member-tokens/s at 6 x 256 and 1 x 64, peak memory at N = 4096.
    Egg(EggArgs),
    /// Pretrained-LM decoding: plain batched vs population (every sequence its own member),
    /// on a tiny random Llama and on SmolLM2 when models/ has it.
    Llm(LlmArgs),
    /// Every search strategy on the benchmark problems: median evaluations to a precision and
    /// median best value at a budget, over seeds (a table like evosax's).
    Strategies(StrategiesArgs),
    /// The machine's f32 GEMM peak every other benchmark states its figures against (both
    /// CPU kernels, several sizes) and the FMA units' issue rate above it.
    Peak {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `bench strategies`.
#[derive(Args, Debug)]
pub struct StrategiesArgs {
    /// Dimensions, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10usize, 100])]
    pub dims: Vec<usize>,
    /// Seeds per cell.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// The precision to reach (f ≤ precision; every problem's optimum is 0).
    #[arg(long, default_value_t = 1e-3)]
    pub precision: f64,
    /// Budget in evaluations per dimension.
    #[arg(long, default_value_t = 1000)]
    pub budget_per_dim: u64,
    /// Initial σ.
    #[arg(long, default_value_t = 1.0)]
    pub sigma: f64,
    /// Largest D for xnes (a matrix exponential per generation).
    #[arg(long, default_value_t = 50)]
    pub xnes_max_dim: usize,
    /// Only these strategies, comma-separated (default: every search strategy).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Every strategy but pgpe samples its members independently (as evosax does); by
    /// default pgpe, cma_es and sep_cma_es sample mirrored pairs.
    #[arg(long)]
    pub no_mirrored: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `bench llm`.
#[derive(Args, Debug)]
pub struct LlmArgs {
    /// Sequences decoded together (= population members).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Prompt tokens per sequence.
    #[arg(long, default_value_t = 80)]
    pub prompt_tokens: usize,
    /// New tokens per sequence.
    #[arg(long, default_value_t = 32)]
    pub new_tokens: usize,
    /// Rank of the perturbations.
    #[arg(long, default_value_t = 1)]
    pub rank: u32,
    /// Alternating runs of the plain and population phases; each reports its fastest.
    #[arg(long, default_value_t = 2)]
    pub repeats: usize,
    /// The model file (default: SmolLM2 in models/ when present).
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `bench egg`.
#[derive(Args, Debug)]
pub struct EggArgs {
    /// Timed generations per shape.
    #[arg(long, default_value_t = 2)]
    pub generations: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `bench envs`.
#[derive(Args, Debug)]
pub struct EnvsArgs {
    /// Environments per batch.
    #[arg(long, default_value_t = 4096)]
    pub batch: usize,
    /// Steps per timing.
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    /// Timings on each thread count; the figures are their best and median.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Only these environments (registered names, comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    pub env: Vec<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Shapes `bench rl` can take from a peer.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RlPreset {
    /// The JAX reference's CartPole shape: 5 linear layers of width 64, rank 1, measured at
    /// N = 256 and N = 4096 (or at -n alone when given).
    JaxRef,
}

/// Arguments of `bench rl`.
#[derive(Args, Debug)]
pub struct RlArgs {
    /// Population size (default 256; with --preset jax-ref, both 256 and 4096).
    #[arg(short = 'n', long = "population")]
    pub population: Option<u32>,
    /// Hidden width (a preset sets its own).
    #[arg(long, default_value_t = 64, conflicts_with = "preset")]
    pub hidden: usize,
    /// Linear layers (a preset sets its own).
    #[arg(long, default_value_t = 3, conflicts_with = "preset")]
    pub layers: usize,
    /// Rank of the perturbations (a preset sets its own).
    #[arg(long, default_value_t = 2, conflicts_with = "preset")]
    pub rank: u32,
    /// A peer's shape instead of --hidden, --layers and --rank.
    #[arg(long, value_enum)]
    pub preset: Option<RlPreset>,
    /// Generations timed.
    #[arg(long, default_value_t = 10)]
    pub generations: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `bench lowrank`.
#[derive(Args, Debug)]
pub struct LowrankArgs {
    /// Hidden width.
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    /// Layers.
    #[arg(long, default_value_t = 3)]
    pub layers: usize,
    /// Population size.
    #[arg(short = 'n', long = "population", default_value_t = 4096)]
    pub population: u32,
    /// Rank.
    #[arg(long, default_value_t = 1)]
    pub rank: u32,
    /// Minimum seconds per timed phase.
    #[arg(long, default_value_t = 1.0)]
    pub min_seconds: f64,
    /// Skip the (slow) naive full-rank ES phases.
    #[arg(long)]
    pub skip_naive: bool,
    /// Backend.
    #[arg(long, value_enum, default_value_t)]
    pub backend: BackendName,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Run `bench`.
pub fn run(a: BenchArgs) -> Result<()> {
    match a.which {
        Which::Llm(l) => bench_llm(&l)?,
        Which::Strategies(s) => bench_strategies(&s)?,
        Which::Peak { json } => {
            let peak = eggroll::bench::peak::GemmPeak::measure();
            if json {
                println!("{}", serde_json::json!({ "gemm_peak": peak }));
            } else {
                println!("bench peak: {peak}");
            }
        }
        Which::Egg(e) => {
            anyhow::ensure!(e.generations > 0, "--generations must be at least 1");
            super::egg::bench(e.json, e.generations)?;
        }
        Which::Envs(e) => {
            anyhow::ensure!(
                e.batch > 0 && e.steps > 0 && e.repeats > 0,
                "--batch, --steps and --repeats must be at least 1"
            );
            memory::check_flags(
                &memory::envs_bench_estimate(e.batch),
                memory::available_bytes(),
            )?;
            let results = eggroll_rl_envs::bench_envs(e.batch, e.steps, e.repeats, None, &e.env)?;
            if e.json {
                println!("{}", serde_json::json!({ "envs": results }));
            } else {
                println!(
                    "bench envs: batch {} with auto-reset, {} timings of {} steps (best, median), \
                     {} threads\n  CPU {}",
                    e.batch,
                    e.repeats,
                    e.steps,
                    rayon::current_num_threads(),
                    cpu_description()
                );
                for r in &results {
                    println!(
                        "  {:<26} {:>7.1} M steps/s ({:>6.1}) 1 thread  {:>7.1} M steps/s ({:>6.1}) all threads",
                        r.name,
                        r.steps_per_s_single / 1e6,
                        r.steps_per_s_single_median / 1e6,
                        r.steps_per_s_all / 1e6,
                        r.steps_per_s_all_median / 1e6
                    );
                }
            }
        }
        Which::Rl(r) => bench_rl(&r)?,
        Which::Lowrank(l) => {
            anyhow::ensure!(
                l.hidden > 0 && l.layers > 0,
                "--hidden and --layers must be at least 1"
            );
            anyhow::ensure!(
                l.population >= 2 && l.population % 2 == 0,
                "-n must be even and at least 2"
            );
            anyhow::ensure!(l.rank >= 1, "--rank must be at least 1");
            let shares = memory::lowrank_bench_estimate(
                l.hidden,
                l.layers,
                l.population,
                rayon::current_num_threads(),
            );
            memory::check_flags(&shares, memory::available_bytes())?;
            let opts = LowrankOptions {
                hidden: l.hidden,
                layers: l.layers,
                population: l.population,
                rank: l.rank,
                min_seconds: l.min_seconds,
                skip_naive: l.skip_naive,
            };
            let report = crate::with_backend!(l.backend, |backend| Ok::<_, anyhow::Error>(
                bench_lowrank(backend, &opts)?
            ))?;
            if l.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print_lowrank(&report);
            }
        }
    }
    Ok(())
}

fn bench_rl(r: &RlArgs) -> Result<()> {
    use eggroll::bench::rl::RlShape;
    let shapes: Vec<RlShape> = match (r.preset, r.population) {
        (Some(RlPreset::JaxRef), None) => [256, 4096]
            .into_iter()
            .map(|population| RlShape {
                population,
                ..RlShape::JAX_REF
            })
            .collect(),
        (Some(RlPreset::JaxRef), Some(population)) => vec![RlShape {
            population,
            ..RlShape::JAX_REF
        }],
        (None, population) => vec![RlShape {
            population: population.unwrap_or(256),
            hidden: r.hidden,
            layers: r.layers,
            rank: r.rank,
        }],
    };
    for s in &shapes {
        anyhow::ensure!(
            s.population >= 2 && s.population % 2 == 0,
            "-n must be even and at least 2 (got {})",
            s.population
        );
        anyhow::ensure!(
            s.hidden > 0 && s.layers > 0 && s.rank > 0 && r.generations > 0,
            "--hidden, --layers, --rank and --generations must be at least 1"
        );
    }
    for &shape in &shapes {
        let rep = eggroll::bench::rl::bench_rl(shape, r.generations)?;
        if r.json {
            println!("{}", serde_json::to_string(&rep)?);
            continue;
        }
        println!(
            "bench rl: CartPole-v1, N = {}, MLP hidden {} x {} layers, rank {}, every episode 500 steps, {} threads{}\n  CPU {}",
            rep.population,
            rep.hidden,
            rep.layers,
            rep.rank,
            rayon::current_num_threads(),
            if r.preset.is_some() { " (the JAX reference's shape)" } else { "" },
            cpu_description()
        );
        println!(
            "  {:.2} generations/s  {:.2} M env-steps/s  ({} generations timed{})",
            rep.generations_per_s,
            rep.env_steps_per_s / 1e6,
            rep.generations,
            rep.cpu_seconds_per_generation
                .map_or(String::new(), |c| format!(
                    "; {:.4} CPU s per generation, all threads",
                    c
                ))
        );
        println!(
            "  examples/cartpole.toml solved (eval return {:.1} >= 475 over 100 episodes) in {:.2} s, {} generations",
            rep.solved_return, rep.seconds_to_solve, rep.generations_to_solve
        );
        println!(
            "  uneven episodes (untrained policy): compaction {:.4} s/generation, masking {:.4} s/generation",
            rep.compact_seconds, rep.mask_seconds
        );
    }
    Ok(())
}

fn bench_llm(l: &LlmArgs) -> Result<()> {
    use eggroll::bench::llm::{bench_llm, LlmBenchOptions};
    use eggroll_llm::llama::tiny::{tiny_gguf, TinySpec};
    anyhow::ensure!(
        l.batch >= 1 && l.prompt_tokens >= 1 && l.new_tokens >= 1 && l.rank >= 1 && l.repeats >= 1,
        "--batch, --prompt-tokens, --new-tokens, --rank and --repeats must be at least 1"
    );
    let opts = LlmBenchOptions {
        batch: l.batch,
        prompt_tokens: l.prompt_tokens,
        new_tokens: l.new_tokens,
        rank: l.rank,
        repeats: l.repeats,
    };
    let spec = TinySpec {
        n_layers: 4,
        d_model: 256,
        n_heads: 4,
        n_kv_heads: 2,
        ffn_dim: 768,
        ..TinySpec::default()
    };
    let g = eggroll_llm::llama::gguf::Gguf::from_bytes(
        std::path::Path::new("tiny.gguf"),
        tiny_gguf(&spec).to_bytes()?,
    )?;
    let mut models = vec![(
        "tiny 4 x 256 (random)".to_string(),
        eggroll_llm::llama::Llama::from_gguf(&g)?,
    )];
    let smol = std::path::PathBuf::from("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    match &l.model {
        Some(p) => models.push((p.display().to_string(), eggroll_llm::llama::Llama::load(p)?)),
        None if smol.is_file() => models.push((
            "SmolLM2-135M".into(),
            eggroll_llm::llama::Llama::load(&smol)?,
        )),
        None => eprintln!("bench llm: SmolLM2 skipped: run scripts/fetch_smollm2.sh"),
    }
    let mut reports = Vec::new();
    for (name, m) in &models {
        anyhow::ensure!(
            l.prompt_tokens + l.new_tokens <= m.config.context_len,
            "--prompt-tokens + --new-tokens = {} is beyond {name}'s context of {}",
            l.prompt_tokens + l.new_tokens,
            m.config.context_len
        );
        if !l.json {
            eprintln!("bench llm: {name} ...");
        }
        reports.push(bench_llm(name, m, &opts)?);
    }
    if l.json {
        println!("{}", serde_json::json!({ "llm": reports }));
        return Ok(());
    }
    for r in &reports {
        println!(
            "bench llm: {} | batch {} | {} prompt + {} new tokens | rank {} | {} threads | {:.3} GFLOP/token | best of {} alternating runs\n  {}",
            r.model, r.batch, r.prompt_tokens, r.new_tokens, r.rank, r.threads, r.gflop_per_token, r.repeats, r.gemm_peak
        );
        for (name, p) in [("plain", &r.plain), ("population", &r.population)] {
            println!(
                "  {name:<11} prefill {:>9.1} tok/s {:>6.1} GFLOP/s | decode {:>8.1} tok/s {:>6.1} GFLOP/s | peak {}",
                p.prefill_tokens_per_s, p.prefill_gflops, p.decode_tokens_per_s, p.decode_gflops, mb(p.peak_memory_bytes)
            );
        }
        println!(
            "  population/plain: decode {:.1}%, prefill {:.1}% | plain decode at {:.1}% of GEMM peak{} | KV cache {:.1} MB",
            100.0 * r.decode_ratio,
            100.0 * r.prefill_ratio,
            100.0 * r.plain_decode_fraction_of_peak,
            fraction_note(r.plain_decode_fraction_of_peak),
            r.kv_cache_bytes as f64 / 1e6
        );
    }
    Ok(())
}

fn bench_strategies(s: &StrategiesArgs) -> Result<()> {
    use eggroll::bench::strategies::{bench_strategies, StrategyBenchOptions};
    anyhow::ensure!(s.seeds > 0, "--seeds must be at least 1");
    anyhow::ensure!(
        s.precision > 0.0 && s.sigma > 0.0,
        "--precision and --sigma must be > 0"
    );
    let known = eggroll_populations::search_strategy_names();
    if let Some(bad) = s.only.iter().find(|n| !known.contains(&n.as_str())) {
        anyhow::bail!(
            "--only: `{bad}` is not a search strategy (known: {})",
            known.join(", ")
        );
    }
    let r = bench_strategies(&StrategyBenchOptions {
        dims: s.dims.clone(),
        seeds: s.seeds,
        precision: s.precision,
        budget_per_dim: s.budget_per_dim,
        sigma: s.sigma,
        xnes_max_dim: s.xnes_max_dim,
        only: s.only.clone(),
        mirrored: !s.no_mirrored,
        ..StrategyBenchOptions::default()
    })?;
    if s.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    println!(
        "median over {} seeds; start at 0 with σ = {}, optimum shifted in [-{}, {}]^D; precision f <= {:e}; budget {} evaluations per dimension",
        s.seeds, r.sigma, r.shift, r.shift, r.precision, r.budget_per_dim
    );
    println!(
        "{:<11} {:<16} {:>4} {:>4} {:>8} {:>8} {:>13} {:>12}",
        "strategy", "problem", "D", "λ", "sampling", "reached", "median evals", "median best"
    );
    for c in &r.cells {
        if let Some(why) = &c.skipped {
            println!(
                "{:<11} {:<16} {:>4} {:>4} skipped ({why})",
                c.strategy, c.problem, c.dim, c.population
            );
            continue;
        }
        println!(
            "{:<11} {:<16} {:>4} {:>4} {:>8} {:>8} {:>13} {:>12.3e}",
            c.strategy,
            c.problem,
            c.dim,
            c.population,
            if c.mirrored { "mirrored" } else { "plain" },
            format!("{}/{}", c.reached, c.seeds),
            c.median_evaluations
                .map_or("-".to_string(), |e| e.to_string()),
            c.median_best
        );
    }
    Ok(())
}

fn mb(b: Option<u64>) -> String {
    b.map_or("n/a".into(), |b| format!("{:.1} MB", b as f64 / 1e6))
}

fn print_lowrank(r: &LowrankReport) {
    println!(
        "bench lowrank: backend {} | {} threads | MLP {} x {}x{} | N = {} | rank {}",
        r.backend, r.threads, r.layers, r.hidden, r.hidden, r.population, r.rank
    );
    println!("CPU {} (all threads)", r.gemm_peak);
    let row = |name: &str, p: &eggroll::bench::lowrank::Phase| {
        println!(
            "  {name:<28} {:>10.4} s  {:>12.0} member-evals/s  {:>7.1} GFLOP/s  peak {}",
            p.seconds,
            p.member_evals_per_s,
            p.gflops,
            mb(p.peak_memory_bytes)
        );
    };
    row("(a) plain inference", &r.inference);
    row("(b) EGGROLL forward", &r.eggroll_forward);
    row("(c) EGGROLL generation", &r.eggroll_generation);
    if let Some(p) = &r.naive_forward {
        row("(d) naive ES forward", p);
    }
    if let Some(p) = &r.naive_generation {
        row("(d) naive ES generation", p);
    }
    println!(
        "  b/a throughput: {:.1}%   forward at {:.1}% of GEMM peak{}",
        100.0 * r.forward_vs_inference,
        100.0 * r.forward_fraction_of_peak,
        fraction_note(r.forward_fraction_of_peak)
    );
    if let Some(n) = &r.noise {
        println!(
            "  noise regeneration alone: {:.4} s per forward ({:.2} M normals, {:.2} ns each per thread): b/a cannot exceed {:.1}% with it",
            n.seconds_per_forward,
            n.normals_per_forward as f64 / 1e6,
            n.ns_per_normal_per_thread,
            100.0 * n.forward_ceiling
        );
    }
    if let Some(s) = r.generation_speedup_vs_naive {
        println!("  EGGROLL generation is {s:.1}x faster than naive full-rank ES");
    }
    if let Some(g) = &r.naive_generation {
        println!(
            "  naive generation / plain inference: {:.1}x (no generation that includes a forward can beat naive by more)",
            g.seconds / r.inference.seconds
        );
    }
    println!(
        "  transfers of one forward: upload {:.4} s, download {:.4} s (the phases above include no transfer)",
        r.upload_seconds, r.download_seconds
    );
}
