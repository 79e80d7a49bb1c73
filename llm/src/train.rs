//! The EGG training loop: evaluate the population, fold pair signs, apply the integer update,
//! log a metrics line, checkpoint; resumable bit-identically from its last checkpoint.

use crate::checkpoint::{self, TrainState};
use crate::config::EggConfig;
use crate::data::{self, Baselines, Corpus, Streams};
use crate::error::{LlmError, Result};
use crate::evaluate::{bits_per_byte, evaluate_plain, evaluate_population, PopulationSpec};
use crate::params::Weights;
use crate::update::{es_update, pair_signs};
use eggroll_core::int::DynIntKernels;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One generation's figures (one line of `metrics.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationReport {
    /// Completed generations (1 after the first).
    pub generation: u64,
    /// Mean member fitness: log2-likelihood per byte (negative; higher is better).
    pub fitness_mean: f64,
    /// Best member fitness, same unit.
    pub fitness_max: f64,
    /// −fitness_mean: the population's training bits/byte.
    pub train_bits_per_byte: f64,
    /// Validation bits/byte of the unperturbed model, when evaluated this generation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub eval_bits_per_byte: Option<f64>,
    /// Weights that moved this generation.
    pub weights_changed: u64,
    /// Pairs whose two members scored differently.
    pub active_pairs: u64,
    /// The z-test's α this generation.
    pub alpha: f64,
    /// Training wall time so far (including earlier runs of a resumed run), seconds.
    pub seconds: f64,
    /// Population member-tokens per second of this generation (evaluation + update).
    pub member_tokens_per_second: f64,
}

/// What a finished `train` call reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Completed generations.
    pub generations: u64,
    /// Validation bits/byte at the end.
    pub eval_bits_per_byte: f64,
    /// Unigram and bigram baselines of the same corpus.
    pub baselines: Baselines,
    /// Number of int8 parameters.
    pub parameters: usize,
    /// Training wall time, seconds.
    pub seconds: f64,
}

/// Config fields that do not change the training trajectory (may differ on resume).
fn trajectory(cfg: &EggConfig) -> EggConfig {
    EggConfig {
        data: String::new(),
        generations: 0,
        eval_every: 0,
        eval_bytes: 1,
        eval_streams: 1,
        checkpoint_every: 1,
        chunk_members: 2,
        ..cfg.clone()
    }
}

/// Path of the rolling checkpoint inside a run directory.
pub fn latest_checkpoint(out_dir: &Path) -> PathBuf {
    out_dir.join("checkpoints").join("latest.safetensors")
}

/// Validation bits/byte of `wts` under `cfg`'s evaluation settings.
/// Matrix products run on `kernels` when given.
pub fn validation_bits(
    cfg: &EggConfig,
    wts: &Weights,
    val: &[u8],
    kernels: Option<&dyn DynIntKernels>,
) -> Result<f64> {
    let n = cfg.eval_bytes.min(val.len());
    let (ll, count) = evaluate_plain(wts, &val[..n], cfg.eval_streams, kernels)?;
    Ok(bits_per_byte(ll, count))
}

/// Train on `data` into `out_dir` for `generations` (default: the config's) generations,
/// continuing from `out_dir`'s latest checkpoint when `resume` is set and one exists.
/// Writes `config.toml`, `baselines.json` (unigram/bigram bits/byte of the same corpus),
/// `metrics.jsonl` and `checkpoints/latest.safetensors`.
pub fn train(
    cfg: &EggConfig,
    data: &[u8],
    out_dir: &Path,
    generations: Option<u64>,
    resume: bool,
    progress: &mut dyn FnMut(&GenerationReport),
) -> Result<TrainSummary> {
    train_on(None, cfg, data, out_dir, generations, resume, progress)
}

