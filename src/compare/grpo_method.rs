//! A GRPO method of `eggroll compare`: the base config's Llama model and reasoning task
//! finetuned by GRPO (LoRA adapters or full finetuning) on the gradient model, to the same
//! budget as the ES methods, writing an ordinary run directory (`metrics.jsonl` with `seconds`
//! and `evaluations`, `initial.safetensors` and `checkpoints/latest.safetensors` holding the
//! trained projections as `params.<name>`, merged with the adapters), so the report and the
//! plots read it as they read an ES run.

use super::update;
use super::MethodResult;
use crate::bench::peak::{peak_memory_bytes, reset_peak_memory};
use crate::config::ModelSection;
use crate::error::{Error, Result};
use crate::metrics::MetricsLog;
use crate::tasks::TaskConfig;
use crate::RunConfig;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::cpu::Cpu;
use eggroll_core::task::Task;
use eggroll_llm::finetune::base::load_base;
use eggroll_llm::finetune::task::ReasoningTask;
use eggroll_llm::grad::{AdamW, GradModel, Lora, LoraConfig, LoraTargets};
use eggroll_llm::grpo::{Grpo, GrpoConfig, GrpoLossConfig, LossAggregation, RewardScale};
use eggroll_llm::llama::Llama;
use eggroll_llm::reasoning;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::time::Instant;

/// `[method.grpo]`: GRPO's settings (TRL's names where it has them).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GrpoMethodConfig {
    /// LoRA rank (0: full finetuning of every tensor).
    #[serde(default = "d_rank")]
    pub lora_rank: usize,
    /// LoRA α (scale α/r).
    #[serde(default = "d_alpha")]
    pub lora_alpha: f32,
    /// LoRA target modules (`all-linear` or names such as `q`, `v_proj`).
    #[serde(default = "d_targets")]
    pub lora_targets: Vec<String>,
    /// AdamW learning rate.
    #[serde(default = "d_lr")]
    pub lr: f64,
    /// AdamW decoupled weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Completions per prompt, G.
    #[serde(default = "d_group")]
    pub group_size: usize,
    /// Prompts per step.
    #[serde(default = "d_prompts")]
    pub prompts: usize,
    /// Optimiser steps per batch of completions, μ.
    #[serde(default = "d_one")]
    pub iterations: usize,
    /// KL weight β (0: no reference model).
    #[serde(default)]
    pub beta: f32,
    /// Clip range ε (ε_low).
    #[serde(default = "d_eps")]
    pub epsilon: f32,
    /// Upper clip range (default: ε).
    #[serde(default)]
    pub epsilon_high: Option<f32>,
    /// `grpo`, `dapo` or `dr_grpo`.
    #[serde(default = "d_loss")]
    pub loss_type: String,
    /// `group`, `batch` or `none`.
    #[serde(default = "d_scale")]
    pub scale_rewards: String,
    /// Leave completions cut by the token budget out of the loss.
    #[serde(default)]
    pub mask_truncated: bool,
}

fn d_rank() -> usize {
    8
}
fn d_alpha() -> f32 {
    16.0
}
fn d_targets() -> Vec<String> {
    vec!["all-linear".into()]
}
fn d_lr() -> f64 {
    1e-5
}
fn d_group() -> usize {
    8
}
fn d_prompts() -> usize {
    4
}
fn d_one() -> usize {
    1
}
fn d_eps() -> f32 {
    0.2
}
fn d_loss() -> String {
    "dapo".into()
}
fn d_scale() -> String {
    "group".into()
}

impl Default for GrpoMethodConfig {
    fn default() -> Self {
        toml::from_str("").unwrap_or_else(|_| unreachable!("every field has a default"))
    }
}

/// The trained projections of `llama` (its first `n` projections, as `set_trained` ordered
/// them) with the adapters folded in, as `params.<name>` tensors.
pub(super) fn trained_checkpoint(
    llama: &Llama,
    lora: Option<&Lora>,
    n: usize,
) -> Result<Checkpoint> {
    let mut w = llama.weights.clone();
    if let Some(l) = lora {
        l.merge(&mut w)?;
    }
    let mut ck = Checkpoint::default();
    for (info, data) in w.proj_info.iter().zip(&w.proj_data).take(n) {
        ck.insert(
            format!("params.{}", info.name),
            vec![info.rows, info.cols],
            data.clone(),
        );
    }
    Ok(ck)
}

/// Held-out metrics of the current policy (adapters folded in for the evaluation).
fn evaluate(
    cpu: &Cpu,
    task: &ReasoningTask,
    model: &mut GradModel,
) -> Result<Vec<(&'static str, f64)>> {
    Ok(model.with_adapters_merged(|llama| task.evaluate(cpu, llama))??)
}

