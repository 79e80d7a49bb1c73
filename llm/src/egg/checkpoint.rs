//! EGG's share of a run checkpoint: the int8 weights (`param.*`), every member's hidden state
//! (`state.hidden`), the read positions and the data fingerprint, in core's safetensors
//! [`Checkpoint`] (int8 values are exact in f32), so a resumed run continues bit-identically.
//! The training loop adds what every checkpoint holds: the run config (key `config`, whose
//! `[model]` section describes this model), the strategy state and the generation.

use crate::egg::config::{EggConfig, EggModelConfig};
use crate::egg::data::Streams;
use crate::egg::params::Weights;
use crate::error::{LlmError, Result};
use eggroll_core::checkpoint::Checkpoint;
use std::path::Path;

/// The model family's name, as in `[model] kind` and the checkpoint's `model_kind` metadata.
pub const MODEL_KIND: &str = "egg_gru";

/// Everything of an EGG run that changes as it trains.
#[derive(Clone, Debug)]
pub struct EggState {
    /// Current weights.
    pub weights: Weights,
    /// Hidden state of every member (members × layers × D).
    pub hidden: Vec<i8>,
    /// Read positions of every pair.
    pub streams: Streams,
}

/// Add `state` (trained on data with fingerprint `data_fp`) to `ck`.
pub fn save_into(ck: &mut Checkpoint, cfg: &EggConfig, state: &EggState, data_fp: u64) {
    state.weights.save_into(ck);
    let (n, l, d) = (
        cfg.population as usize,
        cfg.model.n_layers,
        cfg.model.d_model,
    );
    ck.insert(
        "state.hidden",
        vec![n, l, d],
        state.hidden.iter().map(|&v| v as f32).collect(),
    );
    ck.metadata.insert(
        "egg.positions".into(),
        serde_json::to_string(&state.streams).unwrap_or_default(),
    );
    ck.metadata
        .insert("egg.data_fingerprint".into(), format!("{data_fp:016x}"));
}

/// Read the state [`save_into`] wrote for `cfg`; returns it with the data fingerprint.
pub fn load_from(ck: &Checkpoint, cfg: &EggConfig, path: &Path) -> Result<(EggState, u64)> {
    refuse_old_layout(ck, path)?;
    let bad = |why: String| LlmError::checkpoint(path, why);
    let weights = Weights::load_from(ck, cfg.model.d_model, cfg.model.n_layers, path)?;
    let n = cfg.population as usize * cfg.model.n_layers * cfg.model.d_model;
    let hidden = ck
        .tensor("state.hidden", n, path)?
        .iter()
        .map(|&v| int8(v).ok_or_else(|| bad(format!("state.hidden holds {v}, not an int8 value"))))
        .collect::<Result<Vec<i8>>>()?;
    let streams: Streams = serde_json::from_str(ck.meta("egg.positions", path)?)
        .map_err(|e| bad(format!("egg.positions is unreadable ({e})")))?;
    if streams.pos.len() != cfg.population as usize / 2 {
        return Err(bad(format!(
            "egg.positions has {} streams, expected {}",
            streams.pos.len(),
            cfg.population / 2
        )));
    }
    let fp = u64::from_str_radix(ck.meta("egg.data_fingerprint", path)?, 16)
        .map_err(|e| bad(format!("egg.data_fingerprint is not hex ({e})")))?;
    Ok((
        EggState {
            weights,
            hidden,
            streams,
        },
        fp,
    ))
}

/// An int8 value stored as f32, if it is one.
pub fn int8(v: f32) -> Option<i8> {
    (v.fract() == 0.0 && (-127.0..=127.0).contains(&v)).then_some(v as i8)
}

/// Checkpoints of EGG's former loop (metadata `egg.model`) kept their config elsewhere.
fn refuse_old_layout(ck: &Checkpoint, path: &Path) -> Result<()> {
    if ck.metadata.contains_key("egg.model") {
        return Err(LlmError::checkpoint(
            path,
            "was written by an older eggroll (EGG's own checkpoint layout, before the one training loop); train the run again",
        ));
    }
    Ok(())
}

/// The `[model]` section of a run checkpoint's embedded config, when it describes an EGG model.
pub fn model_config(ck: &Checkpoint, path: &Path) -> Result<EggModelConfig> {
    refuse_old_layout(ck, path)?;
    let bad = |why: String| LlmError::checkpoint(path, why);
    let kind = ck.metadata.get("model_kind").map_or("mlp", String::as_str);
    if kind != MODEL_KIND {
        return Err(bad(format!(
            "holds a `{kind}` model, not an EGG language model ({MODEL_KIND})"
        )));
    }
    let config: toml::Table = ck
        .meta("config", path)?
        .parse()
        .map_err(|e: toml::de::Error| bad(format!("embedded config is unreadable ({e})")))?;
    let mut model = config
        .get("model")
        .and_then(toml::Value::as_table)
        .cloned()
        .ok_or_else(|| bad("embedded config has no [model] section".into()))?;
    model.remove("kind");
    model
        .try_into()
        .map_err(|e: toml::de::Error| bad(format!("embedded [model] is invalid ({})", e.message())))
}

/// Read a run checkpoint's model config and weights (for sampling).
pub fn load_model(path: &Path) -> Result<(EggModelConfig, Weights)> {
    let ck = Checkpoint::load(path)?;
    let model = model_config(&ck, path)?;
    let probe = EggConfig {
        model: model.clone(),
        ..EggConfig::default()
    };
    probe
        .validate()
        .map_err(|e| LlmError::checkpoint(path, format!("embedded [model] is invalid ({e})")))?;
    let w = Weights::load_from(&ck, model.d_model, model.n_layers, path)?;
    Ok((model, w))
}
