//! `eggroll bench strategies`: every search strategy on every benchmark problem at a few
//! dimensions, as in evosax's and EvoTorch's tables: over several seeds, the median number of
//! evaluations needed to reach a precision (`f ≤ precision`, best member so far) and the
//! median best value at a fixed budget of evaluations.

use eggroll_populations::problems::{Problem, ProblemKind};
use eggroll_populations::search::linalg::MAX_FULL_DIM;
use eggroll_populations::{make_search_strategy, search_strategy_names, EsConfig};
use rayon::prelude::*;
use serde::Serialize;

/// What to measure.
#[derive(Clone, Debug)]
pub struct StrategyBenchOptions {
    /// Dimensions D.
    pub dims: Vec<usize>,
    /// Seeds per cell (the problem's shift and the strategy's noise).
    pub seeds: u64,
    /// The precision to reach: `f(x) ≤ precision`.
    pub precision: f64,
    /// Budget in evaluations per dimension (D = 10: 10·budget).
    pub budget_per_dim: u64,
    /// Initial σ (the search starts at the origin; optima lie in `[−shift, shift]^D`).
    pub sigma: f64,
    /// Half-width of the box the optimum is drawn from.
    pub shift: f64,
    /// Largest D for `xnes` (one matrix exponential per generation).
    pub xnes_max_dim: usize,
    /// Only these strategies (empty: all).
    pub only: Vec<String>,
    /// Mirrored pairs where [`mirrored`] says they help; `false`: only PGPE (which needs
    /// them) samples pairs, every other strategy samples independently, as evosax does.
    pub mirrored: bool,
}

impl Default for StrategyBenchOptions {
    fn default() -> Self {
        StrategyBenchOptions {
            dims: vec![10, 100],
            seeds: 5,
            precision: 1e-3,
            budget_per_dim: 1000,
            sigma: 1.0,
            shift: 2.0,
            xnes_max_dim: 50,
            only: Vec::new(),
            mirrored: true,
        }
    }
}

/// One strategy on one problem in one dimension, over the seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// Strategy.
    pub strategy: String,
    /// Problem.
    pub problem: String,
    /// Dimension.
    pub dim: usize,
    /// Population size λ.
    pub population: u32,
    /// Whether members came in mirrored pairs `m ± σ·y`.
    pub mirrored: bool,
    /// Seeds that reached the precision within the budget.
    pub reached: usize,
    /// Seeds run.
    pub seeds: usize,
    /// Median evaluations to reach the precision (a seed that did not counts as infinite;
    /// `None` when the median did not reach it).
    pub median_evaluations: Option<u64>,
    /// Median best value at the budget.
    pub median_best: f64,
    /// Why the cell was not run (then the figures are empty).
    pub skipped: Option<String>,
}

/// The whole table.
#[derive(Clone, Debug, Serialize)]
pub struct StrategyBenchReport {
    /// The precision.
    pub precision: f64,
    /// Budget in evaluations per dimension.
    pub budget_per_dim: u64,
    /// Initial σ.
    pub sigma: f64,
    /// Shift box half-width.
    pub shift: f64,
    /// Every seed's optimum at the largest dimension (smaller ones are its prefixes), so
    /// other libraries can be run on the same problems.
    pub optima: Vec<Vec<f64>>,
    /// The cells, strategy-major.
    pub cells: Vec<Cell>,
}

/// Whether `strategy` samples mirrored pairs `m ± σ·y` here (`es.antithetic`, on by default
/// in a config): PGPE needs them; the CMA-ES family gains from them (Brockhoff et al. 2010,
/// "Mirrored sampling and sequential selection for evolution strategies"; pycma's
/// `CMA_mirrors`): over 51 seeds at D = 10, 16–27% fewer evaluations on every problem it
/// solves, 13–40% at D = 100. The NES family (snes, xnes) loses 2–5% with them (their σ
/// update sees each pair's `z²` twice), and CEM and GA reach no precision either way, so
/// they sample independently.
pub fn mirrored(strategy: &str) -> bool {
    matches!(strategy, "pgpe" | "cma_es" | "sep_cma_es")
}

/// Whether `strategy` samples mirrored pairs in this run of the bench.
fn samples_mirrored(strategy: &str, o: &StrategyBenchOptions) -> bool {
    strategy == "pgpe" || (o.mirrored && mirrored(strategy))
}

/// The default population of every strategy in dimension `d`: CMA-ES's `4 + ⌊3 ln d⌋`,
/// rounded up to even (PGPE samples pairs).
pub fn default_population(d: usize) -> u32 {
    let l = 4 + (3.0 * (d as f64).ln()).floor() as u32;
    l + l % 2
}

