//! EGGROLL: low-rank `A·Bᵀ` perturbations of rank r, antithetic pairs, noise reuse.

use crate::config::EsConfig;
use crate::error::Result;
use crate::strategy::{population_for, Strategy, StrategyState};
use eggroll_core::population::{NoiseKind, Population};

/// The EGGROLL strategy.
pub struct Eggroll {
    cfg: EsConfig,
}

impl Eggroll {
    /// Build from a validated config.
    pub fn new(cfg: EsConfig) -> Self {
        Eggroll { cfg }
    }
}

impl Strategy for Eggroll {
    fn name(&self) -> &'static str {
        "eggroll"
    }

    fn config(&self) -> &EsConfig {
        &self.cfg
    }

    fn ask(&self, state: &StrategyState) -> Result<Population> {
        population_for(
            &self.cfg,
            state,
            NoiseKind::LowRank {
                rank: self.cfg.rank,
            },
        )
    }
}
