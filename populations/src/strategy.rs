//! The ask/tell `Strategy` trait and its explicit, serialisable state.

use crate::config::EsConfig;
use crate::error::Result;
use eggroll_core::learner::Update;
use eggroll_core::population::{Population, PopulationParams};
use eggroll_core::shaping::{pair_signs, shape_fitness, Shaping};
use serde::{Deserialize, Serialize};

/// Everything a strategy needs to continue a run (saved in checkpoints).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyState {
    /// The run seed.
    pub seed: u64,
    /// The next generation to ask for.
    pub generation: u64,
    /// Length of the run in generations (sizes the schedules).
    pub total_generations: u64,
}

/// An evolution strategy over noise keys.
pub trait Strategy: Send + Sync {
    /// Registered name.
    fn name(&self) -> &'static str;

    /// The configuration it was built from.
    fn config(&self) -> &EsConfig;

    /// The population of the state's current generation.
    fn ask(&self, state: &StrategyState) -> Result<Population>;

    /// Shape `fitness` (one value per member) into the generation's [`Update`] and advance the
    /// state: per-pair signs for `shaping = "pair_sign"` (integer models step by them; float
    /// models take them as ±1 weights), else the shaped per-member direction weights.
    fn tell(
        &self,
        state: &mut StrategyState,
        population: &Population,
        fitness: &[f32],
    ) -> Result<Update> {
        let cfg = self.config();
        let update = match cfg.shaping {
            Shaping::PairSign => Update::PairSigns(pair_signs(fitness)?),
            shaping => Update::Direction(shape_fitness(fitness, shaping, cfg.group_size)?),
        };
        debug_assert_eq!(update.member_weights().len(), population.size as usize);
        state.generation += 1;
        Ok(update)
    }
}

/// The population every strategy derives from its config, with `kind` chosen by the strategy.
pub(crate) fn population_for(
    cfg: &EsConfig,
    state: &StrategyState,
    kind: eggroll_core::population::NoiseKind,
) -> Result<Population> {
    let sigma = cfg
        .sigma_schedule(state.total_generations)
        .at(state.generation) as f32;
    let epoch = (state.generation / cfg.noise_reuse.max(1) as u64) as u32;
    Ok(Population::new(PopulationParams {
        seed: state.seed,
        epoch,
        size: cfg.population,
        sigma,
        kind,
        antithetic: cfg.antithetic,
    })?)
}
