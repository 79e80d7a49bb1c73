//! The learner of `[model] kind = "vector"`: a plain parameter vector searched by a classic
//! strategy (PGPE, SNES, xNES, CMA-ES, CEM, GA) on a benchmark problem. The strategy's whole
//! search distribution is this learner's state: members are generated one by one from the
//! counter-based noise, the loop relays the raw fitness ([`Update::Fitness`]) and `apply`
//! tells the strategy; checkpoints hold the [`SearchState`] as exact JSON.

use crate::config::{ModelSection, RunConfig};
use crate::error::{Error, Result};
use crate::tasks::TaskConfig;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::learner::{Learner, NonFinite, Update};
use eggroll_core::population::Population;
use eggroll_core::task::Metrics;
use eggroll_core::CoreError;
use eggroll_populations::problems::Problem;
use eggroll_populations::{make_search_strategy, SearchState, SearchStrategy};
use rayon::prelude::*;
use std::ops::Range;
use std::path::Path;

/// Checkpoint metadata key of the search state.
const STATE_KEY: &str = "search_state";

/// A benchmark problem with its search strategy and that strategy's state.
pub struct VectorLearner {
    strategy: Box<dyn SearchStrategy>,
    state: SearchState,
    problem: Problem,
}

fn config_error(origin: &str, why: String) -> Error {
    Error::Config {
        origin: origin.into(),
        why,
    }
}

impl VectorLearner {
    /// The learner of `cfg` (a vector model on task `benchmark`), at its initial state.
    pub fn new(cfg: &RunConfig) -> Result<Self> {
        let (ModelSection::Vector(v), TaskConfig::Benchmark(b)) = (&cfg.model, &cfg.task) else {
            return Err(config_error(
                "model.kind",
                "model kind vector is searched on task `benchmark`".into(),
            ));
        };
        let problem = b
            .problem(cfg.seed)
            .map_err(|why| config_error("task", why))?;
        let strategy = make_search_strategy(&cfg.es, cfg.generations, b.dim)
            .map_err(|e| config_error("es", e.to_string()))?;
        let state = strategy
            .init(cfg.seed, vec![v.start; b.dim])
            .map_err(|e| config_error("es", e.to_string()))?;
        Ok(VectorLearner {
            strategy,
            state,
            problem,
        })
    }

    /// The strategy's current state.
    pub fn state(&self) -> &SearchState {
        &self.state
    }

    /// The problem.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    fn search_error(&self, why: String) -> Error {
        config_error("es.strategy", why)
    }
}

impl Learner for VectorLearner {
    type Error = Error;

    fn kind(&self) -> &'static str {
        "vector"
    }

    fn metric_names(&self) -> Vec<&'static str> {
        vec!["eval_loss"]
    }

    fn takes_raw_fitness(&self) -> bool {
        true
    }

    fn fitness(
        &mut self,
        _pop: &Population,
        members: Range<u32>,
        generation: u64,
    ) -> Result<Vec<f32>> {
        if generation != self.state.generation {
            return Err(self.search_error(format!(
                "asked to score generation {generation}, but the search state is at {}",
                self.state.generation
            )));
        }
        let (s, st, p) = (&*self.strategy, &self.state, &self.problem);
        // Each member on its own: the values do not depend on the thread count or order.
        members
            .into_par_iter()
            .map(|m| {
                let mut x = vec![0.0; st.dim()];
                s.member(st, m, &mut x)
                    .map_err(|e| config_error("es.strategy", e.to_string()))?;
                Ok(-(p.value(&x) as f32))
            })
            .collect()
    }

    fn fitness_metrics(&self, fitness: &[f32]) -> Metrics {
        let best = fitness.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        vec![("best_member_loss", -(best as f64))]
    }

    fn apply(&mut self, _pop: &Population, update: &Update, _generation: u64) -> Result<Metrics> {
        let Update::Fitness(f) = update else {
            return Err(self.search_error(format!(
                "a vector is updated by its search strategy from the raw fitness, not from {}",
                update.kind()
            )));
        };
        self.strategy
            .tell(&mut self.state, f)
            .map_err(|e| self.search_error(e.to_string()))?;
        Ok(vec![("sigma", self.state.sigma)])
    }

    fn first_nonfinite(&self) -> Result<Option<NonFinite>> {
        Ok(self
            .state
            .mean
            .iter()
            .position(|v| !v.is_finite())
            .map(|i| ("mean".to_string(), i, self.state.mean[i] as f32)))
    }

    fn evaluate(&mut self) -> Result<Metrics> {
        Ok(vec![("eval_loss", self.problem.value(&self.state.mean))])
    }

    fn save(&self, ck: &mut Checkpoint) -> Result<()> {
        let json = serde_json::to_string(&self.state)
            .map_err(|e| config_error("checkpoint metadata", format!("{STATE_KEY}: {e}")))?;
        ck.metadata.insert(STATE_KEY.into(), json);
        // The centre as a tensor too, for tools that read parameters.
        let mean: Vec<f32> = self.state.mean.iter().map(|&v| v as f32).collect();
        ck.insert("params.mean", vec![mean.len()], mean);
        Ok(())
    }

    fn load(&mut self, ck: &Checkpoint, path: &Path) -> Result<()> {
        let bad = |why: String| {
            Error::Core(CoreError::Checkpoint {
                path: path.display().to_string(),
                why,
            })
        };
        let state: SearchState = serde_json::from_str(ck.meta(STATE_KEY, path)?)
            .map_err(|e| bad(format!("{STATE_KEY}: {e}")))?;
        if state.strategy != self.strategy.name() || state.dim() != self.state.dim() {
            return Err(bad(format!(
                "holds a `{}` search state of dimension {}, but the config searches D = {} with `{}`",
                state.strategy,
                state.dim(),
                self.state.dim(),
                self.strategy.name()
            )));
        }
        self.state = state;
        Ok(())
    }
}
