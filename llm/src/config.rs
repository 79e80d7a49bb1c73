//! The configuration of an integer EGG language-model run (one TOML table).

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

/// Every knob of an EGG run; unknown keys are rejected, missing keys take the defaults below.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EggConfig {
    /// Run seed: initial weights and every noise stream derive from it.
    pub seed: u64,
    /// Training text (any byte file); NUL bytes separate documents.
    pub data: String,
    /// Model width D (the MLP is D→4D→D).
    pub d_model: usize,
    /// Number of blocks L.
    pub n_layers: usize,
    /// Population size N (antithetic pairs, so even).
    pub population: u32,
    /// Rank r of each member's int8 perturbation A·Bᵀ.
    pub rank: u32,
    /// σ = 2^-sigma_shift relative to the weights' unit of 16.
    pub sigma_shift: u32,
    /// Bytes T each member is scored on per generation.
    pub window: usize,
    /// Generations that reuse one noise epoch (epoch = generation / noise_reuse).
    pub noise_reuse: u32,
    /// Shape of the α schedule of the update's z-test.
    pub alpha_schedule: AlphaSchedule,
    /// α at generation 0 (two-sided tail probability; 1 updates every nonzero sign).
    pub alpha_start: f64,
    /// α at the end of the schedule.
    pub alpha_end: f64,
    /// Length of the α schedule in generations.
    pub alpha_generations: u64,
    /// Generations to train when the caller does not say.
    pub generations: u64,
    /// Evaluate validation bits/byte every this many generations (0: only at the end).
    pub eval_every: u64,
    /// Validation bytes scored per evaluation (capped by the validation split).
    pub eval_bytes: usize,
    /// Parallel streams the validation bytes are split into.
    pub eval_streams: usize,
    /// Fraction of the data (from its end) held out for validation.
    pub val_fraction: f64,
    /// Write `checkpoints/latest.safetensors` every this many generations.
    pub checkpoint_every: u64,
    /// Members per work item (one shared GEMM per item and step); even. Results do not depend
    /// on it, only speed and memory do.
    pub chunk_members: usize,
    /// Both members of a pair continue from the `+` member's hidden state each generation
    /// (false, the default: each member keeps its own; sharing did not learn faster on
    /// Shakespeare).
    pub share_pair_state: bool,
}

impl Default for EggConfig {
    fn default() -> Self {
        EggConfig {
            seed: 0,
            data: "data/shakespeare.txt".into(),
            d_model: 64,
            n_layers: 1,
            population: 512,
            rank: 1,
            sigma_shift: 3,
            window: 100,
            noise_reuse: 1,
            alpha_schedule: AlphaSchedule::Harmonic,
            alpha_start: 1.0,
            alpha_end: 1.0 / 16.0,
            alpha_generations: 4000,
            generations: 1000,
            eval_every: 10,
            eval_bytes: 16384,
            eval_streams: 16,
            val_fraction: 0.05,
            checkpoint_every: 50,
            chunk_members: 64,
            share_pair_state: false,
        }
    }
}

/// Largest `pairs · rank` of the update GEMM (keeps its int32 sums exact).
pub const MAX_PAIRS_TIMES_RANK: u64 = 131_072;

