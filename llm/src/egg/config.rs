//! The configuration of an integer EGG language-model run: its `[model]` and `[task]`
//! sections, and [`EggConfig`], everything a run needs, assembled from the run config.

use crate::error::{LlmError, Result};
use serde::{Deserialize, Serialize};

/// How the z-test's significance level α changes over generations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlphaSchedule {
    /// α = `alpha_start` throughout.
    Constant,
    /// α moves linearly from `alpha_start` to `alpha_end` over `alpha_generations`.
    Linear,
    /// 1/α moves linearly (the reference's `1/((2^a−1)·t/1000+1)` when `alpha_start = 1`,
    /// `alpha_end = 2^-a`, `alpha_generations = 1000`), then stays at `alpha_end`.
    #[default]
    Harmonic,
}

/// `[model] kind = "egg_gru"`: the integer GRU language model and its thresholded update.
/// Unknown keys are rejected; missing keys take the defaults below.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EggModelConfig {
    /// Model width D (the MLP is D→4D→D).
    pub d_model: usize,
    /// Number of blocks L.
    pub n_layers: usize,
    /// σ = 2^-sigma_shift relative to the weights' unit of 16 (the integer model's perturbation
    /// scale; `es.sigma` is not used).
    pub sigma_shift: u32,
    /// Shape of the α schedule of the update's z-test.
    pub alpha_schedule: AlphaSchedule,
    /// α at generation 0 (two-sided tail probability; 1 updates every nonzero sign).
    pub alpha_start: f64,
    /// α at the end of the schedule.
    pub alpha_end: f64,
    /// Length of the α schedule in generations.
    pub alpha_generations: u64,
    /// Members per work item (one shared GEMM per item and step); even. Results do not depend
    /// on it, only speed and memory do.
    pub chunk_members: usize,
    /// Both members of a pair continue from the `+` member's hidden state each generation
    /// (false, the default: each member keeps its own; sharing did not learn faster on
    /// Shakespeare).
    pub share_pair_state: bool,
}

impl Default for EggModelConfig {
    fn default() -> Self {
        EggModelConfig {
            d_model: 64,
            n_layers: 1,
            sigma_shift: 3,
            alpha_schedule: AlphaSchedule::Harmonic,
            alpha_start: 1.0,
            alpha_end: 1.0 / 16.0,
            alpha_generations: 4000,
            chunk_members: 64,
            share_pair_state: false,
        }
    }
}

/// `[task] name = "text"`: next-byte prediction on a byte file. Unknown keys are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextTaskConfig {
    /// Training text (any byte file); NUL bytes separate documents.
    pub data: String,
    /// Bytes T each member is scored on per generation.
    pub window: usize,
    /// Fraction of the data (from its end) held out for validation.
    pub val_fraction: f64,
    /// Validation bytes scored per evaluation (capped by the validation split).
    pub eval_bytes: usize,
    /// Parallel streams the validation bytes are split into.
    pub eval_streams: usize,
}

impl Default for TextTaskConfig {
    fn default() -> Self {
        TextTaskConfig {
            data: "data/shakespeare.txt".into(),
            window: 100,
            val_fraction: 0.05,
            eval_bytes: 16384,
            eval_streams: 16,
        }
    }
}

/// Everything an EGG run needs, assembled from the run config's sections (`seed`, `[es]`
/// population and rank, `[model]`, `[task]`); errors name those keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EggConfig {
    /// Run seed: initial weights and every noise stream derive from it.
    pub seed: u64,
    /// Population size N (`es.population`; antithetic pairs, so even).
    pub population: u32,
    /// Rank r of each member's int8 perturbation A·Bᵀ (`es.rank`).
    pub rank: u32,
    /// The model and its update.
    pub model: EggModelConfig,
    /// The data and how members and the model are scored on it.
    pub text: TextTaskConfig,
}