/// [`train`] with the model's matrix products on `kernels` (a GPU backend, say; `None`: the
/// CPU). Every backend gives the same bits, so runs and checkpoints are interchangeable.
pub fn train_on(
    kernels: Option<&dyn DynIntKernels>,
    cfg: &EggConfig,
    data: &[u8],
    out_dir: &Path,
    generations: Option<u64>,
    resume: bool,
    progress: &mut dyn FnMut(&GenerationReport),
) -> Result<TrainSummary> {
    cfg.validate()?;
    let corpus = Corpus::split(data, cfg.val_fraction, cfg.window)?;
    let scored = cfg.eval_bytes.min(corpus.val.len()) / cfg.eval_streams.clamp(1, corpus.val.len());
    if scored < 2 {
        return Err(LlmError::Data {
            what: "validation split".into(),
            why: format!(
                "{} bytes in {} eval_streams leave no byte to score per stream (need 2 per stream: raise val_fraction or eval_bytes, or lower eval_streams)",
                corpus.val.len().min(cfg.eval_bytes),
                cfg.eval_streams
            ),
        });
    }
    let base = data::baselines(&corpus);
    let fp = data::fingerprint(data);
    let total = generations.unwrap_or(cfg.generations);
    let ckpt_path = latest_checkpoint(out_dir);
    std::fs::create_dir_all(out_dir).map_err(|e| LlmError::io(out_dir, e))?;
    let mut state = if resume && ckpt_path.exists() {
        let (old, st, old_fp) = checkpoint::load_state(&ckpt_path)?;
        if trajectory(&old) != trajectory(cfg) {
            return Err(LlmError::checkpoint(
                &ckpt_path,
                "was written with a different model or training config; resume needs the same values",
            ));
        }
        if old_fp != fp {
            return Err(LlmError::checkpoint(
                &ckpt_path,
                "was trained on different data",
            ));
        }
        st
    } else {
        TrainState {
            weights: Weights::init(cfg.d_model, cfg.n_layers, cfg.seed),
            hidden: vec![0; cfg.population as usize * cfg.n_layers * cfg.d_model],
            streams: Streams::new(cfg.population as usize / 2, corpus.train.len(), cfg.window),
            generation: 0,
            elapsed: 0.0,
        }
    };
    let config_text =
        toml::to_string(cfg).map_err(|e| LlmError::config("config", e.to_string()))?;
    eggroll_core::checkpoint::write_atomic(&out_dir.join("config.toml"), config_text.as_bytes())?;
    let base_text = serde_json::to_string_pretty(&base).unwrap_or_default();
    eggroll_core::checkpoint::write_atomic(&out_dir.join("baselines.json"), base_text.as_bytes())?;
    let metrics_path = out_dir.join("metrics.jsonl");
    let mut metrics = open_metrics(&metrics_path, state.generation)?;

    let mut last_eval = f64::NAN;
    let start = Instant::now();
    let elapsed0 = state.elapsed;
    while state.generation < total {
        let t0 = Instant::now();
        let g = state.generation;
        let epoch = (g / cfg.noise_reuse as u64) as u32;
        let (wins, resets) = state.streams.windows(&corpus.train, cfg.window);
        let spec = PopulationSpec {
            seed: cfg.seed,
            epoch,
            rank: cfg.rank as usize,
            sigma_shift: cfg.sigma_shift,
            chunk_members: cfg.chunk_members,
            share_pair_state: cfg.share_pair_state,
        };
        let scores = evaluate_population(
            &state.weights,
            spec,
            &wins,
            &resets,
            &mut state.hidden,
            kernels,
        )?;
        let signs = pair_signs(&scores);
        let alpha = cfg.alpha_fixed(g);
        let stats = es_update(
            &mut state.weights,
            cfg.seed,
            epoch,
            cfg.rank as usize,
            &signs,
            alpha,
        );
        state.streams.advance(cfg.window);
        state.generation += 1;
        let gen_secs = t0.elapsed().as_secs_f64();
        let done = state.generation;
        let eval_due =
            done == 1 || done == total || (cfg.eval_every > 0 && done % cfg.eval_every == 0);
        let eval = match eval_due {
            true => Some(validation_bits(cfg, &state.weights, &corpus.val, kernels)?),
            false => None,
        };
        if let Some(e) = eval {
            last_eval = e;
        }
        state.elapsed = elapsed0 + start.elapsed().as_secs_f64();
        let per_byte = |s: i64| s as f64 / 16.0 / cfg.window as f64;
        let mean = scores.iter().map(|&s| per_byte(s)).sum::<f64>() / scores.len() as f64;
        let report = GenerationReport {
            generation: done,
            fitness_mean: mean,
            fitness_max: scores.iter().map(|&s| per_byte(s)).fold(f64::MIN, f64::max),
            train_bits_per_byte: -mean,
            eval_bits_per_byte: eval,
            weights_changed: stats.changed,
            active_pairs: stats.active_pairs,
            alpha: alpha as f64 / (1u64 << 31) as f64,
            seconds: state.elapsed,
            member_tokens_per_second: (cfg.population as usize * cfg.window) as f64 / gen_secs,
        };
        let line = serde_json::to_string(&report).unwrap_or_default();
        writeln!(metrics, "{line}").map_err(|e| LlmError::io(&metrics_path, e))?;
        metrics
            .flush()
            .map_err(|e| LlmError::io(&metrics_path, e))?;
        progress(&report);
        if done % cfg.checkpoint_every == 0 || done == total {
            checkpoint::save(&ckpt_path, cfg, &state, fp)?;
        }
    }
    if last_eval.is_nan() {
        last_eval = validation_bits(cfg, &state.weights, &corpus.val, kernels)?;
    }
    Ok(TrainSummary {
        generations: state.generation,
        eval_bits_per_byte: last_eval,
        baselines: base,
        parameters: state.weights.layout.total(),
        seconds: state.elapsed,
    })
}

/// Open `metrics.jsonl` for appending, first dropping lines past generation `keep` (a resumed
/// run rewrites the generations after its checkpoint).
fn open_metrics(path: &Path, keep: u64) -> Result<std::fs::File> {
    let kept: Vec<String> = if keep > 0 {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v.get("generation").and_then(|g| g.as_u64()))
                    .is_some_and(|g| g <= keep)
            })
            .map(str::to_string)
            .collect()
    } else {
        Vec::new()
    };
    let mut text = kept.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| LlmError::io(path, e))?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| LlmError::io(path, e))
}
