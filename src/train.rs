//! The one training loop of every model family: ask → score this process's share of the
//! population → gather the fitness → tell → the learner's update, with metrics, periodic
//! evaluation and atomic checkpoints. Flat and readable on purpose; what differs between
//! families sits behind [`Learner`] (built by `crate::models` from `[model] kind`).

use crate::config::{NanPolicy, RunConfig};
use crate::dist::Communicator;
use crate::error::{Error, Result};
use crate::metrics::MetricsLog;
use crate::run_lock::RunLock;
use crate::run_state::{from_checkpoint, to_checkpoint};
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::learner::Learner;
use eggroll_core::population::Population;
use eggroll_core::task::Metrics;
use eggroll_populations::shard::member_shard;
use eggroll_populations::{make_relay, make_strategy, StrategyState};
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
    pub eval: Metrics,
    /// The family's own figures of this generation (training bits/byte, weights changed, …).
    pub extra: Metrics,
    /// Wall seconds of this generation.
    pub seconds: f64,
}

/// What a finished (or stopped) run did.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// The next generation to run (= generations completed).
    pub generation: u64,
    /// Last evaluation metrics.
    pub eval: Metrics,
    /// Whether `run.stop_metric` reached `run.stop_value` before the last generation.
    pub stopped_early: bool,
    /// Whether the run stopped on its wall-clock budget (`run.max_seconds`).
    pub out_of_time: bool,
    /// Evaluation of the initial model (fresh runs only).
    pub initial_eval: Metrics,
    /// Wall seconds of this invocation.
    pub seconds: f64,
    /// The learner's reference figures (also in `baselines.json`; empty for most families).
    pub baselines: Metrics,
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

/// Train `cfg` in this process alone (the EGG model's products on the CPU), calling
/// `progress` after every generation.
pub fn train<B: eggroll_core::Backend>(
    backend: &B,
    cfg: &RunConfig,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(&GenerationReport),
) -> Result<TrainSummary> {
    crate::models::train_run(
        backend,
        None,
        cfg,
        opts,
        &crate::dist::SingleProcess,
        progress,
    )
}

/// Stop before a non-finite parameter can reach a checkpoint, naming the tensor and the
/// generation, and saying which checkpoint is still good.
fn check_finite<L: Learner>(learner: &L, generation: u64, last_saved: Option<u64>) -> Result<()>
where
    Error: From<L::Error>,
{
    let Some((name, i, value)) = learner.first_nonfinite()? else {
        return Ok(());
    };
    let kept = match last_saved {
        Some(g) => format!("the checkpoint of generation {g} is kept intact"),
        None => "no checkpoint was written".into(),
    };
    Err(Error::Training {
        generation,
        why: format!(
            "the update made parameter {name} non-finite (element {i} = {value}); stopped before saving it, and {kept} (lower lr or es.sigma)"
        ),
    })
}

/// Gather the per-member state every process updated for its own members only (see
/// [`Learner::member_state`]), so the checkpoint holds every member's.
fn gather_member_state<L: Learner>(
    learner: &mut L,
    pop: &Population,
    comm: &dyn Communicator,
) -> Result<()>
where
    Error: From<L::Error>,
{
    let size = comm.size() as u32;
    if size == 1 {
        return Ok(());
    }
    let mine = member_shard(pop, size, comm.rank() as u32);
    let Some(local) = learner.member_state(mine.clone()) else {
        return Ok(());
    };
    let per = local.len() / mine.len().max(1);
    let counts: Vec<usize> = (0..size)
        .map(|r| member_shard(pop, size, r).len() * per)
        .collect();
    let all = comm.all_gather_f32(&local, &counts)?;
    Ok(learner.set_member_state(&all)?)
}

