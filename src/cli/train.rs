//! `eggroll train [CONFIG] …`

use super::progress::{summary, Progress};
use super::BackendName;
use anyhow::{Context, Result};
use clap::Args;
use eggroll::config::ModelSection;
use eggroll::dist::{Communicator, SingleProcess};
use eggroll::models::train_run;
use eggroll::train::{latest_checkpoint, TrainOptions};
use eggroll::RunConfig;
use std::path::PathBuf;

/// Arguments of `train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// TOML config (omit for the built-in default: digits classification, about 5 s on two cores once built).
    pub config: Option<PathBuf>,
    /// Run directory (default: runs/<config name>, or the next free runs/<name>-N).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t)]
    pub backend: BackendName,
    /// Override the run length.
    #[arg(long)]
    pub generations: Option<u64>,
    /// Override the seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Continue the run in --out from its latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many generations in total (checkpointing there), e.g. to split a run.
    #[arg(long)]
    pub stop_after: Option<u64>,
    /// Override config values, e.g. --set es.population=1024 --set lr.value=0.01.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

fn default_out(name: &str, resume: bool) -> PathBuf {
    let base = PathBuf::from("runs").join(name);
    if resume || !latest_checkpoint(&base).exists() {
        return base;
    }
    (2..)
        .map(|i| PathBuf::from("runs").join(format!("{name}-{i}")))
        .find(|p| !latest_checkpoint(p).exists())
        .unwrap_or(base)
}

/// Run `train`.
pub fn run(a: TrainArgs) -> Result<()> {
    let mut overrides = a.overrides.clone();
    if let Some(g) = a.generations {
        overrides.push(format!("generations={g}"));
    }
    if let Some(s) = a.seed {
        overrides.push(format!("seed={s}"));
    }
    // `--resume` without CONFIG continues the run with its own resolved config.
    let own_config = match (&a.config, &a.out) {
        (None, Some(out)) if a.resume => Some(out.join("config.toml")),
        _ => None,
    };
    if let Some(path) = &own_config {
        if !path.exists() {
            anyhow::bail!(
                "run directory {}: has no config.toml to resume from (pass the run's CONFIG, or check --out)",
                a.out.as_deref().unwrap_or(path).display()
            );
        }
    }
    let (cfg, name) = match a.config.as_ref().or(own_config.as_ref()) {
        Some(path) => (
            RunConfig::load(path, &overrides)?,
            path.file_stem()
                .map_or("run".into(), |s| s.to_string_lossy().into_owned()),
        ),
        None => (
            RunConfig::from_toml("", "built-in default", &overrides)?,
            "default".into(),
        ),
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| default_out(&name, a.resume));
    match cfg.model {
        // The EGG model's matrix products go to the backend's integer kernels; the rest of
        // its step runs on the CPU.
        ModelSection::EggGru(_) => {
            let kernels = super::egg::int_kernels(a.backend)?;
            run_on(
                &eggroll_core::cpu::Cpu::new(),
                kernels.as_deref(),
                &a,
                &cfg,
                out,
            )
        }
        ModelSection::Mlp(_)
        | ModelSection::Llama(_)
        | ModelSection::Vector(_)
        | ModelSection::ByteLlama(_) => {
            crate::with_backend!(a.backend, |backend| run_on(backend, None, &a, &cfg, out))
        }
    }
}

/// What the banner says of the model.
fn describe_model(cfg: &RunConfig) -> String {
    match &cfg.model {
        ModelSection::Mlp(m) => format!("model mlp hidden {:?}", m.hidden),
        ModelSection::EggGru(m) => format!(
            "model egg_gru {} x {} (int8) on {}",
            m.n_layers,
            m.d_model,
            match &cfg.task {
                eggroll::tasks::TaskConfig::Text(t) => t.data.as_str(),
                _ => "?",
            }
        ),
        ModelSection::Llama(m) => {
            format!("model llama {} (training {})", m.path, m.train.join(" "))
        }
        ModelSection::ByteLlama(m) => format!(
            "model byte_llama {} x {} (f32, {} heads, ffn {}) on {}",
            m.n_layers,
            m.d_model,
            m.n_heads,
            m.ffn_dim,
            match &cfg.task {
                eggroll::tasks::TaskConfig::Text(t) => t.data.as_str(),
                _ => "?",
            }
        ),
        ModelSection::Vector(_) => match &cfg.task {
            eggroll::tasks::TaskConfig::Benchmark(b) => format!(
                "model vector D = {} on {} searched by {}",
                b.dim,
                b.problem.name(),
                cfg.es.strategy
            ),
            _ => "model vector".into(),
        },
    }
}

fn run_on<B: eggroll_core::Backend>(
    backend: &B,
    int_kernels: Option<&dyn eggroll_core::int::DynIntKernels>,
    a: &TrainArgs,
    cfg: &RunConfig,
    out: PathBuf,
) -> Result<()> {
    let opts = TrainOptions {
        out_dir: out.clone(),
        resume: a.resume,
        stop_after: a.stop_after,
    };
    let comm = communicator();
    if comm.rank() != 0 {
        // In an MPI job the other ranks train silently; rank 0 reports for the job.
        train_run(backend, int_kernels, cfg, &opts, comm.as_ref(), &mut |_| {})
            .with_context(|| format!("training run in {}", out.display()))?;
        return Ok(());
    }
    println!(
        "eggroll train: task {} | {} N={} rank={} sigma={} | {} | {} generations | backend {} | {} threads | run dir {}",
        cfg.task.name(),
        cfg.es.strategy,
        cfg.es.population,
        cfg.es.rank,
        cfg.es.sigma,
        describe_model(cfg),
        cfg.generations,
        int_kernels.map_or_else(|| a.backend.as_str().to_string(), |k| k.backend_name()),
        rayon::current_num_threads(),
        out.display()
    );
    if comm.size() > 1 {
        println!("MPI: {} ranks share the population", comm.size());
    }
    let mut progress = Progress::new(cfg.generations, 0);
    let result = train_run(backend, int_kernels, cfg, &opts, comm.as_ref(), &mut |r| {
        progress.update(r)
    });
    progress.finish();
    let s = result.with_context(|| format!("training run in {}", out.display()))?;
    println!(
        "done: generation {}/{} in {:.1} s  {}",
        s.generation,
        cfg.generations,
        s.seconds,
        summary(&s.eval)
    );
    if !s.initial_eval.is_empty() {
        println!("at start:  {}", summary(&s.initial_eval));
    }
    if !s.baselines.is_empty() {
        println!("baselines: {}", summary(&s.baselines));
    }
    println!("run directory: {}", out.display());
    Ok(())
}

/// The processes this run is spread over: the MPI job when one was joined (feature `mpi`,
/// started by mpirun/srun), else this process alone.
fn communicator() -> Box<dyn Communicator> {
    #[cfg(feature = "mpi")]
    if let Some(world) = eggroll::dist_mpi::MpiCommunicator::world() {
        return Box::new(world);
    }
    Box::new(SingleProcess)
}
