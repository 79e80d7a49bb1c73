//! `eggroll eval CHECKPOINT`

use anyhow::{bail, Context, Result};
use clap::Args;
use eggroll::run_state::{from_checkpoint, RunState};
use eggroll::tasks::TaskConfig;
use eggroll::train::model_config;
use eggroll::RunConfig;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::cpu::Cpu;
use std::path::{Path, PathBuf};

/// Arguments of `eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A checkpoint file (`RUN/checkpoints/latest.safetensors`) or a run directory.
    pub checkpoint: PathBuf,
    /// RL tasks: evaluate over this many episodes (reports mean ± std return).
    #[arg(long)]
    pub episodes: Option<usize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A checkpoint file from a file or run-directory argument.
pub fn checkpoint_path(arg: &Path) -> PathBuf {
    if arg.is_dir() {
        eggroll::train::latest_checkpoint(arg)
    } else {
        arg.to_path_buf()
    }
}

/// Load a checkpoint's embedded config and its model (CPU backend).
pub fn load_run(path: &Path) -> Result<(RunConfig, RunState<Cpu>)> {
    let ck = Checkpoint::load(path)?;
    let cfg_text = ck.meta("config", path)?;
    let cfg = RunConfig::from_toml(
        cfg_text,
        &format!("{} (embedded config)", path.display()),
        &[],
    )?;
    let task = cfg.task.build::<Cpu>(cfg.seed)?;
    let state = from_checkpoint(
        &Cpu::new(),
        &cfg,
        model_config::<Cpu>(&cfg, &*task),
        &ck,
        path,
    )
    .with_context(|| format!("loading {}", path.display()))?;
    Ok((cfg, state))
}

/// Run `eval`.
pub fn run(a: EvalArgs) -> Result<()> {
    let path = checkpoint_path(&a.checkpoint);
    let (mut cfg, state) = load_run(&path)?;
    if let Some(n) = a.episodes {
        match &mut cfg.task {
            TaskConfig::Rl(rl) if n > 0 => rl.eval_episodes = n,
            TaskConfig::Rl(_) => bail!("--episodes must be at least 1"),
            other => bail!(
                "--episodes applies to RL tasks; this checkpoint's task is `{}`",
                other.name()
            ),
        }
    }
    let task = cfg.task.build::<Cpu>(cfg.seed)?;
    let metrics = task.evaluate(&Cpu::new(), &state.model)?;
    if a.json {
        let mut m = serde_json::Map::new();
        m.insert("generation".into(), state.strategy.generation.into());
        for (k, v) in &metrics {
            m.insert((*k).into(), serde_json::json!(v));
        }
        println!("{}", serde_json::Value::Object(m));
        return Ok(());
    }
    println!(
        "{} at generation {}:",
        path.display(),
        state.strategy.generation
    );
    let get = |k: &str| metrics.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    if let (Some(mean), Some(std), TaskConfig::Rl(rl)) =
        (get("eval_return"), get("eval_return_std"), &cfg.task)
    {
        println!(
            "  return over {} episodes of {}: {mean:.2} ± {std:.2}",
            rl.eval_episodes, rl.env
        );
        return Ok(());
    }
    for (k, v) in &metrics {
        println!("  {k}: {v:.6}");
    }
    Ok(())
}
