//! `eggroll render CHECKPOINT --out episode.gif`

use super::eval::checkpoint_path;
use anyhow::{bail, Result};
use clap::Args;
use eggroll::tasks::{rl::play_episode, RlTask, TaskConfig};
use eggroll_core::cpu::Cpu;
use std::path::PathBuf;

/// Arguments of `render`.
#[derive(Args, Debug)]
pub struct RenderArgs {
    /// A checkpoint file or run directory of an RL run.
    pub checkpoint: PathBuf,
    /// Output GIF.
    #[arg(long, default_value = "episode.gif")]
    pub out: PathBuf,
    /// Seed of the episode's initial state.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frames per second (default: the environment's own rate).
    #[arg(long)]
    pub fps: Option<u32>,
}

/// Run `render`.
pub fn run(a: RenderArgs) -> Result<()> {
    let path = checkpoint_path(&a.checkpoint);
    let (cfg, ck) = eggroll::models::load_checkpoint(&path)?;
    let TaskConfig::Rl(rl) = &cfg.task else {
        bail!(
            "render draws RL episodes; this checkpoint's task is `{}`",
            cfg.task.name()
        );
    };
    let model = eggroll::models::load_mlp(&cfg, &ck, &path)?;
    let task = RlTask::new(rl.clone(), cfg.seed)?;
    if let Some(json) = ck.metadata.get("task_state") {
        // The observation statistics the policy was trained with.
        eggroll::tasks::Task::<Cpu, eggroll_core::mlp::Mlp<Cpu>>::load_state_json(&task, json)?;
    }
    let trace = play_episode(&task, &Cpu::new(), &model, a.seed)?;
    let opts = eggroll::render::RenderOptions {
        fps: a.fps,
        ..Default::default()
    };
    eggroll::render::render_gif(&rl.env, &trace.states, &trace.actions, &a.out, &opts)?;
    println!(
        "{}: {} steps, return {:.2} -> {}",
        rl.env,
        trace.actions.len(),
        trace.total_return,
        a.out.display()
    );
    Ok(())
}