/// Train `learner` as `cfg` says, with the population sharded over the processes of `comm`.
/// Every rank scores its contiguous share of members (whole antithetic pairs), the fitness is
/// all-gathered, and every rank applies the same update; rank 0 alone writes the run
/// directory and reports progress. `crate::models::train_run` builds the learner.
pub fn run_loop<L: Learner>(
    learner: &mut L,
    cfg: &RunConfig,
    opts: &TrainOptions,
    comm: &dyn Communicator,
    progress: &mut dyn FnMut(&GenerationReport),
) -> Result<TrainSummary>
where
    Error: From<L::Error>,
{
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
        let known = learner.metric_names();
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
    if let Some(limit) = cfg.run.max_seconds {
        if !(limit > 0.0 && limit.is_finite()) {
            return Err(Error::Config {
                origin: "run.max_seconds".into(),
                why: format!("{limit} is not a positive number of seconds"),
            });
        }
        if comm.size() > 1 {
            return Err(Error::Config {
                origin: "run.max_seconds".into(),
                why: format!(
                    "a wall-clock budget needs one process ({} ranks could stop at different generations); bound the run by `generations` instead",
                    comm.size()
                ),
            });
        }
    }
    let baselines = learner.baselines();
    if leader {
        eggroll_core::checkpoint::write_atomic(
            &opts.out_dir.join("config.toml"),
            cfg.to_toml()?.as_bytes(),
        )?;
        if !baselines.is_empty() {
            let map: Map<String, Value> = baselines
                .iter()
                .map(|(k, v)| ((*k).to_string(), json!(v)))
                .collect();
            eggroll_core::checkpoint::write_atomic(
                &opts.out_dir.join("baselines.json"),
                Value::Object(map).to_string().as_bytes(),
            )?;
        }
    }

    // A learner with its own search strategy gets the raw fitness relayed; every other
    // learner follows the noise strategy's update.
    let strategy = if learner.takes_raw_fitness() {
        make_relay(&cfg.es, cfg.generations)?
    } else {
        make_strategy(&cfg.es, cfg.generations)?
    };
    let mut state = if opts.resume {
        let (ck, path) = load_latest_or_previous(&ckpt_path, &previous)?;
        from_checkpoint(cfg, &ck, &path, learner)?
    } else {
        StrategyState {
            seed: cfg.seed,
            generation: 0,
            total_generations: cfg.generations,
        }
    };
    state.total_generations = cfg.generations;
    let mut log = if leader {
        Some(MetricsLog::open(
            &opts.out_dir.join("metrics.jsonl"),
            state.generation,
        )?)
    } else {
        None
    };
    let end = opts
        .stop_after
        .map_or(cfg.generations, |s| s.min(cfg.generations));
    let mut last_eval = Vec::new();
    let mut stopped_early = false;
    let mut ran_out_of_time = false;
    let mut last_saved = opts.resume.then_some(state.generation);
    let initial_eval = if opts.resume || !leader {
        Vec::new()
    } else {
        learner.evaluate()?
    };
    let loop_started = Instant::now();
    while state.generation < end {
        let g = state.generation;
        let t0 = Instant::now();
        let pop = strategy.ask(&state)?;
        let width = learner.scores_per_member();
        let counts: Vec<usize> = (0..comm.size())
            .map(|r| member_shard(&pop, comm.size() as u32, r as u32).len() * width)
            .collect();
        let mine = member_shard(&pop, comm.size() as u32, comm.rank() as u32);
        let bytes_before = comm.bytes_exchanged();
        let local = learner.fitness(&pop, mine, g)?;
        let scores = comm.all_gather_f32(&local, &counts)?;
        let mut fitness = learner.combine_scores(&pop, scores)?;
        let bytes = comm.bytes_exchanged() - bytes_before;
        let nonfinite = apply_nan_policy(&mut fitness, cfg.run.nan_policy, g)?;
        let extra = learner.fitness_metrics(&fitness);
        let update = strategy.tell(&mut state, &pop, &fitness)?;
        let applied = learner.apply(&pop, &update, g)?;
        check_finite(learner, g, last_saved)?;

        let done = state.generation;
        let out_of_time = cfg
            .run
            .max_seconds
            .is_some_and(|limit| loop_started.elapsed().as_secs_f64() >= limit);
        // With early stopping every rank evaluates (identically), so all stop together.
        let evaluate_here = leader || cfg.run.stop_metric.is_some();
        let eval =
            if evaluate_here && (done % cfg.run.eval_every == 0 || done == end || out_of_time) {
                learner.evaluate()?
            } else {
                Vec::new()
            };
        let seconds = t0.elapsed().as_secs_f64();
        let (mean, max) = mean_max(&fitness);
        let mut line = Map::new();
        line.insert("generation".into(), json!(g));
        line.insert("fitness_mean".into(), json!(mean));
        line.insert("fitness_max".into(), json!(max));
        if pop.antithetic {
            // Pairs whose two members scored the same carry no signal (a discrete reward, a
            // σ too small to change an answer): the share tells whether σ is large enough.
            line.insert("pairs_tied".into(), json!(tied_pairs(&pop, &fitness)));
        }
        line.insert("seconds".into(), json!(seconds));
        // Member evaluations this generation (the x axis of `plot --x evaluations`).
        line.insert("evaluations".into(), json!(pop.size));
        line.insert("nonfinite".into(), json!(nonfinite));
        if comm.size() > 1 {
            line.insert("ranks".into(), json!(comm.size()));
            line.insert("bytes_exchanged".into(), json!(bytes));
        }
        for (k, v) in extra.iter().chain(&applied).chain(&eval) {
            line.insert((*k).into(), number(*v));
        }
        let reached = cfg.run.target_reached(&eval);
        // Every rank takes the same decision (with early stopping every rank evaluates).
        let save = done % cfg.run.checkpoint_every == 0 || done == end || reached || out_of_time;
        if save {
            gather_member_state(learner, &pop, comm)?;
        }
        if let Some(log) = log.as_mut() {
            log.append(&Value::Object(line))?;
            if save {
                save_rolling(&to_checkpoint(cfg, &state, learner)?, &ckpt_path, &previous)?;
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
            extra,
            seconds,
        });
        if reached {
            stopped_early = true;
            break;
        }
        if out_of_time {
            ran_out_of_time = true;
            break;
        }
    }
    if leader && !ckpt_path.exists() {
        // `--stop-after 0` (or a run already complete) still leaves a checkpoint to resume.
        save_rolling(&to_checkpoint(cfg, &state, learner)?, &ckpt_path, &previous)?;
    }
    Ok(TrainSummary {
        generation: state.generation,
        eval: last_eval,
        initial_eval,
        stopped_early,
        out_of_time: ran_out_of_time,
        seconds: started.elapsed().as_secs_f64(),
        baselines,
    })
}

/// A metric as JSON: whole numbers (counts) as integers, the rest as floats.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// The share of antithetic pairs `(2k, 2k+1)` whose members' fitness is equal.
/// The share of perturbed antithetic pairs whose two members scored the same (baseline pairs,
/// unperturbed and so always tied, are left out).
fn tied_pairs(pop: &Population, f: &[f32]) -> f64 {
    let perturbed = f
        .chunks_exact(2)
        .enumerate()
        .filter(|(k, _)| !pop.is_baseline(2 * *k as u32));
    let (pairs, tied) = perturbed.fold((0usize, 0usize), |(n, t), (_, p)| {
        (n + 1, t + usize::from(p[0] == p[1]))
    });
    tied as f64 / pairs.max(1) as f64
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