/// Evaluations to reach the precision (if reached) and the best value within the budget.
fn one_run(
    name: &str,
    kind: ProblemKind,
    dim: usize,
    seed: u64,
    o: &StrategyBenchOptions,
) -> eggroll_populations::error::Result<(Option<u64>, f64)> {
    let pop = default_population(dim);
    let cfg = EsConfig {
        strategy: name.into(),
        population: pop,
        sigma: o.sigma,
        antithetic: samples_mirrored(name, o),
        ..EsConfig::default()
    };
    let s = make_search_strategy(&cfg, 1, dim)?;
    let p = Problem::new(kind, dim, o.shift, seed)?;
    let mut st = s.init(seed, vec![0.0; dim])?;
    let budget = o.budget_per_dim * dim as u64;
    let (mut evals, mut best, mut reached) = (0u64, f64::INFINITY, None);
    let mut x = vec![0.0; dim];
    let mut f = vec![0.0f32; pop as usize];
    while evals + pop as u64 <= budget {
        for (m, fm) in f.iter_mut().enumerate() {
            s.member(&st, m as u32, &mut x)?;
            let v = p.value(&x);
            evals += 1;
            best = best.min(v);
            if best <= o.precision && reached.is_none() {
                reached = Some(evals);
            }
            *fm = -(v as f32);
        }
        s.tell(&mut st, &f)?;
    }
    Ok((reached, best))
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

/// Run the table (cells in parallel over the rayon pool; each run is sequential and
/// deterministic, so the figures do not depend on the thread count).
pub fn bench_strategies(
    o: &StrategyBenchOptions,
) -> eggroll_populations::error::Result<StrategyBenchReport> {
    let names: Vec<&str> = search_strategy_names()
        .into_iter()
        .filter(|n| o.only.is_empty() || o.only.iter().any(|m| m == n))
        .collect();
    let mut jobs = Vec::new();
    for &name in &names {
        for kind in ProblemKind::ALL {
            for &dim in &o.dims {
                jobs.push((name, kind, dim));
            }
        }
    }
    let cells = jobs
        .par_iter()
        .map(|&(name, kind, dim)| {
            let mut cell = Cell {
                strategy: name.into(),
                problem: kind.name().into(),
                dim,
                population: default_population(dim),
                mirrored: samples_mirrored(name, o),
                reached: 0,
                seeds: o.seeds as usize,
                median_evaluations: None,
                median_best: f64::NAN,
                skipped: None,
            };
            let limit = if name == "xnes" {
                o.xnes_max_dim
            } else {
                MAX_FULL_DIM
            };
            if (name == "xnes" || name == "cma_es") && dim > limit {
                cell.skipped = Some(format!("D > {limit}"));
                return Ok(cell);
            }
            let runs = (0..o.seeds)
                .into_par_iter()
                .map(|seed| one_run(name, kind, dim, seed, o))
                .collect::<eggroll_populations::error::Result<Vec<_>>>()?;
            cell.reached = runs.iter().filter(|r| r.0.is_some()).count();
            cell.median_evaluations = median(
                runs.iter()
                    .map(|r| r.0.unwrap_or(u64::MAX))
                    .collect::<Vec<_>>(),
            )
            .into();
            if cell.median_evaluations == Some(u64::MAX) {
                cell.median_evaluations = None;
            }
            cell.median_best = median(runs.iter().map(|r| r.1).collect());
            Ok(cell)
        })
        .collect::<eggroll_populations::error::Result<Vec<_>>>()?;
    let max_dim = o.dims.iter().copied().max().unwrap_or(1);
    let optima = (0..o.seeds)
        .map(|seed| Problem::new(ProblemKind::Sphere, max_dim, o.shift, seed).map(|p| p.shift))
        .collect::<eggroll_populations::error::Result<Vec<_>>>()?;
    Ok(StrategyBenchReport {
        precision: o.precision,
        budget_per_dim: o.budget_per_dim,
        sigma: o.sigma,
        shift: o.shift,
        optima,
        cells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_table_is_deterministic_and_cma_es_solves_the_sphere() {
        let o = StrategyBenchOptions {
            dims: vec![4],
            seeds: 3,
            budget_per_dim: 300,
            only: vec!["cma_es".into(), "ga".into()],
            ..StrategyBenchOptions::default()
        };
        let a = bench_strategies(&o).unwrap();
        let b = bench_strategies(&o).unwrap();
        assert_eq!(a.cells.len(), 12);
        assert_eq!(
            serde_json::to_string(&a.cells).unwrap(),
            serde_json::to_string(&b.cells).unwrap()
        );
        let sphere = a
            .cells
            .iter()
            .find(|c| c.strategy == "cma_es" && c.problem == "sphere")
            .unwrap();
        assert_eq!((sphere.reached, sphere.population), (3, 8));
        // CMA-ES samples mirrored pairs unless told not to; the GA never does.
        assert!(sphere.mirrored);
        assert!(a
            .cells
            .iter()
            .all(|c| c.mirrored == (c.strategy == "cma_es")));
        let plain = bench_strategies(&StrategyBenchOptions {
            mirrored: false,
            ..o.clone()
        })
        .unwrap();
        assert!(plain.cells.iter().all(|c| !c.mirrored));
        let plain_sphere = &plain.cells[a
            .cells
            .iter()
            .position(|c| std::ptr::eq(c, sphere))
            .unwrap()];
        assert_ne!(plain_sphere.median_evaluations, sphere.median_evaluations);
        assert!(sphere.median_evaluations.unwrap() < 1200 && sphere.median_best <= 1e-3);
        assert_eq!(a.optima.len(), 3);
        assert_eq!(default_population(10), 10);
        assert_eq!(default_population(100), 18);
    }
}
