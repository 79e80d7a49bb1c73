//! Building the from-scratch byte-level transformer's learner (`[model] kind = "byte_llama"`,
//! `[task] name = "text"`): the model from its shape and the run seed, its projections
//! trained, and the next-byte task, bound into the float learner like every float model.
//! Runs on the CPU backend (the transformer's attention, norms and rotary embeddings have
//! CPU implementations only).

use super::float::FloatLearner;
use super::llama::RootTask;
use crate::config::{ModelSection, RunConfig};
use crate::error::{Error, Result};
use crate::tasks::TaskConfig;
use eggroll_core::cpu::Cpu;
use eggroll_llm::bytelm::ByteLmTask;
use eggroll_llm::llama::Llama;

/// The model and task of a `byte_llama` run: random weights from the run seed, and the text
/// task on `task.data`.
pub fn byte_llama_parts(cfg: &RunConfig) -> Result<(Llama, ByteLmTask)> {
    let (ModelSection::ByteLlama(m), TaskConfig::Text(t)) = (&cfg.model, &cfg.task) else {
        return Err(Error::Config {
            origin: "model.kind".into(),
            why: "model kind byte_llama trains on task `text`".into(),
        });
    };
    let task = ByteLmTask::new(t, cfg.seed).map_err(|e| Error::Config {
        origin: "task.data".into(),
        why: format!("{e} (the Shakespeare corpus: run scripts/fetch_shakespeare.sh)"),
    })?;
    Ok((m.build(cfg.seed)?, task))
}

/// The learner of a `byte_llama` run on `cpu`.
pub fn byte_llama_learner<'a>(
    cpu: &'a Cpu,
    cfg: &RunConfig,
) -> Result<FloatLearner<'a, Cpu, Llama>> {
    let (model, task) = byte_llama_parts(cfg)?;
    FloatLearner::new(cpu, "byte_llama", model, Box::new(RootTask(task)), cfg)
}
