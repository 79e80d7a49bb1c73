//! The run configuration: a TOML file, `--set key=value` overrides, validation, and the hash
//! that ties a checkpoint to its config.

use crate::error::{Error, Result};
use crate::tasks::TaskConfig;
use eggroll_core::backend::Activation;
use eggroll_core::optim::Optimizer;
use eggroll_core::schedule::{Schedule, ScheduleKind};
use eggroll_core::shaping::Shaping;
use eggroll_llm::finetune::LlamaModelConfig;
use eggroll_llm::{EggConfig, EggModelConfig};
use eggroll_populations::EsConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A whole training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Run seed: noise, initialisation, minibatches.
    #[serde(default)]
    pub seed: u64,
    /// Length of the run in generations (also the length of the lr and σ schedules).
    #[serde(default = "default_generations")]
    pub generations: u64,
    /// What is learned and how fitness is measured.
    #[serde(default)]
    pub task: TaskConfig,
    /// The model family (`kind`, default `mlp`) and its settings.
    #[serde(default)]
    pub model: ModelSection,
    /// Strategy and population.
    #[serde(default)]
    pub es: EsConfig,
    /// Optimiser.
    #[serde(default)]
    pub optimizer: Optimizer,
    /// Learning rate and its schedule.
    #[serde(default)]
    pub lr: LrConfig,
    /// Logging, evaluation and checkpoint cadence.
    #[serde(default)]
    pub run: RunSection,
}

/// The `[model]` section: which model family (`kind`) with its settings. Adding a family is a
/// variant here plus its learner in `crate::models`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSection {
    /// A multilayer perceptron whose input and output widths come from the task.
    Mlp(ModelConfig),
    /// EGG's integer-only GRU language model, trained on task `text` with `es.shaping =
    /// "pair_sign"`.
    EggGru(EggModelConfig),
    /// A pretrained Llama-family model (GGUF file), finetuned on task `reasoning`.
    Llama(LlamaModelConfig),
    /// A plain parameter vector searched by a classic strategy on task `benchmark`.
    Vector(crate::tasks::VectorConfig),
    /// A small float byte-level transformer with random seeded weights, trained from scratch
    /// on task `text` (next-byte prediction).
    ByteLlama(eggroll_llm::bytelm::ByteLlamaConfig),
}

impl Default for ModelSection {
    fn default() -> Self {
        ModelSection::Mlp(ModelConfig::default())
    }
}

impl ModelSection {
    /// The family's name, as written in `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSection::Mlp(_) => "mlp",
            ModelSection::EggGru(_) => eggroll_llm::egg::checkpoint::MODEL_KIND,
            ModelSection::Llama(_) => "llama",
            ModelSection::Vector(_) => "vector",
            ModelSection::ByteLlama(_) => "byte_llama",
        }
    }
}

/// `[model] kind = "mlp"`: the MLP's hidden shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Hidden layer widths.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Non-linearity after each hidden layer.
    #[serde(default)]
    pub activation: Activation,
    /// Whether layers have biases.
    #[serde(default = "yes")]
    pub bias: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            hidden: default_hidden(),
            activation: Activation::Tanh,
            bias: true,
        }
    }
}

/// Learning rate: start value, optional end value and schedule shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrConfig {
    /// Learning rate at generation 0.
    #[serde(default = "default_lr")]
    pub value: f64,
    /// Learning rate at the end of the run (linear/cosine schedules).
    #[serde(default)]
    pub end: Option<f64>,
    /// Schedule shape.
    #[serde(default)]
    pub schedule: ScheduleKind,
}

impl Default for LrConfig {
    fn default() -> Self {
        LrConfig {
            value: default_lr(),
            end: None,
            schedule: ScheduleKind::Constant,
        }
    }
}

impl LrConfig {
    /// The schedule over `generations`.
    pub fn schedule(&self, generations: u64) -> Schedule {
        Schedule {
            kind: self.schedule,
            start: self.value,
            end: self.end.unwrap_or(self.value),
            generations,
        }
    }
}

/// What to do when a member's fitness is NaN or infinite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NanPolicy {
    /// Stop with an error naming the generation and member; parameters are left untouched.
    #[default]
    Error,
    /// Give those members the generation's worst finite fitness (counted in `nonfinite`);
    /// an error if no member is finite.
    Worst,
}

