//! EGG checkpoints: the int8 weights, every member's hidden state, the read positions and the
//! generation, in core's safetensors [`Checkpoint`] (int8 values are exact in f32), so a
//! resumed run continues bit-identically.

use crate::config::EggConfig;
use crate::data::Streams;
use crate::error::{LlmError, Result};
use crate::params::Weights;
use eggroll_core::checkpoint::Checkpoint;
use std::path::Path;

/// Metadata value naming this model family.
pub const MODEL_TAG: &str = "egg-gru-v1";

/// Everything a run needs to continue.
#[derive(Clone, Debug)]
pub struct TrainState {
    /// Current weights.
    pub weights: Weights,
    /// Hidden state of every member (members × layers × D).
    pub hidden: Vec<i8>,
    /// Read positions of every pair.
    pub streams: Streams,
    /// Completed generations.
    pub generation: u64,
    /// Training wall time so far, seconds.
    pub elapsed: f64,
}

/// Write `state` atomically to `path`.
pub fn save(path: &Path, cfg: &EggConfig, state: &TrainState, data_fp: u64) -> Result<()> {
    let mut c = Checkpoint::default();
    state.weights.save_into(&mut c);
    let (n, l, d) = (cfg.population as usize, cfg.n_layers, cfg.d_model);
    c.insert(
        "state.hidden",
        vec![n, l, d],
        state.hidden.iter().map(|&v| v as f32).collect(),
    );
    c.metadata.insert("egg.model".into(), MODEL_TAG.into());
    c.metadata.insert("egg.config".into(), json(cfg));
    c.metadata
        .insert("egg.positions".into(), json(&state.streams));
    c.metadata
        .insert("egg.generation".into(), state.generation.to_string());
    c.metadata
        .insert("egg.elapsed".into(), format!("{}", state.elapsed));
    c.metadata
        .insert("egg.data_fingerprint".into(), format!("{data_fp:016x}"));
    c.metadata
        .insert("generation".into(), state.generation.to_string());
    c.save_atomic(path)?;
    Ok(())
}

/// Serialise to a JSON string (serde_json cannot fail on these plain structs).
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Read a checkpoint's config and weights (for sampling).
pub fn load_model(path: &Path) -> Result<(EggConfig, Weights, Checkpoint)> {
    let c = Checkpoint::load(path)?;
    match c.metadata.get("egg.model").map(String::as_str) {
        Some(MODEL_TAG) => {}
        Some(other) => {
            return Err(LlmError::checkpoint(
                path,
                format!("model `{other}` is not {MODEL_TAG}"),
            ))
        }
        None => {
            return Err(LlmError::checkpoint(
                path,
                "not an EGG language-model checkpoint (no egg.model metadata)",
            ))
        }
    }
    let cfg: EggConfig = serde_json::from_str(c.meta("egg.config", path)?)
        .map_err(|e| LlmError::checkpoint(path, format!("egg.config is unreadable ({e})")))?;
    cfg.validate()
        .map_err(|e| LlmError::checkpoint(path, format!("egg.config is invalid ({e})")))?;
    let w = Weights::load_from(&c, cfg.d_model, cfg.n_layers, path)?;
    Ok((cfg, w, c))
}

/// Read a full training state; returns the checkpoint's config and data fingerprint too.
pub fn load_state(path: &Path) -> Result<(EggConfig, TrainState, u64)> {
    let (cfg, weights, c) = load_model(path)?;
    let bad = |why: String| LlmError::checkpoint(path, why);
    let n = cfg.population as usize * cfg.n_layers * cfg.d_model;
    let hidden = c
        .tensor("state.hidden", n, path)?
        .iter()
        .map(|&v| {
            if v.fract() == 0.0 && (-127.0..=127.0).contains(&v) {
                Ok(v as i8)
            } else {
                Err(bad(format!("state.hidden holds {v}, not an int8 value")))
            }
        })
        .collect::<Result<Vec<i8>>>()?;
    let streams: Streams = serde_json::from_str(c.meta("egg.positions", path)?)
        .map_err(|e| bad(format!("egg.positions is unreadable ({e})")))?;
    if streams.pos.len() != cfg.population as usize / 2 {
        return Err(bad(format!(
            "egg.positions has {} streams, expected {}",
            streams.pos.len(),
            cfg.population / 2
        )));
    }
    let generation = c
        .meta("egg.generation", path)?
        .parse::<u64>()
        .map_err(|e| bad(format!("egg.generation is not a number ({e})")))?;
    let elapsed = c
        .meta("egg.elapsed", path)?
        .parse::<f64>()
        .map_err(|e| bad(format!("egg.elapsed is not a number ({e})")))?;
    let fp = u64::from_str_radix(c.meta("egg.data_fingerprint", path)?, 16)
        .map_err(|e| bad(format!("egg.data_fingerprint is not hex ({e})")))?;
    Ok((
        cfg,
        TrainState {
            weights,
            hidden,
            streams,
            generation,
            elapsed,
        },
        fp,
    ))
}
