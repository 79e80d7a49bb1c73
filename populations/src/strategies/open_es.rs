//! OpenES: the naive full-rank baseline. Every member perturbs each matrix by a dense Gaussian
//! matrix, generated on the fly per member (memory stays bounded; compute does not).

use crate::config::EsConfig;
use crate::error::Result;
use crate::strategy::{population_for, Strategy, StrategyState};
use eggroll_core::population::{NoiseKind, Population};

/// The OpenES strategy.
pub struct OpenEs {
    cfg: EsConfig,
}

impl OpenEs {
    /// Build from a validated config.
    pub fn new(cfg: EsConfig) -> Self {
        OpenEs { cfg }
    }
}

impl Strategy for OpenEs {
    fn name(&self) -> &'static str {
        "open_es"
    }

    fn config(&self) -> &EsConfig {
        &self.cfg
    }

    fn ask(&self, state: &StrategyState) -> Result<Population> {
        population_for(&self.cfg, state, NoiseKind::Full)
    }
}
