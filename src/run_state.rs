//! What a checkpoint holds for an MLP run, and turning it back into a model and optimiser.

use crate::config::RunConfig;
use crate::error::{Error, Result};
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::mlp::{Mlp, MlpConfig};
use eggroll_core::model::OptimState;
use eggroll_core::{Backend, Model};
use eggroll_populations::StrategyState;
use std::path::Path;

/// Everything needed to continue a run exactly.
pub struct RunState<B: Backend> {
    /// The model.
    pub model: Mlp<B>,
    /// Optimiser buffers per tensor.
    pub optim: OptimState<B>,
    /// Strategy state (next generation).
    pub strategy: StrategyState,
}

/// Build a checkpoint of `state` for `cfg`.
pub fn to_checkpoint<B: Backend>(
    backend: &B,
    cfg: &RunConfig,
    state: &RunState<B>,
) -> Result<Checkpoint> {
    let mut ck = Checkpoint::default();
    for (i, spec) in state.model.specs().iter().enumerate() {
        let data = backend.download(&state.model.params()[i])?;
        ck.insert(format!("params.{}", spec.name), spec.shape.dims(), data);
        for (slot, buf) in state.optim[i].iter().enumerate() {
            ck.insert(
                format!("optim.{slot}.{}", spec.name),
                spec.shape.dims(),
                backend.download(buf)?,
            );
        }
    }
    ck.metadata
        .insert("generation".into(), state.strategy.generation.to_string());
    ck.metadata.insert("config_hash".into(), cfg.hash()?);
    ck.metadata.insert("config".into(), cfg.to_toml()?);
    ck.metadata
        .insert("strategy_state".into(), to_json(&state.strategy)?);
    ck.metadata
        .insert("model".into(), to_json(state.model.config())?);
    Ok(ck)
}

/// Restore a run from a checkpoint, checking it belongs to `cfg`.
pub fn from_checkpoint<B: Backend>(
    backend: &B,
    cfg: &RunConfig,
    model_cfg: MlpConfig,
    ck: &Checkpoint,
    path: &Path,
) -> Result<RunState<B>> {
    let bad = |why: String| {
        Error::Core(eggroll_core::CoreError::Checkpoint {
            path: path.display().to_string(),
            why,
        })
    };
    let hash = ck.meta("config_hash", path)?;
    if hash != cfg.hash()? {
        return Err(bad(format!(
            "was written by a different config (hash {hash}, this config {}); resume with the run's own config.toml",
            cfg.hash()?
        )));
    }
    let strategy: StrategyState = serde_json::from_str(ck.meta("strategy_state", path)?)
        .map_err(|e| bad(format!("strategy_state: {e}")))?;
    let generation = ck.meta("generation", path)?;
    if generation != strategy.generation.to_string() {
        return Err(bad(format!(
            "metadata `generation` ({generation}) disagrees with strategy_state's generation ({})",
            strategy.generation
        )));
    }
    if strategy.seed != cfg.seed {
        return Err(bad(format!(
            "strategy_state's seed ({}) is not the config's seed ({})",
            strategy.seed, cfg.seed
        )));
    }
    let specs = model_cfg.specs()?;
    let mut host = Vec::new();
    let mut optim = Vec::new();
    let slots = cfg.optimizer.state_slots();
    for spec in &specs {
        let n = spec.shape.numel();
        host.push(
            ck.tensor(&format!("params.{}", spec.name), n, path)?
                .to_vec(),
        );
        let mut st = Vec::new();
        for slot in 0..slots {
            let data = ck.tensor(&format!("optim.{slot}.{}", spec.name), n, path)?;
            st.push(backend.upload(data)?);
        }
        optim.push(st);
    }
    if let Some(i) = host.iter().flatten().position(|v| !v.is_finite()) {
        return Err(bad(format!("parameter element {i} is not finite")));
    }
    Ok(RunState {
        model: Mlp::from_host(backend, model_cfg, &host)?,
        optim,
        strategy,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Config {
        origin: "checkpoint metadata".into(),
        why: e.to_string(),
    })
}
