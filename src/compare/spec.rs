//! The comparison file of `eggroll compare`: a base training config, the methods (each the
//! base with some keys changed), the budget every method gets, and the metric to judge by.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `[compare]` section.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CompareSection {
    /// The training config every method starts from (relative to the comparison file).
    pub base: PathBuf,
    /// The metric to judge by (default: the base run's evaluation figure).
    #[serde(default)]
    pub metric: Option<String>,
    /// Wall-clock seconds of training per method (with `budget_evaluations`, whichever ends
    /// first).
    #[serde(default)]
    pub budget_seconds: Option<f64>,
    /// Model evaluations per method: ES spends `es.population` per generation.
    #[serde(default)]
    pub budget_evaluations: Option<u64>,
    /// Singular values above this fraction of the largest count towards an update's rank.
    #[serde(default = "default_rank_tolerance")]
    pub rank_tolerance: f64,
    /// Config keys changed from the base for every method (before each method's own `set`).
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
}

fn default_rank_tolerance() -> f64 {
    1e-3
}

/// How a method trains.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    /// An ES run of the training loop (`eggroll`, `open_es`, … as `es.strategy` says).
    #[default]
    Es,
    /// GRPO on the gradient model (LoRA or full finetuning), for a base config with a Llama
    /// model on the reasoning task; settings in the method's `grpo` table.
    Grpo,
    /// A gradient method (Adam, LoRA, ReLoRA, PeriodicLoRA) on next-byte cross-entropy, for a
    /// base config with a `byte_llama` model on the text task; settings in the method's
    /// `gradient` table.
    Gradient,
}

/// One `[[method]]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MethodSpec {
    /// The method's name: its run directory and legend entry.
    pub name: String,
    /// How it trains.
    #[serde(default)]
    pub kind: MethodKind,
    /// Config keys changed from the base (`"es.strategy" = "open_es"`).
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    /// GRPO's settings (kind `grpo` only; every key has a default).
    #[serde(default)]
    pub grpo: Option<super::grpo_method::GrpoMethodConfig>,
    /// The gradient method's settings (kind `gradient` only; every key has a default).
    #[serde(default)]
    pub gradient: Option<super::gradient_method::GradientMethodConfig>,
}

/// A whole comparison file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CompareSpec {
    /// Budget, base and metric.
    pub compare: CompareSection,
    /// The methods, in report order.
    #[serde(rename = "method")]
    pub methods: Vec<MethodSpec>,
    /// The folder the comparison file is in (relative paths start there).
    #[serde(skip)]
    pub dir: PathBuf,
}

impl CompareSpec {
    /// Read and check `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::Io {
            path: path.display().to_string(),
            error,
        })?;
        let mut spec = Self::parse(&text, &path.display().to_string())?;
        spec.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(spec)
    }

    /// Parse and check the text of a comparison file named `origin`.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let bad = |why: String| Error::Config {
            origin: origin.into(),
            why,
        };
        let spec: CompareSpec = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        let c = &spec.compare;
        if c.budget_seconds.is_none() && c.budget_evaluations.is_none() {
            return Err(bad(
                "compare: set budget_seconds or budget_evaluations (or both): every method gets the same budget".into(),
            ));
        }
        if let Some(s) = c.budget_seconds {
            if !(s > 0.0 && s.is_finite()) {
                return Err(bad(format!(
                    "compare.budget_seconds: {s} is not a positive number"
                )));
            }
        }
        if c.budget_evaluations == Some(0) {
            return Err(bad("compare.budget_evaluations: must be at least 1".into()));
        }
        if !(c.rank_tolerance > 0.0 && c.rank_tolerance < 1.0) {
            return Err(bad(format!(
                "compare.rank_tolerance: {} is not in (0, 1)",
                c.rank_tolerance
            )));
        }
        if spec.methods.is_empty() {
            return Err(bad("no [[method]]: a comparison needs at least one".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &spec.methods {
            let ok = !m.name.is_empty()
                && m.name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
                && !m.name.starts_with('.');
            if !ok {
                return Err(bad(format!(
                    "method name `{}`: use letters, digits, '-', '_' and '.' (it names a directory)",
                    m.name
                )));
            }
            if m.grpo.is_some() && m.kind != MethodKind::Grpo {
                return Err(bad(format!(
                    "method `{}`: a [method.grpo] table needs kind = \"grpo\"",
                    m.name
                )));
            }
            if m.gradient.is_some() && m.kind != MethodKind::Gradient {
                return Err(bad(format!(
                    "method `{}`: a [method.gradient] table needs kind = \"gradient\"",
                    m.name
                )));
            }
            if !seen.insert(m.name.as_str()) {
                return Err(bad(format!("method name `{}` is used twice", m.name)));
            }
        }
        Ok(spec)
    }

    /// The base config's path.
    pub fn base_path(&self) -> PathBuf {
        self.dir.join(&self.compare.base)
    }

    /// A method's changes as `--set` overrides (`key=<TOML value>`): the comparison's common
    /// ones, then the method's own.
    pub fn overrides(&self, method: &MethodSpec) -> Vec<String> {
        self.compare
            .set
            .iter()
            .chain(&method.set)
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[compare]
base = "digits.toml"
budget_evaluations = 1000
set = { generations = 9 }

[[method]]
name = "eggroll"

[[method]]
name = "open_es"
set = { "es.strategy" = "open_es", "es.population" = 64 }
"#;

    #[test]
    fn parses_methods_and_turns_their_changes_into_overrides() {
        let s = CompareSpec::parse(GOOD, "c.toml").unwrap();
        assert_eq!(s.methods.len(), 2);
        assert_eq!(s.methods[0].kind, MethodKind::Es);
        assert_eq!(
            s.overrides(&s.methods[1]),
            vec![
                "generations=9".to_string(),
                "es.population=64".into(),
                "es.strategy=\"open_es\"".into()
            ]
        );
        assert_eq!(s.compare.rank_tolerance, 1e-3);
    }

    #[test]
    fn bad_files_name_what_is_wrong() {
        let err = |text: &str| CompareSpec::parse(text, "c.toml").unwrap_err().to_string();
        let no_budget = GOOD.replace("budget_evaluations = 1000", "");
        assert!(err(&no_budget).contains("budget_seconds or budget_evaluations"));
        let twice = GOOD.replace("name = \"open_es\"", "name = \"eggroll\"");
        assert!(err(&twice).contains("used twice"));
        let path = GOOD.replace("name = \"open_es\"", "name = \"../x\"");
        assert!(err(&path).contains("names a directory"));
        let unknown = GOOD.replace("budget_evaluations", "budget_evals");
        assert!(err(&unknown).contains("budget_evals"), "{}", err(&unknown));
        let kind = GOOD.replace("name = \"open_es\"", "name = \"g\"\nkind = \"ppo\"");
        assert!(err(&kind).contains("ppo"), "{}", err(&kind));
        let table = GOOD.replace(
            "set = { \"es.strategy\"",
            "grpo = { lr = 1e-4 }\nset = { \"es.strategy\"",
        );
        assert!(err(&table).contains("needs kind"), "{}", err(&table));
        let table = GOOD.replace(
            "set = { \"es.strategy\"",
            "gradient = { method = \"lora\" }\nset = { \"es.strategy\"",
        );
        assert!(err(&table).contains("needs kind"), "{}", err(&table));
        let method = GOOD.replace(
            "set = { \"es.strategy\"",
            "kind = \"gradient\"\ngradient = { method = \"dora\" }\nset = { \"es.strategy\"",
        );
        assert!(err(&method).contains("dora"), "{}", err(&method));
    }
}
