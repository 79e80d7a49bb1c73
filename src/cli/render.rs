//! `eggroll render CHECKPOINT --out episode.gif`

use super::eval::checkpoint_path;
use anyhow::{bail, Context, Result};
use clap::Args;
use eggroll::tasks::{rl::play_episode, RlTask, TaskConfig};
use eggroll_core::cpu::Cpu;
use std::path::{Path, PathBuf};

/// Arguments of `render`.
#[derive(Args, Debug)]
pub struct RenderArgs {
    /// A checkpoint file or run directory of an RL run.
    pub checkpoint: PathBuf,
    /// Output GIF (a directory, or a path ending in `/`: DIR/episode.gif).
    #[arg(long, default_value = DEFAULT_NAME)]
    pub out: PathBuf,
    /// Seed of the episode's initial state.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frames per second (default: the environment's own rate).
    #[arg(long)]
    pub fps: Option<u32>,
}

/// The GIF's file name when `--out` is a directory.
const DEFAULT_NAME: &str = "episode.gif";

/// The file `--out out` names: `out` itself, or `out/episode.gif` when `out` is an existing
/// directory or ends in a path separator (a directory yet to be made).
fn gif_path(out: &Path) -> PathBuf {
    let text = out.as_os_str().to_string_lossy();
    if out.is_dir() || text.ends_with(std::path::is_separator) {
        out.join(DEFAULT_NAME)
    } else {
        out.to_path_buf()
    }
}

/// Run `render`.
pub fn run(a: RenderArgs) -> Result<()> {
    let out = gif_path(&a.out);
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
    eggroll::render::render_gif(&rl.env, &trace.states, &trace.actions, &out, &opts)
        .with_context(|| format!("--out {}", a.out.display()))?;
    println!(
        "{}: {} steps, return {:.2} -> {}",
        rl.env,
        trace.actions.len(),
        trace.total_return,
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_out_gets_the_default_name() {
        let dir = std::env::temp_dir().join(format!("eggroll-render-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        assert_eq!(gif_path(&dir), dir.join(DEFAULT_NAME));
        let missing = dir.join("new");
        assert_eq!(gif_path(&missing), missing);
        let slash = PathBuf::from(format!("{}/", missing.display()));
        assert_eq!(gif_path(&slash), missing.join(DEFAULT_NAME));
        assert_eq!(gif_path(Path::new("ep.gif")), PathBuf::from("ep.gif"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
