//! Building the EGG language model's learner (`eggroll-llm`) from a run config: its `[model]`
//! and `[task]` sections, and the data file the task names.

use crate::config::RunConfig;
use crate::error::{Error, Result};
use eggroll_core::int::DynIntKernels;
use eggroll_llm::EggLearner;

/// The EGG learner of `cfg` (model `egg_gru` on task `text`), its matrix products on
/// `kernels` (`None`: the CPU).
pub fn egg_learner<'k>(
    cfg: &RunConfig,
    kernels: Option<&'k dyn DynIntKernels>,
) -> Result<EggLearner<'k>> {
    let egg = cfg.egg().ok_or_else(|| Error::Config {
        origin: "model.kind".into(),
        why: "the EGG model trains on task `text`".into(),
    })?;
    let data = std::fs::read(&egg.text.data).map_err(|e| Error::Io {
        path: format!(
            "task.data {} (for the Shakespeare corpus run scripts/fetch_shakespeare.sh)",
            egg.text.data
        ),
        error: e,
    })?;
    Ok(EggLearner::new(egg, &data, kernels)?)
}