/// Cadence of evaluation, logging and checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Evaluate the unperturbed model every this many generations (and at the end).
    #[serde(default = "default_eval_every")]
    pub eval_every: u64,
    /// Write `checkpoints/latest.safetensors` every this many generations (and at the end).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// Policy for non-finite fitness.
    #[serde(default)]
    pub nan_policy: NanPolicy,
    /// Stop early once this evaluation metric (e.g. `eval_return`) reaches `stop_value`.
    #[serde(default)]
    pub stop_metric: Option<String>,
    /// Threshold for `stop_metric` (a metric ending in `loss` must fall to it, others rise).
    #[serde(default)]
    pub stop_value: Option<f64>,
    /// Wall-clock budget: stop (evaluating and checkpointing) after the first generation that
    /// ends past this many seconds of training in this process (`eggroll compare`'s time
    /// budget). One process only: ranks could disagree on the clock.
    #[serde(default)]
    pub max_seconds: Option<f64>,
}

impl RunSection {
    /// Whether evaluation metrics meet the early-stopping target.
    pub fn target_reached(&self, eval: &[(&'static str, f64)]) -> bool {
        let (Some(metric), Some(value)) = (&self.stop_metric, self.stop_value) else {
            return false;
        };
        eval.iter().any(|(k, v)| {
            *k == metric.as_str()
                && if metric.ends_with("loss") {
                    *v <= value
                } else {
                    *v >= value
                }
        })
    }
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection {
            eval_every: default_eval_every(),
            checkpoint_every: default_checkpoint_every(),
            nan_policy: NanPolicy::Error,
            stop_metric: None,
            stop_value: None,
            max_seconds: None,
        }
    }
}

fn default_generations() -> u64 {
    500
}
fn default_hidden() -> Vec<usize> {
    vec![64]
}
fn default_lr() -> f64 {
    0.02
}
fn default_eval_every() -> u64 {
    25
}
fn default_checkpoint_every() -> u64 {
    50
}
fn yes() -> bool {
    true
}

impl RunConfig {
    /// Parse TOML text (`origin` names it in errors), apply `key=value` overrides, validate.
    pub fn from_toml(text: &str, origin: &str, overrides: &[String]) -> Result<Self> {
        let mut value: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::Config {
            origin: origin.into(),
            why: match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    // Name the key of that line when it has one (`seed = 2^64`: the value
                    // is at fault, and the message alone does not say whose).
                    let key = text
                        .lines()
                        .nth(line - 1)
                        .and_then(|l| l.split_once('='))
                        .map(|(k, _)| k.trim())
                        .filter(|k| !k.is_empty() && !k.starts_with('#') && !k.contains(' '))
                        .map_or(String::new(), |k| format!(" (key `{k}`)"));
                    format!("line {line}, column {column}{key}: {}", e.message())
                }
                None => e.message().to_string(),
            },
        })?;
        if value.contains_key(crate::config_legacy::WORKLOAD_KEY) {
            return Err(Error::Config {
                origin: origin.into(),
                why: crate::config_legacy::old_egg_form(&value),
            });
        }
        for ov in overrides {
            apply_override(&mut value, ov)?;
        }
        // `[task]` without a name means the default task, `[model]` without a kind the MLP,
        // `[optimizer]` without a name Adam (so `--set optimizer.weight_decay=…` alone works).
        for (section, key, default) in [
            ("task", "name", TaskConfig::default().name()),
            ("model", "kind", ModelSection::default().kind()),
            ("optimizer", "name", "adam"),
        ] {
            if let Some(t) = value.get_mut(section).and_then(toml::Value::as_table_mut) {
                t.entry(key)
                    .or_insert_with(|| toml::Value::String(default.into()));
            }
        }
        let de = toml::Value::Table(value);
        let cfg: RunConfig = serde_path_to_error::deserialize(de).map_err(|e| Error::Config {
            origin: origin.into(),
            why: {
                // toml appends "in `path`" lines; the path is already in front.
                let inner = e.inner().to_string();
                let first = inner.lines().next().unwrap_or_default().to_string();
                if e.path().to_string() == "." {
                    first
                } else {
                    format!("{}: {first}", e.path())
                }
            },
        })?;
        cfg.validate().map_err(|why| Error::Config {
            origin: origin.into(),
            why,
        })?;
        Ok(cfg)
    }

    /// Read a config file, apply overrides and validate.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            error: e,
        })?;
        Self::from_toml(&text, &path.display().to_string(), overrides)
    }

    /// Range checks that serde cannot express; the message names the key.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.generations == 0 {
            return Err("generations: must be at least 1".into());
        }
        let known = eggroll_populations::strategy_names();
        if !known.contains(&self.es.strategy.as_str()) {
            return Err(format!(
                "es.strategy: unknown strategy `{}` (known: {})",
                self.es.strategy,
                known.join(", ")
            ));
        }
        // Validated in the type they are used in: σ and the learning rate reach the noise and
        // the update as f32, where 1e39 is infinite.
        let f32_range = [
            ("es.sigma", Some(self.es.sigma)),
            ("es.sigma_end", self.es.sigma_end),
            ("lr.value", Some(self.lr.value)),
            ("lr.end", self.lr.end),
        ];
        for (key, v) in f32_range {
            if let Some(v) = v {
                if v.is_finite() && !(v as f32).is_finite() {
                    return Err(format!(
                        "{key}: {v} is beyond the range of f32 (about 3.4e38), the type the noise and the update compute in"
                    ));
                }
            }
        }
        self.es
            .validate(self.generations)
            .map_err(|e| e.to_string())?;
        self.optimizer.validate().map_err(|e| e.to_string())?;
        self.lr
            .schedule(self.generations)
            .validate_positive("lr")
            .map_err(|e| e.to_string())?;
        crate::tasks::check_pairing(self)?;
        match (&self.model, &self.task) {
            (ModelSection::Vector(_), _) | (_, TaskConfig::Benchmark(_)) => {}
            (ModelSection::Mlp(_), TaskConfig::Text(_)) => {
                return Err(
                    "task.name: task `text` trains a language model (set [model] kind = \"egg_gru\" or \"byte_llama\")".into(),
                )
            }
            (ModelSection::Mlp(m), _) => {
                if m.hidden.contains(&0) {
                    return Err("model.hidden: widths must be at least 1".into());
                }
            }
            (ModelSection::EggGru(_), TaskConfig::Text(_)) => self.validate_egg()?,
            (ModelSection::ByteLlama(m), TaskConfig::Text(_)) => {
                m.validate().map_err(|e| e.to_string())?;
                if matches!(self.es.shaping, Shaping::PairSign) {
                    return Err("es.shaping: pair_sign is the integer EGG model's update; a float model takes centered_rank, z_score or raw".into());
                }
            }
            (ModelSection::ByteLlama(_), task) => {
                return Err(format!(
                    "task.name: model kind byte_llama trains on task `text` (next-byte prediction on a file), not `{}`",
                    task.name()
                ))
            }
            (ModelSection::Llama(_), TaskConfig::Reasoning(_)) => {
                if matches!(self.es.shaping, Shaping::PairSign) {
                    return Err("es.shaping: pair_sign is the integer EGG model's update; a float model takes centered_rank, z_score or raw".into());
                }
            }
            (ModelSection::Llama(_), task) => {
                return Err(format!(
                    "task.name: model kind llama finetunes on task `reasoning`, not `{}`",
                    task.name()
                ))
            }
            (_, TaskConfig::Reasoning(_)) => {
                return Err(
                    "task.name: task `reasoning` finetunes a pretrained language model (set [model] kind = \"llama\" and its path)".into(),
                )
            }
            (ModelSection::EggGru(_), task) => {
                return Err(format!(
                    "task.name: model kind egg_gru trains on task `text` (next-byte prediction on a file), not `{}`",
                    task.name()
                ))
            }
        }
        if self.run.eval_every == 0 || self.run.checkpoint_every == 0 {
            return Err("run.eval_every and run.checkpoint_every must be at least 1".into());
        }
        if self.run.stop_metric.is_some() != self.run.stop_value.is_some() {
            return Err("run.stop_metric and run.stop_value must be given together".into());
        }
        if let Some(v) = self.run.stop_value {
            if !v.is_finite() {
                return Err(format!("run.stop_value: must be a finite number, not {v}"));
            }
        }
        // A noise strategy's own needs of the config (eggroll_baseline's groups), at load time.
        if !eggroll_populations::is_search_strategy(&self.es.strategy) {
            eggroll_populations::make_strategy(&self.es, self.generations)
                .map_err(|e| e.to_string())?;
        }
        self.task.validate()
    }

    /// The MLP section, when the model is an MLP.
    pub fn mlp(&self) -> Option<&ModelConfig> {
        match &self.model {
            ModelSection::Mlp(m) => Some(m),
            _ => None,
        }
    }

    /// The EGG run this config describes, when its model is `egg_gru` on task `text`.
    pub fn egg(&self) -> Option<EggConfig> {
        match (&self.model, &self.task) {
            (ModelSection::EggGru(model), TaskConfig::Text(text)) => Some(EggConfig {
                seed: self.seed,
                population: self.es.population,
                rank: self.es.rank,
                model: model.clone(),
                text: text.clone(),
            }),
            _ => None,
        }
    }

    /// What the EGG model needs of the strategy, and its own ranges.
    fn validate_egg(&self) -> std::result::Result<(), String> {
        let es = &self.es;
        if let Some(why) = egg_refuses_variant(&es.strategy) {
            return Err(format!(
                "es.strategy: `{}` cannot train the EGG model: {why}; use strategy \"eggroll\"",
                es.strategy
            ));
        }
        if es.strategy != "eggroll" || !es.antithetic {
            return Err(format!(
                "es.strategy: the EGG model is perturbed by antithetic low-rank noise (strategy \"eggroll\", antithetic = true), not `{}`{}",
                es.strategy,
                if es.antithetic { "" } else { " without antithetic pairs" }
            ));
        }
        if es.shaping != Shaping::PairSign {
            return Err(format!(
                "es.shaping: the EGG model takes integer sign steps; set shaping = \"pair_sign\" (not {:?})",
                es.shaping
            ));
        }
        if es.group_size != 1 {
            return Err("es.group_size: pair_sign shaping has no groups; leave it at 1".into());
        }
        match self.egg() {
            Some(egg) => egg.validate().map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }

    /// The fully resolved config as TOML.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Config {
            origin: "resolved config".into(),
            why: e.to_string(),
        })
    }

    /// FNV-1a hash of the resolved config without `generations` (a run may be extended).
    pub fn hash(&self) -> Result<String> {
        let mut c = self.clone();
        c.generations = 0;
        let text = c.to_toml()?;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Ok(format!("{h:016x}"))
    }
}

