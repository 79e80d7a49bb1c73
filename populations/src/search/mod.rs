//! Search strategies: the classic ES (PGPE, SNES, xNES, sep-CMA-ES, CMA-ES, CEM, GA) over one
//! host-side parameter vector, with their whole search distribution in a serialisable
//! [`SearchState`] that checkpoints hold.
//!
//! Unlike the noise strategies (`eggroll`, `open_es`), whose members are the model plus the
//! backend's isotropic noise, these keep a distribution of their own (per-coordinate σ, a
//! covariance, elites). A member's parameter vector is generated on demand from the
//! counter-based noise keyed by (seed, generation, member) ([`SearchStrategy::member`]), so any
//! process or thread can produce any member in any order and no N × D buffer exists; `tell`
//! regenerates the members it needs from the same keys.

pub mod cma_params;
pub mod linalg;
pub mod noise;
pub mod relay;
pub mod utility;

use crate::config::EsConfig;
use crate::error::{PopulationError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything a search strategy needs to continue a run (saved in checkpoints as JSON;
/// floats round-trip exactly, so resume is bit-exact).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchState {
    /// Name of the strategy that owns the state (checked on resume).
    pub strategy: String,
    /// The run seed.
    pub seed: u64,
    /// The next generation to ask for.
    pub generation: u64,
    /// The distribution's centre (GA: the best elite), the point a run evaluates.
    pub mean: Vec<f64>,
    /// Global step size σ (strategies with per-coordinate σ keep it at 1 and use a field).
    pub sigma: f64,
    /// The strategy's own named arrays (per-coordinate σ, covariance, evolution paths, …).
    pub fields: BTreeMap<String, Vec<f64>>,
}

impl SearchState {
    /// A fresh state of `strategy` centred on `x0` with step size `sigma`.
    pub fn new(strategy: &str, seed: u64, x0: Vec<f64>, sigma: f64) -> Self {
        SearchState {
            strategy: strategy.into(),
            seed,
            generation: 0,
            mean: x0,
            sigma,
            fields: BTreeMap::new(),
        }
    }

    /// The dimension D.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Field `name` (an error names it when the state lacks it, e.g. a damaged checkpoint).
    pub fn field(&self, name: &str) -> Result<&[f64]> {
        self.fields
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| missing(&self.strategy, name))
    }

    /// Field `name`, mutable.
    pub fn field_mut(&mut self, name: &str) -> Result<&mut Vec<f64>> {
        let strategy = self.strategy.clone();
        self.fields
            .get_mut(name)
            .ok_or_else(|| missing(&strategy, name))
    }

    /// Set field `name`.
    pub fn set(&mut self, name: &str, value: Vec<f64>) {
        self.fields.insert(name.into(), value);
    }
}

fn missing(strategy: &str, name: &str) -> PopulationError {
    PopulationError::State {
        strategy: strategy.into(),
        why: format!("field `{name}` is missing"),
    }
}

/// A classic evolution strategy over one host-side parameter vector (ask/tell).
pub trait SearchStrategy: Send + Sync {
    /// Registered name.
    fn name(&self) -> &'static str;

    /// The configuration it was built from.
    fn config(&self) -> &EsConfig;

    /// Refuse dimensions the strategy cannot handle (full covariances), naming the limit.
    fn check_dim(&self, _dim: usize) -> Result<()> {
        Ok(())
    }

    /// The initial state around `x0` (σ from `es.sigma`).
    fn init(&self, seed: u64, x0: Vec<f64>) -> Result<SearchState>;

    /// Write member `member`'s parameter vector of the state's generation into `out`
    /// (length D), from the counter-based noise alone.
    fn member(&self, state: &SearchState, member: u32, out: &mut [f64]) -> Result<()>;

    /// Update the distribution from every member's fitness (higher is better) and advance
    /// the generation.
    fn tell(&self, state: &mut SearchState, fitness: &[f32]) -> Result<()>;
}

/// Check a state and a fitness vector against the strategy before `tell`.
pub(crate) fn check_tell(s: &dyn SearchStrategy, st: &SearchState, fitness: &[f32]) -> Result<()> {
    if st.strategy != s.name() {
        return Err(PopulationError::State {
            strategy: s.name().into(),
            why: format!("the state belongs to `{}`", st.strategy),
        });
    }
    let n = s.config().population as usize;
    if fitness.len() != n {
        return Err(PopulationError::State {
            strategy: s.name().into(),
            why: format!("{} fitness values for a population of {n}", fitness.len()),
        });
    }
    if let Some(i) = fitness.iter().position(|f| !f.is_finite()) {
        return Err(PopulationError::State {
            strategy: s.name().into(),
            why: format!("member {i} has non-finite fitness {}", fitness[i]),
        });
    }
    Ok(())
}

/// Check that `out` has the state's dimension.
pub(crate) fn check_out(st: &SearchState, out: &[f64]) -> Result<()> {
    if out.len() != st.dim() {
        return Err(PopulationError::State {
            strategy: st.strategy.clone(),
            why: format!("member buffer of {} for dimension {}", out.len(), st.dim()),
        });
    }
    Ok(())
}

/// Refuse `es` settings a search strategy does not honour, naming the key.
pub(crate) fn check_search_config(cfg: &EsConfig) -> Result<()> {
    let bad = |key: &str, why: String| PopulationError::Invalid {
        key: key.into(),
        why,
    };
    if cfg.noise_reuse != 1 {
        return Err(bad(
            "noise_reuse",
            format!(
                "{} is not supported by `{}`: its members are drawn afresh every generation (use 1)",
                cfg.noise_reuse, cfg.strategy
            ),
        ));
    }
    if cfg.group_size != 1 {
        return Err(bad(
            "group_size",
            format!(
                "{} is not supported by `{}`, which ranks the whole population (use 1)",
                cfg.group_size, cfg.strategy
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
