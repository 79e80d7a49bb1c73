//! The loop's side of a search strategy: the training loop asks every run's strategy for a
//! population (member count and keys, for sharding) and tells it the gathered fitness; for a
//! learner that holds its own search strategy, this relay passes the raw fitness on as
//! [`Update::Fitness`] and advances the generation, so the one loop drives both kinds.

use crate::config::EsConfig;
use crate::error::Result;
use crate::strategy::{population_for, Strategy, StrategyState};
use eggroll_core::learner::Update;
use eggroll_core::population::{NoiseKind, Population};

/// Relays fitness to a learner with its own search strategy (see the module doc).
pub struct Relay {
    name: &'static str,
    cfg: EsConfig,
}

impl Relay {
    /// A relay for the search strategy `name` (a registered name) with `cfg`.
    pub(crate) fn new(name: &'static str, cfg: EsConfig) -> Self {
        Relay { name, cfg }
    }
}

impl Strategy for Relay {
    fn name(&self) -> &'static str {
        self.name
    }

    fn config(&self) -> &EsConfig {
        &self.cfg
    }

    /// The generation's member count and keys; its σ and noise kind are not used (members
    /// come from the search strategy's own distribution).
    fn ask(&self, state: &StrategyState) -> Result<Population> {
        population_for(&self.cfg, state, NoiseKind::Full)
    }

    fn tell(
        &self,
        state: &mut StrategyState,
        _population: &Population,
        fitness: &[f32],
    ) -> Result<Update> {
        state.generation += 1;
        Ok(Update::Fitness(fitness.to_vec()))
    }
}
