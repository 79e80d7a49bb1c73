//! `eggroll eval CHECKPOINT`

use anyhow::{Context, Result};
use clap::Args;
use eggroll::run_state::from_checkpoint;
use eggroll::tasks::Task;
use eggroll::train::model_config;
use eggroll::RunConfig;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::cpu::Cpu;
use std::path::PathBuf;

/// Arguments of `eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A checkpoint file (`RUN/checkpoints/latest.safetensors`) or a run directory.
    pub checkpoint: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Run `eval`.
pub fn run(a: EvalArgs) -> Result<()> {
    let path = if a.checkpoint.is_dir() {
        eggroll::train::latest_checkpoint(&a.checkpoint)
    } else {
        a.checkpoint.clone()
    };
    let ck = Checkpoint::load(&path)?;
    let cfg_text = ck.meta("config", &path)?;
    let cfg = RunConfig::from_toml(
        cfg_text,
        &format!("{} (embedded config)", path.display()),
        &[],
    )?;
    let task = cfg.task.build(cfg.seed)?;
    let state = from_checkpoint(&Cpu, &cfg, model_config::<Cpu>(&cfg, &task), &ck, &path)
        .with_context(|| format!("loading {}", path.display()))?;
    let metrics = task.evaluate(&Cpu, &state.model)?;
    if a.json {
        let mut m = serde_json::Map::new();
        m.insert("generation".into(), state.strategy.generation.into());
        for (k, v) in &metrics {
            m.insert((*k).into(), serde_json::json!(v));
        }
        println!("{}", serde_json::Value::Object(m));
    } else {
        println!(
            "{} at generation {}:",
            path.display(),
            state.strategy.generation
        );
        for (k, v) in &metrics {
            println!("  {k}: {v:.6}");
        }
    }
    Ok(())
}