/// Run GRPO as `method` to the comparison's budget in `dir`.
pub fn run_grpo(
    cfg: &RunConfig,
    g: &GrpoMethodConfig,
    name: &str,
    dir: &Path,
    metric: &str,
    budget: (Option<f64>, Option<u64>),
    rank_tolerance: f64,
) -> Result<MethodResult> {
    let bad = |why: String| Error::Config {
        origin: format!("method {name}"),
        why,
    };
    let (ModelSection::Llama(m), TaskConfig::Reasoning(t)) = (&cfg.model, &cfg.task) else {
        return Err(bad("kind grpo needs a base config with [model] kind = \"llama\" and [task] name = \"reasoning\"".into()));
    };
    std::fs::create_dir_all(dir.join("checkpoints")).map_err(|error| Error::Io {
        path: dir.display().to_string(),
        error,
    })?;
    reset_peak_memory();
    let cpu = Cpu::new();
    let base = load_base(Path::new(&m.path))?;
    let mut llama = base.model;
    llama.set_trained(m.selector(llama.config.n_layers)?);
    let n_trained = eggroll_core::Model::<Cpu>::specs(&llama).len();
    let task = ReasoningTask::new(t, base.tokenizer.clone())?;
    let stop = eggroll_llm::llama::text::stop_tokens(&base.tokenizer);
    let lora = if g.lora_rank > 0 {
        let targets: Vec<&str> = g.lora_targets.iter().map(String::as_str).collect();
        Some(Lora::new(
            LoraConfig {
                rank: g.lora_rank,
                alpha: g.lora_alpha,
                rslora: false,
                dropout: 0.0,
                targets: LoraTargets::parse(&targets)?,
                seed: cfg.seed,
            },
            &llama.weights,
        )?)
    } else {
        None
    };
    let full = lora.is_none();
    let mut model = GradModel::new(llama, lora, full);
    let trainable = model.counts().trainable as u64;
    let loss = GrpoLossConfig {
        eps_low: g.epsilon,
        eps_high: g.epsilon_high.unwrap_or(g.epsilon),
        beta: g.beta,
        aggregation: LossAggregation::parse("grpo.loss_type", &g.loss_type)?,
        max_completion_length: t.max_new_tokens,
    };
    let gcfg = GrpoConfig {
        group_size: g.group_size,
        max_new_tokens: t.max_new_tokens,
        iterations: g.iterations,
        loss,
        scale: RewardScale::parse("grpo.scale_rewards", &g.scale_rewards)?,
        eps: 1e-4,
        mask_truncated: g.mask_truncated,
        seed: cfg.seed,
    };
    if g.prompts == 0 {
        return Err(bad("grpo.prompts: must be at least 1".into()));
    }
    let mut grpo = Grpo::new(gcfg, &model)?;
    let mut opt = AdamW::new(g.lr, g.weight_decay)?;
    let initial_path = dir.join("initial.safetensors");
    trained_checkpoint(&model.llama, model.lora.as_ref(), n_trained)?.save_atomic(&initial_path)?;
    let lookup =
        |ms: &[(&'static str, f64)]| ms.iter().find(|(k, _)| *k == metric).map(|(_, v)| *v);
    let initial = lookup(&evaluate(&cpu, &task, &mut model)?);
    let mut log = MetricsLog::open(&dir.join("metrics.jsonl"), 0)?;
    let per_step = (g.group_size * g.prompts) as u64;
    let (max_seconds, max_evals) = budget;
    let started = Instant::now();
    let (mut step, mut last) = (0u64, None);
    let scheme = t.scheme();
    loop {
        let t0 = Instant::now();
        let problems = reasoning::problems(
            &t.problem,
            t.seed,
            step * g.prompts as u64..(step + 1) * g.prompts as u64,
        )?;
        let prompts: Vec<Vec<u32>> = problems
            .iter()
            .map(|p| base.tokenizer.encode_chat(&p.prompt))
            .collect::<std::result::Result<_, _>>()?;
        let tokenizer = &base.tokenizer;
        let mut reward = |i: usize, c: &[u32]| -> eggroll_llm::Result<f32> {
            let text = tokenizer.decode(c, true)?;
            Ok(reasoning::score(&problems[i], &text, scheme)?.reward)
        };
        let r = grpo.step(&cpu, &mut model, &mut opt, &prompts, &stop, &mut reward)?;
        let step_seconds = t0.elapsed().as_secs_f64();
        step += 1;
        let evals = step * per_step;
        let out_of_budget = max_seconds.is_some_and(|s| started.elapsed().as_secs_f64() >= s)
            || max_evals.is_some_and(|e| evals >= e)
            || step >= cfg.generations;
        let eval = if step % cfg.run.eval_every == 0 || out_of_budget {
            evaluate(&cpu, &task, &mut model)?
        } else {
            Vec::new()
        };
        let mut line = Map::new();
        line.insert("generation".into(), json!(step - 1));
        line.insert("fitness_mean".into(), json!(r.reward_mean));
        line.insert(
            "groups_tied".into(),
            json!(r.tied_groups as f64 / r.groups.max(1) as f64),
        );
        line.insert("loss".into(), json!(r.loss));
        line.insert("clip_low".into(), json!(r.clip_low));
        line.insert("clip_high".into(), json!(r.clip_high));
        line.insert("kl".into(), json!(r.kl));
        line.insert("completion_tokens".into(), json!(r.completion_tokens));
        line.insert("truncated".into(), json!(r.truncated));
        // The GRPO step alone (sampling, scoring, μ optimiser steps), and with the evaluation.
        line.insert("step_seconds".into(), json!(step_seconds));
        line.insert("sample_seconds".into(), json!(r.sample_seconds));
        line.insert("forward_seconds".into(), json!(r.forward_seconds));
        line.insert("backward_seconds".into(), json!(r.backward_seconds));
        line.insert("seconds".into(), json!(t0.elapsed().as_secs_f64()));
        line.insert("evaluations".into(), json!(per_step));
        for (k, v) in &eval {
            line.insert((*k).into(), json!(v));
        }
        log.append(&Value::Object(line))?;
        if let Some(v) = lookup(&eval) {
            last = Some(v);
        }
        if out_of_budget {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let final_path = dir.join("checkpoints").join("latest.safetensors");
    trained_checkpoint(&model.llama, model.lora.as_ref(), n_trained)?.save_atomic(&final_path)?;
    let mut stats = update::measure(&initial_path, &final_path, rank_tolerance)?;
    stats.trainable = trainable;
    Ok(MethodResult {
        name: name.into(),
        dir: dir.to_path_buf(),
        initial,
        last,
        generations: step,
        evaluations: step * per_step,
        seconds,
        peak_memory: peak_memory_bytes(),
        update: stats,
    })
}