/// Why the integer EGG model cannot run the EGGROLL variant `strategy` (None for others).
///
/// EGG's update is integer-only: each weight steps by the sign of `Σ_k sign(f₊ − f₋)·A_k·B_kᵀ`
/// where that sum passes a z-test, with the pair signs as the only fitness, so there is no
/// float weight a baseline's `(f − f₀)/std` could set, and the z-test's threshold assumes the
/// sum of Gaussian factor products that `sign(A)·sign(B)ᵀ` would replace.
fn egg_refuses_variant(strategy: &str) -> Option<&'static str> {
    match strategy {
        "eggroll_sign" => Some(
            "its integer update thresholds Σ sign(f₊ − f₋)·A·Bᵀ with a z-test made for Gaussian factor products, not sign(A)·sign(B)ᵀ",
        ),
        "eggroll_baseline" => Some(
            "its integer update takes one sign per antithetic pair (pair_sign shaping), which leaves no place for unperturbed baseline members or (f − f₀)/std weights",
        ),
        _ => None,
    }
}

/// Apply `a.b.c=value` to a TOML table; `value` is parsed as TOML, or taken as a string.
fn apply_override(table: &mut toml::Table, ov: &str) -> Result<()> {
    let bad = |why: String| Error::Config {
        origin: format!("--set {ov}"),
        why,
    };
    let (key, raw) = ov
        .split_once('=')
        .ok_or_else(|| bad("expected key=value".into()))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(bad(format!("`{key}` is not a valid dotted key")));
    }
    let parsed = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"));
    if parsed.is_none() && raw.trim().parse::<f64>().is_ok() {
        // A number TOML cannot hold (1e400, 2^64) is not meant as a string.
        return Err(bad(format!("`{}` is out of range for `{key}`", raw.trim())));
    }
    let value = parsed.unwrap_or_else(|| toml::Value::String(raw.trim().to_string()));
    if value.is_table() {
        return Err(bad(format!(
            "a table value would replace the whole `{key}` section; set its keys one at a time (e.g. --set {key}.population=2)"
        )));
    }
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = table;
    for p in &parts[..parts.len() - 1] {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| bad(format!("`{p}` is not a table")))?;
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c =
            RunConfig::from_toml("", "t", &["es.population=64".into(), "seed=3".into()]).unwrap();
        assert_eq!(c.es.population, 64);
        assert_eq!(c.seed, 3);
        let c2 = RunConfig::from_toml(&c.to_toml().unwrap(), "t", &[]).unwrap();
        assert_eq!(c, c2);
        assert_eq!(c.hash().unwrap(), c2.hash().unwrap());
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("bogus = 1", "bogus"),
            ("[es]\npopulaton = 4", "populaton"),
            ("[es]\npopulation = \"many\"", "es.population"),
            ("[es]\nrank = 0", "es.rank"),
            ("[es]\npopulation = 7", "es.population"),
            ("[es]\nsigma = -0.1", "sigma"),
            ("[lr]\nvalue = 0", "lr"),
            ("generations = 0", "generations"),
            ("[lr]\nvalue = 1e39", "lr.value"),
            ("[es]\nsigma = 1e39", "es.sigma"),
        ];
        for (text, key) in cases {
            let err = RunConfig::from_toml(text, "cfg.toml", &[])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(key) && err.contains("cfg.toml"),
                "{text}: {err}"
            );
        }
        let err = RunConfig::from_toml("seed = 18446744073709551616\n", "big.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("big.toml") && err.contains("`seed`"), "{err}");
        let err = RunConfig::from_toml("", "c", &["es".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("key=value"), "{err}");
    }
}
