//! `eggroll compare`: several training methods on one task under one budget, side by side.
//!
//! Every method is the comparison's base config with some keys changed, run in its own
//! directory (`OUT/<method>/`, an ordinary run directory) one after the other, so each has the
//! machine to itself. Each gets the same budget: wall-clock seconds (`run.max_seconds`) and/or
//! model evaluations (turned into generations). A method's run first stops at generation 0 to
//! keep its initial parameters (`initial.safetensors`), then resumes to the budget, so the
//! report can measure the accumulated update `W_final − W_initial` (its numerical rank, how
//! many parameters changed). [`report`] writes `report.md` and the PNG curves. Methods that
//! are not ES runs write the same run-directory files from their own step loops:
//! [`grpo_method`] (GRPO on a pretrained Llama) and [`gradient_method`] (Adam, LoRA, ReLoRA,
//! PeriodicLoRA on the from-scratch byte-level model).

pub mod gradient_method;
pub mod grpo_method;
pub mod report;
pub mod spec;
pub mod update;

use crate::bench::peak::{peak_memory_bytes, reset_peak_memory};
use crate::dist::SingleProcess;
use crate::error::{Error, Result};
use crate::models::train_run;
use crate::train::{latest_checkpoint, TrainOptions};
use crate::RunConfig;
use eggroll_core::Backend;
use spec::{CompareSpec, MethodKind, MethodSpec};
use std::path::{Path, PathBuf};
use update::UpdateStats;

/// What one method did within the budget.
#[derive(Clone, Debug)]
pub struct MethodResult {
    /// The method's name.
    pub name: String,
    /// Its run directory.
    pub dir: PathBuf,
    /// The judged metric before training.
    pub initial: Option<f64>,
    /// The judged metric at the end.
    pub last: Option<f64>,
    /// Generations (or steps) completed.
    pub generations: u64,
    /// Model evaluations spent.
    pub evaluations: u64,
    /// Wall seconds of training (evaluations included).
    pub seconds: f64,
    /// Peak resident memory of the process during the method, bytes.
    pub peak_memory: Option<u64>,
    /// The accumulated update.
    pub update: UpdateStats,
}

/// A method's config: the base with the method's changes and the budget.
pub fn method_config(spec: &CompareSpec, method: &MethodSpec) -> Result<RunConfig> {
    let base = spec.base_path();
    let mut overrides = spec.overrides(method);
    let cfg = RunConfig::load(&base, &overrides)?;
    if let (Some(evals), MethodKind::Es) = (spec.compare.budget_evaluations, method.kind) {
        let per_generation = cfg.es.population.max(1) as u64;
        overrides.push(format!("generations={}", evals.div_ceil(per_generation)));
    }
    if let Some(s) = spec.compare.budget_seconds {
        overrides.push(format!("run.max_seconds={s:?}"));
    }
    RunConfig::load(&base, &overrides)
}

/// Run every method of `spec` on `backend` into `out/<method>/` and write the report there.
pub fn run_compare<B: Backend>(
    backend: &B,
    spec: &CompareSpec,
    out: &Path,
    say: &mut dyn FnMut(&str),
) -> Result<(Vec<MethodResult>, report::Written)> {
    let configs: Vec<RunConfig> = spec
        .methods
        .iter()
        .map(|m| method_config(spec, m))
        .collect::<Result<_>>()?;
    for m in &spec.methods {
        let dir = out.join(&m.name);
        if latest_checkpoint(&dir).exists() || dir.join("initial.safetensors").exists() {
            return Err(Error::RunDir {
                dir: dir.display().to_string(),
                why: "already holds a run of this comparison; choose another --out".into(),
            });
        }
    }
    let metric = match &spec.compare.metric {
        Some(m) => m.clone(),
        None => default_metric(&configs[0]),
    };
    let mut results = Vec::new();
    for (m, cfg) in spec.methods.iter().zip(&configs) {
        say(&match m.kind {
            MethodKind::Es => format!(
                "compare: {} ({} N={} rank={})",
                m.name, cfg.es.strategy, cfg.es.population, cfg.es.rank
            ),
            MethodKind::Grpo => format!("compare: {} (grpo)", m.name),
            MethodKind::Gradient => format!(
                "compare: {} (gradient {})",
                m.name,
                m.gradient.clone().unwrap_or_default().method.name()
            ),
        });
        let dir = out.join(&m.name);
        let result = match m.kind {
            MethodKind::Es => run_es(backend, cfg, &m.name, &dir, &metric, spec)?,
            MethodKind::Grpo => grpo_method::run_grpo(
                cfg,
                &m.grpo.clone().unwrap_or_default(),
                &m.name,
                &dir,
                &metric,
                (spec.compare.budget_seconds, spec.compare.budget_evaluations),
                spec.compare.rank_tolerance,
            )?,
            MethodKind::Gradient => gradient_method::run_gradient(
                cfg,
                &m.gradient.clone().unwrap_or_default(),
                &m.name,
                &dir,
                &metric,
                &spec.compare,
                &mut *say,
            )?,
        };
        say(&format!(
            "compare: {} done: {} = {} after {} generations, {:.1} s",
            m.name,
            metric,
            result.last.map_or("–".into(), |v| format!("{v:.4}")),
            result.generations,
            result.seconds
        ));
        results.push(result);
    }
    let written = report::write(spec, &metric, &results, out)?;
    Ok((results, written))
}

/// The evaluation figure a config's task reports (what `compare` judges by default).
fn default_metric(cfg: &RunConfig) -> String {
    use crate::tasks::TaskConfig;
    match &cfg.task {
        TaskConfig::Rl(_) => "eval_return",
        TaskConfig::Text(_) => "eval_bits_per_byte",
        TaskConfig::Regression { .. } => "eval_loss",
        _ => "eval_accuracy",
    }
    .into()
}

/// One ES method: to generation 0 (keeping the initial parameters), then to the budget.
fn run_es<B: Backend>(
    backend: &B,
    cfg: &RunConfig,
    name: &str,
    dir: &Path,
    metric: &str,
    spec: &CompareSpec,
) -> Result<MethodResult> {
    let opts = |resume, stop_after| TrainOptions {
        out_dir: dir.to_path_buf(),
        resume,
        stop_after,
    };
    let comm = SingleProcess;
    reset_peak_memory();
    let first = train_run(
        backend,
        None,
        cfg,
        &opts(false, Some(0)),
        &comm,
        &mut |_| {},
    )?;
    let initial_path = dir.join("initial.safetensors");
    std::fs::copy(latest_checkpoint(dir), &initial_path).map_err(|error| Error::Io {
        path: initial_path.display().to_string(),
        error,
    })?;
    let done = train_run(backend, None, cfg, &opts(true, None), &comm, &mut |_| {})?;
    let peak_memory = peak_memory_bytes();
    let lookup =
        |m: &eggroll_core::task::Metrics| m.iter().find(|(k, _)| *k == metric).map(|(_, v)| *v);
    let update = update::measure(
        &initial_path,
        &latest_checkpoint(dir),
        spec.compare.rank_tolerance,
    )?;
    Ok(MethodResult {
        name: name.into(),
        dir: dir.to_path_buf(),
        initial: lookup(&first.initial_eval),
        last: lookup(&done.eval),
        generations: done.generation,
        evaluations: done.generation * cfg.es.population as u64,
        seconds: done.seconds,
        peak_memory,
        update,
    })
}