impl Default for EggConfig {
    fn default() -> Self {
        EggConfig {
            seed: 0,
            population: 512,
            rank: 1,
            model: EggModelConfig::default(),
            text: TextTaskConfig::default(),
        }
    }
}

/// Largest `pairs · rank` of the update GEMM (keeps its int32 sums exact).
pub const MAX_PAIRS_TIMES_RANK: u64 = 131_072;

impl EggConfig {
    /// Check every value; the error names the key at fault (`model.d_model`, `es.population`,
    /// `task.window`, …).
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, why: String| Err(LlmError::config(key, why));
        let (m, t) = (&self.model, &self.text);
        if m.d_model < 1 || m.d_model > 1024 {
            return bad(
                "model.d_model",
                format!("{} must be in 1..=1024", m.d_model),
            );
        }
        if m.n_layers < 1 || m.n_layers > 64 {
            return bad(
                "model.n_layers",
                format!("{} must be in 1..=64", m.n_layers),
            );
        }
        if self.population < 2 || self.population % 2 == 1 || self.population > 1 << 20 {
            return bad(
                "es.population",
                format!("{} must be even and in 2..=1048576", self.population),
            );
        }
        if self.rank < 1 || self.rank > 16 {
            return bad("es.rank", format!("{} must be in 1..=16", self.rank));
        }
        if 4 * m.d_model * self.rank as usize > 16384 {
            return bad(
                "es.rank",
                format!(
                    "4·d_model·rank = {} exceeds 16384 (int32 noise products could overflow)",
                    4 * m.d_model * self.rank as usize
                ),
            );
        }
        if (self.population as u64 / 2) * self.rank as u64 > MAX_PAIRS_TIMES_RANK {
            return bad(
                "es.population",
                format!("population/2 · rank must be ≤ {MAX_PAIRS_TIMES_RANK}"),
            );
        }
        if m.sigma_shift < 1 || m.sigma_shift > 15 {
            return bad(
                "model.sigma_shift",
                format!("{} must be in 1..=15", m.sigma_shift),
            );
        }
        if t.window < 1 || t.window > 1 << 20 {
            return bad(
                "task.window",
                format!("{} must be in 1..=1048576", t.window),
            );
        }
        for (key, v) in [
            ("model.alpha_start", m.alpha_start),
            ("model.alpha_end", m.alpha_end),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                return bad(key, format!("{v} must be in (0, 1]"));
            }
            if v < 1e-9 {
                return bad(
                    key,
                    format!("{v} is below 1e-9, the resolution of the z-test"),
                );
            }
        }
        if m.alpha_generations < 1 {
            return bad("model.alpha_generations", "must be at least 1".into());
        }
        if t.eval_bytes < 1 {
            return bad("task.eval_bytes", "must be at least 1".into());
        }
        if t.eval_streams < 1 || t.eval_streams > 65536 {
            return bad(
                "task.eval_streams",
                format!("{} must be in 1..=65536", t.eval_streams),
            );
        }
        if !(t.val_fraction.is_finite() && t.val_fraction > 0.0 && t.val_fraction <= 0.5) {
            return bad(
                "task.val_fraction",
                format!("{} must be in (0, 0.5]", t.val_fraction),
            );
        }
        if m.chunk_members < 2 || m.chunk_members % 2 == 1 || m.chunk_members > 4096 {
            return bad(
                "model.chunk_members",
                format!("{} must be even and in 2..=4096", m.chunk_members),
            );
        }
        Ok(())
    }

    /// α at `generation` as a two-sided tail probability in 2^-31 units (integer arithmetic
    /// only, from the config's values fixed once).
    pub fn alpha_fixed(&self, generation: u64) -> u64 {
        let one = 1u64 << 31;
        let m = &self.model;
        let a0 = ((m.alpha_start * one as f64).round() as u64).clamp(1, one);
        let a1 = ((m.alpha_end * one as f64).round() as u64).clamp(1, one);
        let span = m.alpha_generations.max(1);
        let t = generation.min(span);
        match m.alpha_schedule {
            AlphaSchedule::Constant => a0,
            AlphaSchedule::Linear => {
                let (a0, a1) = (a0 as i128, a1 as i128);
                (a0 + (a1 - a0) * t as i128 / span as i128) as u64
            }
            AlphaSchedule::Harmonic => {
                let inv = |a: u64| (1u128 << 62) / a as u128;
                let (i0, i1) = (inv(a0) as i128, inv(a1) as i128);
                let it = i0 + (i1 - i0) * t as i128 / span as i128;
                ((1u128 << 62) / it.max(1) as u128).min(one as u128) as u64
            }
        }
    }

    /// Number of parameters of the model this config describes.
    pub fn parameter_count(&self) -> usize {
        crate::egg::params::Layout::new(self.model.d_model, self.model.n_layers).total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_sections_round_trip() {
        let cfg = EggConfig::default();
        cfg.validate().unwrap();
        let text = toml::to_string(&cfg.model).unwrap();
        assert_eq!(toml::from_str::<EggModelConfig>(&text).unwrap(), cfg.model);
        let text = toml::to_string(&cfg.text).unwrap();
        assert_eq!(toml::from_str::<TextTaskConfig>(&text).unwrap(), cfg.text);
        assert!(toml::from_str::<EggModelConfig>("widht = 3").is_err());
    }

    #[test]
    fn bad_values_name_their_key() {
        let d = EggConfig::default;
        let cases: Vec<(EggConfig, &str)> = vec![
            (
                EggConfig {
                    population: 7,
                    ..d()
                },
                "es.population",
            ),
            (EggConfig { rank: 0, ..d() }, "es.rank"),
            (
                EggConfig {
                    model: EggModelConfig {
                        d_model: 0,
                        ..Default::default()
                    },
                    ..d()
                },
                "model.d_model",
            ),
            (
                EggConfig {
                    model: EggModelConfig {
                        sigma_shift: 0,
                        ..Default::default()
                    },
                    ..d()
                },
                "model.sigma_shift",
            ),
            (
                EggConfig {
                    model: EggModelConfig {
                        alpha_end: 1.5,
                        ..Default::default()
                    },
                    ..d()
                },
                "model.alpha_end",
            ),
            (
                EggConfig {
                    model: EggModelConfig {
                        chunk_members: 3,
                        ..Default::default()
                    },
                    ..d()
                },
                "model.chunk_members",
            ),
            (
                EggConfig {
                    text: TextTaskConfig {
                        val_fraction: 0.0,
                        ..Default::default()
                    },
                    ..d()
                },
                "task.val_fraction",
            ),
            (
                EggConfig {
                    text: TextTaskConfig {
                        window: 0,
                        ..Default::default()
                    },
                    ..d()
                },
                "task.window",
            ),
        ];
        for (cfg, key) in cases {
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn harmonic_schedule_matches_reference_formula() {
        let model = EggModelConfig {
            alpha_start: 1.0,
            alpha_end: 1.0 / 16.0,
            alpha_generations: 1000,
            ..EggModelConfig::default()
        };
        let cfg = EggConfig {
            model: model.clone(),
            ..EggConfig::default()
        };
        let one = (1u64 << 31) as f64;
        for t in [0u64, 1, 10, 500, 1000, 5000] {
            let want = 1.0 / (15.0 * t.min(1000) as f64 / 1000.0 + 1.0);
            let got = cfg.alpha_fixed(t) as f64 / one;
            assert!((got - want).abs() < 1e-6, "t={t}: {got} vs {want}");
        }
        let with = |alpha_schedule| EggConfig {
            model: EggModelConfig {
                alpha_schedule,
                ..model.clone()
            },
            ..EggConfig::default()
        };
        assert_eq!(with(AlphaSchedule::Linear).alpha_fixed(1000), 1 << 27);
        assert_eq!(with(AlphaSchedule::Constant).alpha_fixed(777), 1 << 31);
    }
}