impl EggConfig {
    /// Parse a TOML table (unknown keys are an error naming the key).
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let cfg: EggConfig =
            toml::from_str(text).map_err(|e| LlmError::config("toml", e.message().to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Check every value; the error names the key at fault.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, why: String| Err(LlmError::config(key, why));
        if self.d_model < 1 || self.d_model > 1024 {
            return bad("d_model", format!("{} must be in 1..=1024", self.d_model));
        }
        if self.n_layers < 1 || self.n_layers > 64 {
            return bad("n_layers", format!("{} must be in 1..=64", self.n_layers));
        }
        if self.population < 2 || self.population % 2 == 1 || self.population > 1 << 20 {
            return bad(
                "population",
                format!("{} must be even and in 2..=1048576", self.population),
            );
        }
        if self.rank < 1 || self.rank > 16 {
            return bad("rank", format!("{} must be in 1..=16", self.rank));
        }
        if 4 * self.d_model * self.rank as usize > 16384 {
            return bad(
                "rank",
                format!(
                    "4·d_model·rank = {} exceeds 16384 (int32 noise products could overflow)",
                    4 * self.d_model * self.rank as usize
                ),
            );
        }
        if (self.population as u64 / 2) * self.rank as u64 > MAX_PAIRS_TIMES_RANK {
            return bad(
                "population",
                format!("population/2 · rank must be ≤ {MAX_PAIRS_TIMES_RANK}"),
            );
        }
        if self.sigma_shift < 1 || self.sigma_shift > 15 {
            return bad(
                "sigma_shift",
                format!("{} must be in 1..=15", self.sigma_shift),
            );
        }
        if self.window < 1 || self.window > 1 << 20 {
            return bad("window", format!("{} must be in 1..=1048576", self.window));
        }
        if self.noise_reuse < 1 {
            return bad("noise_reuse", "must be at least 1".into());
        }
        for (key, v) in [
            ("alpha_start", self.alpha_start),
            ("alpha_end", self.alpha_end),
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
        if self.alpha_generations < 1 {
            return bad("alpha_generations", "must be at least 1".into());
        }
        if self.eval_bytes < 1 {
            return bad("eval_bytes", "must be at least 1".into());
        }
        if self.eval_streams < 1 || self.eval_streams > 65536 {
            return bad(
                "eval_streams",
                format!("{} must be in 1..=65536", self.eval_streams),
            );
        }
        if !(self.val_fraction.is_finite() && self.val_fraction > 0.0 && self.val_fraction <= 0.5) {
            return bad(
                "val_fraction",
                format!("{} must be in (0, 0.5]", self.val_fraction),
            );
        }
        if self.checkpoint_every < 1 {
            return bad("checkpoint_every", "must be at least 1".into());
        }
        if self.chunk_members < 2 || self.chunk_members % 2 == 1 || self.chunk_members > 4096 {
            return bad(
                "chunk_members",
                format!("{} must be even and in 2..=4096", self.chunk_members),
            );
        }
        Ok(())
    }

    /// α at `generation` as a two-sided tail probability in 2^-31 units (integer arithmetic
    /// only, from the config's values fixed once).
    pub fn alpha_fixed(&self, generation: u64) -> u64 {
        let one = 1u64 << 31;
        let a0 = ((self.alpha_start * one as f64).round() as u64).clamp(1, one);
        let a1 = ((self.alpha_end * one as f64).round() as u64).clamp(1, one);
        let span = self.alpha_generations.max(1);
        let t = generation.min(span);
        match self.alpha_schedule {
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
        crate::params::Layout::new(self.d_model, self.n_layers).total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_round_trip() {
        let cfg = EggConfig::default();
        cfg.validate().unwrap();
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(EggConfig::from_toml_str(&text).unwrap(), cfg);
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("population = 7", "population"),
            ("d_model = 0", "d_model"),
            ("rank = 0", "rank"),
            ("sigma_shift = 0", "sigma_shift"),
            ("alpha_end = 1.5", "alpha_end"),
            ("val_fraction = 0.0", "val_fraction"),
            ("chunk_members = 3", "chunk_members"),
            ("window = 0", "window"),
        ];
        for (text, key) in cases {
            let err = EggConfig::from_toml_str(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        let err = EggConfig::from_toml_str("widht = 3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("widht"), "{err}");
    }

    #[test]
    fn harmonic_schedule_matches_reference_formula() {
        let cfg = EggConfig {
            alpha_start: 1.0,
            alpha_end: 1.0 / 16.0,
            alpha_generations: 1000,
            ..EggConfig::default()
        };
        let one = (1u64 << 31) as f64;
        for t in [0u64, 1, 10, 500, 1000, 5000] {
            let want = 1.0 / (15.0 * t.min(1000) as f64 / 1000.0 + 1.0);
            let got = cfg.alpha_fixed(t) as f64 / one;
            assert!((got - want).abs() < 1e-6, "t={t}: {got} vs {want}");
        }
        let lin = EggConfig {
            alpha_schedule: AlphaSchedule::Linear,
            ..cfg.clone()
        };
        assert_eq!(lin.alpha_fixed(1000), 1 << 27);
        let c = EggConfig {
            alpha_schedule: AlphaSchedule::Constant,
            ..cfg
        };
        assert_eq!(c.alpha_fixed(777), 1 << 31);
    }
}
