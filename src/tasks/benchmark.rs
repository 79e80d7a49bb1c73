//! The `benchmark` task: a shifted test function (sphere, Rosenbrock, Rastrigin, Ackley,
//! Griewank, Styblinski–Tang) of a plain parameter vector (`[model] kind = "vector"`),
//! searched by a classic strategy (`es.strategy` = pgpe, snes, xnes, sep_cma_es, cma_es, cem
//! or ga). Fitness is `−f(x)`; evaluation reports `eval_loss = f(centre)` (0 at the optimum).

use crate::config::{ModelSection, RunConfig};
use eggroll_populations::problems::{Problem, ProblemKind};
use eggroll_populations::{is_search_strategy, make_search_strategy, make_strategy};
use serde::{Deserialize, Serialize};

/// `[task] name = "benchmark"`: which function, in which dimension.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkConfig {
    /// The function.
    pub problem: ProblemKind,
    /// Dimension D of the search space.
    #[serde(default = "default_dim")]
    pub dim: usize,
    /// The optimum is drawn uniformly from `[−shift, shift]^D` by the run seed (0: at the
    /// origin).
    #[serde(default = "default_shift")]
    pub shift: f64,
}

fn default_dim() -> usize {
    10
}
fn default_shift() -> f64 {
    2.0
}

impl BenchmarkConfig {
    /// The problem of a run seeded with `seed`.
    pub fn problem(&self, seed: u64) -> std::result::Result<Problem, String> {
        Problem::new(self.problem, self.dim, self.shift, seed).map_err(|e| e.to_string())
    }
}

/// `[model] kind = "vector"`: the searched vector itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct VectorConfig {
    /// Every coordinate's initial value (the search starts at `start · 1`).
    #[serde(default)]
    pub start: f64,
}

/// Check that the model, the task and `es.strategy` go together: a vector is searched by a
/// search strategy on the benchmark task, every other model by a noise strategy. The message
/// names the key at fault.
pub fn check_pairing(cfg: &RunConfig) -> std::result::Result<(), String> {
    let bench = match &cfg.task {
        crate::tasks::TaskConfig::Benchmark(b) => Some(b),
        _ => None,
    };
    match (&cfg.model, bench) {
        (ModelSection::Vector(v), Some(b)) => {
            if !v.start.is_finite() {
                return Err(format!("model.start: {} must be finite", v.start));
            }
            b.problem(cfg.seed)?;
            make_search_strategy(&cfg.es, cfg.generations, b.dim)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        (ModelSection::Vector(_), None) => Err(format!(
            "task.name: model kind vector is searched on task `benchmark`, not `{}`",
            cfg.task.name()
        )),
        (model, Some(_)) => Err(format!(
            "task.name: task `benchmark` is a function of a plain vector, not of model kind {} (set [model] kind = \"vector\" and a search strategy such as es.strategy = \"cma_es\")",
            model.kind()
        )),
        (_, None) if is_search_strategy(&cfg.es.strategy) => make_strategy(&cfg.es, cfg.generations)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => Ok(()),
    }
}
