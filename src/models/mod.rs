//! The model families a run can train, chosen by `[model] kind`: the registry that builds each
//! family's [`Learner`] and hands it to the one training loop ([`crate::train::run_loop`]),
//! and loading any run checkpoint back into its learner (for `eval`).
//!
//! Adding a family: its crate (or folder) provides a `Learner` (float models: a
//! `eggroll_core::Model` plus a `Task`, wrapped in [`FloatLearner`]); here it takes one
//! `ModelSection` variant and one line in each `match` below.

mod byte_llama;
mod egg;
mod float;
mod llama;
mod vector;

pub use byte_llama::{byte_llama_learner, byte_llama_parts};
pub use egg::egg_learner;
pub use float::{model_config, FloatLearner};
pub use llama::{llama_learner, load_llama, BASE_SHA256};
pub use vector::VectorLearner;

use crate::config::{ModelSection, RunConfig};
use crate::dist::Communicator;
use crate::error::{Error, Result};
use crate::run_state::check_kind;
use crate::train::{run_loop, GenerationReport, TrainOptions, TrainSummary};
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::cpu::Cpu;
use eggroll_core::int::DynIntKernels;
use eggroll_core::learner::Learner;
use eggroll_core::mlp::Mlp;
use eggroll_core::task::Metrics;
use eggroll_core::Backend;
use std::path::Path;

/// Train `cfg` with its model family: float models on `backend`, the EGG model's matrix
/// products on `int_kernels` (`None`: the CPU), sharded over `comm`'s processes.
pub fn train_run<B: Backend>(
    backend: &B,
    int_kernels: Option<&dyn DynIntKernels>,
    cfg: &RunConfig,
    opts: &TrainOptions,
    comm: &dyn Communicator,
    progress: &mut dyn FnMut(&GenerationReport),
) -> Result<TrainSummary> {
    match &cfg.model {
        ModelSection::Mlp(_) => run_loop(
            &mut FloatLearner::mlp(backend, cfg)?,
            cfg,
            opts,
            comm,
            progress,
        ),
        ModelSection::EggGru(_) => run_loop(
            &mut egg_learner(cfg, int_kernels)?,
            cfg,
            opts,
            comm,
            progress,
        ),
        ModelSection::Llama(_) | ModelSection::ByteLlama(_) => {
            if backend.name() != "cpu" {
                return Err(Error::Config {
                    origin: "backend".into(),
                    why: format!(
                        "model kind {} runs on the cpu backend only (its attention, norms and rotary embeddings have no {} kernels yet)",
                        cfg.model.kind(),
                        backend.name()
                    ),
                });
            }
            let cpu = Cpu::new();
            let mut learner = match cfg.model {
                ModelSection::Llama(_) => llama_learner(&cpu, cfg)?,
                _ => byte_llama_learner(&cpu, cfg)?,
            };
            run_loop(&mut learner, cfg, opts, comm, progress)
        }
        // A host-side vector: the backend has nothing to do.
        ModelSection::Vector(_) => {
            run_loop(&mut VectorLearner::new(cfg)?, cfg, opts, comm, progress)
        }
    }
}

/// A run checkpoint's embedded config (key `config`) with the checkpoint itself.
pub fn load_checkpoint(path: &Path) -> Result<(RunConfig, Checkpoint)> {
    let ck = Checkpoint::load(path)?;
    let text = ck.meta("config", path)?;
    let origin = format!("{} (embedded config)", path.display());
    let cfg = RunConfig::from_toml(text, &origin, &[])?;
    Ok((cfg, ck))
}

/// The generation a checkpoint was written after.
pub fn checkpoint_generation(ck: &Checkpoint, path: &Path) -> Result<u64> {
    let g = ck.meta("generation", path)?;
    g.parse().map_err(|_| {
        Error::Core(eggroll_core::CoreError::Checkpoint {
            path: path.display().to_string(),
            why: format!("metadata `generation` is `{g}`, not a number"),
        })
    })
}

/// Evaluate the model of checkpoint `ck` (at `path`) as `cfg` says (its embedded config, or
/// that with changed evaluation settings), on the CPU.
pub fn evaluate_checkpoint(cfg: &RunConfig, ck: &Checkpoint, path: &Path) -> Result<Metrics> {
    fn load_and_evaluate<L: Learner>(mut l: L, ck: &Checkpoint, path: &Path) -> Result<Metrics>
    where
        Error: From<L::Error>,
    {
        check_kind(ck, path, l.kind())?;
        l.load(ck, path)?;
        Ok(l.evaluate()?)
    }
    let cpu = Cpu::new();
    match &cfg.model {
        ModelSection::Mlp(_) => load_and_evaluate(FloatLearner::mlp(&cpu, cfg)?, ck, path),
        ModelSection::EggGru(_) => load_and_evaluate(egg_learner(cfg, None)?, ck, path),
        ModelSection::Llama(_) => load_and_evaluate(llama_learner(&cpu, cfg)?, ck, path),
        ModelSection::ByteLlama(_) => load_and_evaluate(byte_llama_learner(&cpu, cfg)?, ck, path),
        ModelSection::Vector(_) => load_and_evaluate(VectorLearner::new(cfg)?, ck, path),
    }
}

/// The MLP of an MLP run's checkpoint, on the CPU.
pub fn load_mlp(cfg: &RunConfig, ck: &Checkpoint, path: &Path) -> Result<Mlp<Cpu>> {
    let cpu = Cpu::new();
    let mut l = FloatLearner::mlp(&cpu, cfg)?;
    check_kind(ck, path, l.kind())?;
    l.load(ck, path)?;
    Ok(l.into_model())
}
