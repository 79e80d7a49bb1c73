//! `eggroll train [CONFIG] …`

use super::progress::{summary, Progress};
use super::BackendName;
use anyhow::{Context, Result};
use clap::Args;
use eggroll::train::{latest_checkpoint, train, TrainOptions};
use eggroll::RunConfig;
use eggroll_core::cpu::Cpu;
use std::path::PathBuf;

/// Arguments of `train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// TOML config (omit for the built-in default: digits classification, ~1 minute).
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
    let (cfg, name) = match &a.config {
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
    let BackendName::Cpu = a.backend;
    let backend = Cpu;
    let task = cfg.task.build(cfg.seed)?;
    println!(
        "eggroll train: task {} | {} N={} rank={} sigma={} | model hidden {:?} | {} generations | backend {} | {} threads | run dir {}",
        cfg.task.name(),
        cfg.es.strategy,
        cfg.es.population,
        cfg.es.rank,
        cfg.es.sigma,
        cfg.model.hidden,
        cfg.generations,
        a.backend_name(),
        rayon::current_num_threads(),
        out.display()
    );
    let opts = TrainOptions {
        out_dir: out.clone(),
        resume: a.resume,
        stop_after: a.stop_after,
    };
    let mut progress = Progress::new(cfg.generations, 0);
    let result = train(&backend, &cfg, &task, &opts, &mut |r| progress.update(r));
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
    println!("run directory: {}", out.display());
    Ok(())
}

impl TrainArgs {
    fn backend_name(&self) -> &'static str {
        match self.backend {
            BackendName::Cpu => "cpu",
        }
    }
}
