//! The `[es]` section of a run's configuration.

use crate::error::{PopulationError, Result};
use eggroll_core::schedule::{Schedule, ScheduleKind};
use eggroll_core::shaping::Shaping;
use serde::{Deserialize, Serialize};

/// Hyper-parameters shared by every strategy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsConfig {
    /// Strategy name (see [`crate::strategy_names`]).
    #[serde(default = "default_strategy")]
    pub strategy: String,
    /// Population size N.
    #[serde(default = "default_population")]
    pub population: u32,
    /// Rank r of the low-rank perturbations (EGGROLL only).
    #[serde(default = "default_rank")]
    pub rank: u32,
    /// Perturbation scale σ at generation 0.
    #[serde(default = "default_sigma")]
    pub sigma: f64,
    /// σ at the end of the schedule (used by linear/cosine schedules).
    #[serde(default)]
    pub sigma_end: Option<f64>,
    /// σ schedule shape.
    #[serde(default)]
    pub sigma_schedule: ScheduleKind,
    /// Generations that share the same noise (≥ 1; the reference's 0 froze the noise silently).
    #[serde(default = "one")]
    pub noise_reuse: u32,
    /// Antithetic (±) pairs.
    #[serde(default = "yes")]
    pub antithetic: bool,
    /// Fitness shaping.
    #[serde(default)]
    pub shaping: Shaping,
    /// Per-group normalisation: consecutive groups of this many members (1 = global).
    #[serde(default = "one_usize")]
    pub group_size: usize,
    /// PGPE's ClipUp step size α (its maximum speed is 2α); default `sigma`. Other
    /// strategies refuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center_lr: Option<f64>,
}

fn default_strategy() -> String {
    "eggroll".into()
}
fn default_population() -> u32 {
    512
}
fn default_rank() -> u32 {
    4
}
fn default_sigma() -> f64 {
    0.05
}
fn one() -> u32 {
    1
}
fn one_usize() -> usize {
    1
}
fn yes() -> bool {
    true
}

impl Default for EsConfig {
    fn default() -> Self {
        EsConfig {
            strategy: default_strategy(),
            population: default_population(),
            rank: default_rank(),
            sigma: default_sigma(),
            sigma_end: None,
            sigma_schedule: ScheduleKind::Constant,
            noise_reuse: 1,
            antithetic: true,
            shaping: Shaping::ZScore,
            group_size: 1,
            center_lr: None,
        }
    }
}

fn invalid(key: &str, why: String) -> PopulationError {
    PopulationError::Invalid {
        key: key.into(),
        why,
    }
}

impl EsConfig {
    /// Check every value's range; `generations` sizes the σ schedule.
    pub fn validate(&self, generations: u64) -> Result<()> {
        if self.population < 2 {
            return Err(invalid(
                "population",
                format!(
                    "{} is too small: at least 2 members are needed (a lone member's shaped fitness is 0, so it would never move)",
                    self.population
                ),
            ));
        }
        if self.antithetic && self.population % 2 == 1 {
            return Err(invalid(
                "population",
                format!(
                    "{} is odd, but antithetic sampling needs pairs (use an even size or antithetic = false)",
                    self.population
                ),
            ));
        }
        if self.rank == 0 {
            return Err(invalid("rank", "must be at least 1".into()));
        }
        if self.noise_reuse == 0 {
            return Err(invalid(
                "noise_reuse",
                "must be at least 1 (1 = fresh noise every generation)".into(),
            ));
        }
        if self.group_size == 0 || !(self.population as usize).is_multiple_of(self.group_size) {
            return Err(invalid(
                "group_size",
                format!(
                    "{} must divide the population {}",
                    self.group_size, self.population
                ),
            ));
        }
        if let Some(lr) = self.center_lr {
            if self.strategy != "pgpe" {
                return Err(invalid(
                    "center_lr",
                    format!(
                        "is PGPE's ClipUp step size; strategy `{}` has no use for it",
                        self.strategy
                    ),
                ));
            }
            if !(lr.is_finite() && lr > 0.0) {
                return Err(invalid("center_lr", format!("{lr} must be finite and > 0")));
            }
        }
        self.sigma_schedule(generations)
            .validate_positive("sigma")
            .map_err(|e| invalid("sigma", e.to_string()))
    }

    /// σ as a schedule over `generations`.
    pub fn sigma_schedule(&self, generations: u64) -> Schedule {
        Schedule {
            kind: self.sigma_schedule,
            start: self.sigma,
            end: self.sigma_end.unwrap_or(self.sigma),
            generations,
        }
    }
}
