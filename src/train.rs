//! The training loop: ask → evaluate the whole population → tell → one ES update, with
//! metrics, periodic evaluation and atomic checkpoints. Flat and readable on purpose.

use crate::config::{NanPolicy, RunConfig};
use crate::dist::{Communicator, SingleProcess};
use crate::error::{Error, Result};
use crate::metrics::MetricsLog;
use crate::run_lock::RunLock;
use crate::run_state::{from_checkpoint, to_checkpoint, RunState};
use crate::tasks::Task;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::mlp::{Mlp, MlpConfig};
use eggroll_core::model::{apply_es_update, zero_optim_state};
use eggroll_core::{Activation, Backend, Model};
use eggroll_populations::shard::shard_range;
use eggroll_populations::{make_strategy, StrategyState};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where and how to run.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Run directory.
    pub out_dir: PathBuf,
    /// Continue from `out_dir/checkpoints/latest.safetensors`.
    pub resume: bool,
    /// Stop after this generation count even if the run is longer (as if killed right after
    /// a checkpoint); the final checkpoint is written.
    pub stop_after: Option<u64>,
}

/// One generation's figures, for progress displays.
#[derive(Clone, Debug)]
pub struct GenerationReport {
    /// Generation just finished (0-based).
    pub generation: u64,
    /// Run length.
    pub total: u64,
    /// Mean raw fitness.
    pub fitness_mean: f64,
    /// Best raw fitness.
    pub fitness_max: f64,
    /// Evaluation metrics, when evaluated this generation.
    pub eval: Vec<(&'static str, f64)>,
    /// Wall seconds of this generation.
    pub seconds: f64,
}

/// What a finished (or stopped) run did.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// The next generation to run (= generations completed).
    pub generation: u64,
    /// Last evaluation metrics.
    pub eval: Vec<(&'static str, f64)>,
    /// Whether `run.stop_metric` reached `run.stop_value` before the last generation.
    pub stopped_early: bool,
    /// Evaluation of the initial model (fresh runs only).
    pub initial_eval: Vec<(&'static str, f64)>,
    /// Wall seconds of this invocation.
    pub seconds: f64,
}

/// Path of the latest checkpoint in a run directory.
pub fn latest_checkpoint(dir: &Path) -> PathBuf {
    dir.join("checkpoints").join("latest.safetensors")
}

/// Path of the checkpoint before the latest one (kept so a damaged latest can be skipped).
pub fn previous_checkpoint(dir: &Path) -> PathBuf {
    dir.join("checkpoints").join("previous.safetensors")
}

/// Write `ck` as the latest checkpoint, first keeping the current latest as the previous one.
/// A kill between the two steps leaves `previous` alone, which resume then uses.
fn save_rolling(ck: &Checkpoint, latest: &Path, previous: &Path) -> Result<()> {
    if latest.exists() {
        std::fs::rename(latest, previous).map_err(|e| Error::Io {
            path: previous.display().to_string(),
            error: e,
        })?;
    }
    Ok(ck.save_atomic(latest)?)
}

/// Load the latest checkpoint, or the previous one when the latest is missing or damaged
/// (the reason is printed, so a fallback is never silent).
fn load_latest_or_previous(latest: &Path, previous: &Path) -> Result<(Checkpoint, PathBuf)> {
    match Checkpoint::load(latest) {
        Ok(ck) => Ok((ck, latest.to_path_buf())),
        Err(e) if previous.exists() => {
            let ck = Checkpoint::load(previous)?;
            eprintln!(
                "warning: {e}; resuming from {} (generation {})",
                previous.display(),
                ck.metadata.get("generation").map_or("?", String::as_str)
            );
            Ok((ck, previous.to_path_buf()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Stop before a non-finite parameter can reach a checkpoint, naming the tensor and the
/// generation, and saying which checkpoint is still good.
fn check_finite<B: Backend>(
    backend: &B,
    model: &Mlp<B>,
    generation: u64,
    last_saved: Option<u64>,
) -> Result<()> {
    for (spec, buf) in model.specs().iter().zip(model.params()) {
        let host = backend.download(buf)?;
        if let Some(i) = host.iter().position(|v| !v.is_finite()) {
            let kept = match last_saved {
                Some(g) => format!("the checkpoint of generation {g} is kept intact"),
                None => "no checkpoint was written".into(),
            };
            return Err(Error::Training {
                generation,
                why: format!(
                    "the update made parameter {} non-finite (element {i} = {}); stopped before saving it, and {kept} (lower lr or es.sigma)",
                    spec.name, host[i]
                ),
            });
        }
    }
    Ok(())
}

/// The MLP shape a task and config imply.
pub fn model_config<B: Backend>(cfg: &RunConfig, task: &dyn Task<B>) -> MlpConfig {
    MlpConfig {
        input: task.input_dim(),
        hidden: cfg.model.hidden.clone(),
        output: task.output_dim(),
        activation: cfg.model.activation,
        output_activation: Activation::Identity,
        bias: cfg.model.bias,
    }
}

/// Train `cfg` on `backend` in this process alone, calling `progress` after every generation.
pub fn train<B: Backend>(
    backend: &B,
    cfg: &RunConfig,
    task: &dyn Task<B>,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(&GenerationReport),
) -> Result<TrainSummary> {
    train_distributed(backend, cfg, task, opts, &SingleProcess, progress)
}

/// Train with the population sharded over the processes of `comm`. Every rank evaluates its
/// contiguous share of members, the fitness is all-gathered, and every rank applies the same
/// update; rank 0 alone writes the run directory and reports progress.
pub fn train_distributed<B: Backend>(
    backend: &B,
    cfg: &RunConfig,
    task: &dyn Task<B>,
    opts: &TrainOptions,
    comm: &dyn Communicator,
    progress: &mut dyn FnMut(&GenerationReport),
) -> Result<TrainSummary> {
    let started = Instant::now();
    let leader = comm.rank() == 0;
    let hash = u64::from_str_radix(&cfg.hash()?, 16).unwrap_or_default();
    let hashes = comm.all_gather_u64(hash)?;
    if let Some(r) = hashes.iter().position(|&h| h != hash) {
        return Err(Error::RunDir {
            dir: opts.out_dir.display().to_string(),
            why: format!(
                "rank {r} has a different config (hash {:016x}) than rank {} ({hash:016x}); every rank must run the same config",
                hashes[r],
                comm.rank()
            ),
        });
    }
    let ckpt_path = latest_checkpoint(&opts.out_dir);
    let run_err = |why: String| Error::RunDir {
        dir: opts.out_dir.display().to_string(),
        why,
    };
    // Rank 0 alone writes the directory, so it alone holds the lock; it is taken before the
    // directory is inspected, so two processes never both see it empty or both resume it.
    let _lock = if leader {
        Some(RunLock::acquire(&opts.out_dir)?)
    } else {
        None
    };
    let previous = previous_checkpoint(&opts.out_dir);
    let has_checkpoint = ckpt_path.exists() || previous.exists();
    if has_checkpoint && !opts.resume {
        return Err(run_err(
            "already holds a run; pass --resume to continue it or choose another --out".into(),
        ));
    }
    if opts.resume && !has_checkpoint {
        return Err(run_err("has no checkpoint to resume from".into()));
    }
    if let Some(metric) = &cfg.run.stop_metric {
        let known = task.metric_names();
        if !known.contains(&metric.as_str()) {
            return Err(Error::Config {
                origin: "run.stop_metric".into(),
                why: format!(
                    "`{metric}` is not a metric of task {} (it reports {})",
                    cfg.task.name(),
                    known.join(", ")
                ),
            });
        }
    }
    crate::memory::check(
        cfg,
        task.input_dim(),
        task.output_dim(),
        task.rows_per_member(),
    )?;
    if leader {
        eggroll_core::checkpoint::write_atomic(
            &opts.out_dir.join("config.toml"),
            cfg.to_toml()?.as_bytes(),
        )?;
    }

    let strategy = make_strategy(&cfg.es, cfg.generations)?;
    let mcfg = model_config(cfg, task);
    let mut state = if opts.resume {
        let (ck, path) = load_latest_or_previous(&ckpt_path, &previous)?;
        if let Some(json) = ck.metadata.get("task_state") {
            task.load_state_json(json)?;
        }
        from_checkpoint(backend, cfg, mcfg, &ck, &path)?
    } else {
        let model = Mlp::init(backend, mcfg, cfg.seed)?;
        let optim = zero_optim_state(backend, model.specs(), cfg.optimizer.state_slots())?;
        RunState {
            model,
            optim,
            strategy: StrategyState {
                seed: cfg.seed,
                generation: 0,
                total_generations: cfg.generations,
            },
        }
    };
    state.strategy.total_generations = cfg.generations;
    let mut log = if leader {
        Some(MetricsLog::open(
            &opts.out_dir.join("metrics.jsonl"),
            state.strategy.generation,
        )?)
    } else {
        None
    };
    let end = opts
        .stop_after
        .map_or(cfg.generations, |s| s.min(cfg.generations));
    let lr = cfg.lr.schedule(cfg.generations);
    let mut last_eval = Vec::new();
    let mut stopped_early = false;
    let mut last_saved = opts.resume.then_some(state.strategy.generation);
    let initial_eval = if opts.resume || !leader {
        Vec::new()
    } else {
        task.evaluate(backend, &state.model)?
    };
    while state.strategy.generation < end {
        let g = state.strategy.generation;
        let t0 = Instant::now();
        let pop = strategy.ask(&state.strategy)?;
        let counts: Vec<usize> = (0..comm.size())
            .map(|r| shard_range(pop.size, comm.size() as u32, r as u32).len())
            .collect();
        let mine = shard_range(pop.size, comm.size() as u32, comm.rank() as u32);
        let bytes_before = comm.bytes_exchanged();
        let local = task.fitness(backend, &state.model, &pop, mine, g)?;
        let mut fitness = comm.all_gather_f32(&local, &counts)?;
        let bytes = comm.bytes_exchanged() - bytes_before;
        let nonfinite = apply_nan_policy(&mut fitness, cfg.run.nan_policy, g)?;
        let weights = strategy.tell(&mut state.strategy, &pop, &fitness)?;
        let step = cfg.optimizer.step(g + 1, lr.at(g), pop.size);
        apply_es_update(
            backend,
            &mut state.model,
            &mut state.optim,
            &pop,
            &weights,
            &step,
        )?;
        check_finite(backend, &state.model, g, last_saved)?;
        task.after_generation(backend, &state.model, g)?;

        let done = state.strategy.generation;
        // With early stopping every rank evaluates (identically), so all stop together.
        let evaluate_here = leader || cfg.run.stop_metric.is_some();
        let eval = if evaluate_here && (done % cfg.run.eval_every == 0 || done == end) {
            task.evaluate(backend, &state.model)?
        } else {
            Vec::new()
        };
        let seconds = t0.elapsed().as_secs_f64();
        let (mean, max) = mean_max(&fitness);
        let mut line = Map::new();
        line.insert("generation".into(), json!(g));
        line.insert("fitness_mean".into(), json!(mean));
        line.insert("fitness_max".into(), json!(max));
        line.insert("sigma".into(), json!(pop.sigma));
        line.insert("lr".into(), json!(lr.at(g)));
        line.insert("seconds".into(), json!(seconds));
        line.insert("nonfinite".into(), json!(nonfinite));
        if comm.size() > 1 {
            line.insert("ranks".into(), json!(comm.size()));
            line.insert("bytes_exchanged".into(), json!(bytes));
        }
        for (k, v) in &eval {
            line.insert((*k).into(), json!(v));
        }
        let reached = cfg.run.target_reached(&eval);
        if let Some(log) = log.as_mut() {
            log.append(&Value::Object(line))?;
            if done % cfg.run.checkpoint_every == 0 || done == end || reached {
                let mut ck = to_checkpoint(backend, cfg, &state)?;
                if let Some(json) = task.state_json() {
                    ck.metadata.insert("task_state".into(), json);
                }
                save_rolling(&ck, &ckpt_path, &previous)?;
                last_saved = Some(done);
            }
        }
        if !eval.is_empty() {
            last_eval = eval.clone();
        }
        if !leader {
            continue;
        }
        progress(&GenerationReport {
            generation: g,
            total: cfg.generations,
            fitness_mean: mean,
            fitness_max: max,
            eval,
            seconds,
        });
        if reached {
            stopped_early = true;
            break;
        }
    }
    if leader && !ckpt_path.exists() {
        // `--stop-after 0` (or a run already complete) still leaves a checkpoint to resume.
        let mut ck = to_checkpoint(backend, cfg, &state)?;
        if let Some(json) = task.state_json() {
            ck.metadata.insert("task_state".into(), json);
        }
        save_rolling(&ck, &ckpt_path, &previous)?;
    }
    Ok(TrainSummary {
        generation: state.strategy.generation,
        eval: last_eval,
        initial_eval,
        stopped_early,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn mean_max(f: &[f32]) -> (f64, f64) {
    let mean = f.iter().map(|&v| v as f64).sum::<f64>() / f.len().max(1) as f64;
    let max = f.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    (mean, max)
}

/// Apply the NaN policy; returns how many members were non-finite.
pub fn apply_nan_policy(fitness: &mut [f32], policy: NanPolicy, generation: u64) -> Result<usize> {
    let bad: Vec<usize> = (0..fitness.len())
        .filter(|&i| !fitness[i].is_finite())
        .collect();
    if bad.is_empty() {
        return Ok(0);
    }
    let fail = |why: String| Error::Training { generation, why };
    match policy {
        NanPolicy::Error => Err(fail(format!(
            "member {} has non-finite fitness {} ({} of {} members); parameters were not updated \
             (set run.nan_policy = \"worst\" to treat such members as the worst)",
            bad[0],
            fitness[bad[0]],
            bad.len(),
            fitness.len()
        ))),
        NanPolicy::Worst => {
            let worst = fitness
                .iter()
                .filter(|v| v.is_finite())
                .fold(f32::INFINITY, |m, &v| m.min(v));
            if !worst.is_finite() {
                return Err(fail("every member's fitness is non-finite".into()));
            }
            for &i in &bad {
                fitness[i] = worst;
            }
            Ok(bad.len())
        }
    }
}
