//! The one checkpoint layout of every run: what the loop writes beside the learner's own
//! tensors (the resolved config under `config`, its hash, the model kind, the strategy state
//! and the generation), and the checks made when a checkpoint is resumed.

use crate::config::RunConfig;
use crate::error::{Error, Result};
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::learner::Learner;
use eggroll_populations::StrategyState;
use std::collections::BTreeMap;
use std::path::Path;

/// A checkpoint of `learner` at `strategy`'s generation, run with `cfg`.
pub fn to_checkpoint<L: Learner>(
    cfg: &RunConfig,
    strategy: &StrategyState,
    learner: &L,
) -> Result<Checkpoint>
where
    Error: From<L::Error>,
{
    let mut ck = Checkpoint::default();
    learner.save(&mut ck)?;
    let meta = &mut ck.metadata;
    meta.insert("generation".into(), strategy.generation.to_string());
    meta.insert("config_hash".into(), cfg.hash()?);
    meta.insert("config".into(), cfg.to_toml()?);
    meta.insert("model_kind".into(), learner.kind().into());
    meta.insert("strategy_state".into(), to_json(strategy)?);
    Ok(ck)
}

/// Restore `learner` from `ck` (at `path`), checking the checkpoint belongs to `cfg`; returns
/// the strategy state to continue from.
pub fn from_checkpoint<L: Learner>(
    cfg: &RunConfig,
    ck: &Checkpoint,
    path: &Path,
    learner: &mut L,
) -> Result<StrategyState>
where
    Error: From<L::Error>,
{
    let bad = |why: String| {
        Error::Core(eggroll_core::CoreError::Checkpoint {
            path: path.display().to_string(),
            why,
        })
    };
    check_kind(ck, path, learner.kind())?;
    let hash = ck.meta("config_hash", path)?;
    if hash != cfg.hash()? {
        let keys = changed_keys(ck.meta("config", path)?, &cfg.to_toml()?);
        return Err(bad(format!(
            "was written by a different config ({}); resume with the run's own config.toml",
            if keys.is_empty() {
                format!("hash {hash}, this config {}", cfg.hash()?)
            } else {
                format!("changed: {}", keys.join(", "))
            }
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
    learner.load(ck, path)?;
    Ok(strategy)
}

/// Refuse a checkpoint of another model family than `kind` (checkpoints from before
/// `model_kind` was written hold MLPs).
pub fn check_kind(ck: &Checkpoint, path: &Path, kind: &str) -> Result<()> {
    let have = ck.metadata.get("model_kind").map_or("mlp", String::as_str);
    if have != kind {
        return Err(Error::Core(eggroll_core::CoreError::Checkpoint {
            path: path.display().to_string(),
            why: format!("holds a `{have}` model, but the config trains `{kind}`"),
        }));
    }
    Ok(())
}

/// The dotted keys whose values differ between two resolved configs (`generations` aside,
/// which a resumed run may change).
fn changed_keys(old: &str, new: &str) -> Vec<String> {
    fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let parse = |text: &str| {
        let mut out = BTreeMap::new();
        if let Ok(t) = text.parse::<toml::Table>() {
            flatten("", &toml::Value::Table(t), &mut out);
        }
        out
    };
    let (a, b) = (parse(old), parse(new));
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| *k != "generations" && a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Config {
        origin: "checkpoint metadata".into(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_name_what_differs() {
        let a = "seed = 1\n[es]\nsigma = 0.1\nrank = 2\n[run]\neval_every = 5\n";
        let b = "seed = 1\ngenerations = 9\n[es]\nsigma = 0.2\nrank = 2\n[run]\neval_every = 5\nnan_policy = \"worst\"\n";
        assert_eq!(changed_keys(a, b), vec!["es.sigma", "run.nan_policy"]);
    }
}
