//! A gradient method of `eggroll compare` (`kind = "gradient"`): the base config's byte-level
//! transformer (`[model] kind = "byte_llama"`, task `text`) trained on next-byte
//! cross-entropy by Adam (the projections at full rank), LoRA, ReLoRA or PeriodicLoRA, with
//! the hand-written backward of `eggroll_llm::grad` and the one LoRA-family stepper of
//! `eggroll_llm::baselines` (its `MergePlan` is all that differs between the four).
//!
//! Every method starts from the model ES starts from (the same seed, the same random
//! weights): LoRA from a random init is the ReLoRA paper's from-scratch setting, where the
//! base never changes unless adapters are merged into it (ReLoRA, PeriodicLoRA) or a
//! full-rank warm start trains it first. The embedding and norms stay fixed as under ES; what
//! trains is the seven projections of every block (directly, or through adapters on them).
//!
//! One *evaluation* is one sequence of `task.window` predicted bytes through the model: an ES
//! member scoring its window, or one sequence of a gradient batch (its forward and backward),
//! so a step of `batch` sequences spends `batch` evaluations. The run directory holds what an
//! ES run's does (`metrics.jsonl` with `seconds`, `evaluations` and `eval_bits_per_byte`,
//! `initial.safetensors` and `checkpoints/latest.safetensors` with the projections, adapters
//! folded in, as `params.<name>`), so the report reads it unchanged. No resume.

use super::grpo_method::trained_checkpoint;
use super::spec::CompareSection;
use super::update;
use super::MethodResult;
use crate::bench::peak::{peak_memory_bytes, reset_peak_memory};
use crate::error::{Error, Result};
use crate::metrics::MetricsLog;
use crate::models::byte_llama_parts;
use crate::RunConfig;
use eggroll_core::cpu::Cpu;
use eggroll_llm::baselines::{JaggedCosine, LoraFamily, MergePlan, MergePlanKind};
use eggroll_llm::bytelm::{tokens, ByteLmTask};
use eggroll_llm::grad::{AdamW, GradModel, Lora, LoraConfig, LoraTargets, Sequence};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::time::Instant;

/// Which gradient method.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GradientKind {
    /// Adam (AdamW) on the projections at full rank.
    #[default]
    Adam,
    /// LoRA adapters on every projection; the base never changes.
    Lora,
    /// ReLoRA: adapters merged and re-drawn every `restart_every` steps, Adam's state pruned.
    Relora,
    /// PeriodicLoRA: adapters unloaded into the base every `stage_steps` steps, Adam reset.
    Plora,
}

impl GradientKind {
    /// The name as written in `method`.
    pub fn name(self) -> &'static str {
        match self {
            GradientKind::Adam => "adam",
            GradientKind::Lora => "lora",
            GradientKind::Relora => "relora",
            GradientKind::Plora => "plora",
        }
    }
}

/// `[method.gradient]`: the gradient method and its settings (every key has a default).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GradientMethodConfig {
    /// `adam`, `lora`, `relora` or `plora`.
    #[serde(default)]
    pub method: GradientKind,
    /// Peak learning rate.
    #[serde(default = "d_lr")]
    pub lr: f64,
    /// AdamW's decoupled weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Sequences (windows of `task.window` bytes) per step.
    #[serde(default = "d_batch")]
    pub batch: usize,
    /// Length of the learning-rate schedule in steps (default: `compare.budget_evaluations /
    /// batch`, else the base config's `generations`). Under a seconds budget set it to the
    /// steps that fit, so the cosine ends when the clock does.
    #[serde(default)]
    pub steps: Option<u64>,
    /// Linear warm-up steps at the start.
    #[serde(default)]
    pub warmup: u64,
    /// The cosine's floor as a fraction of `lr` (1: a constant rate).
    #[serde(default = "d_min_ratio")]
    pub min_lr_ratio: f64,
    /// LoRA rank r.
    #[serde(default = "d_rank")]
    pub rank: usize,
    /// LoRA α (scale α/r).
    #[serde(default = "d_alpha")]
    pub alpha: f32,
    /// ReLoRA: steps between merges.
    #[serde(default = "d_period")]
    pub restart_every: u64,
    /// ReLoRA: fraction of Adam's state zeroed by magnitude at a merge.
    #[serde(default = "d_prune")]
    pub optimizer_prune: f64,
    /// ReLoRA: re-warm-up steps after each merge.
    #[serde(default)]
    pub rewarmup: u64,
    /// ReLoRA: full-rank steps before the adapters take over (0: none).
    #[serde(default)]
    pub warm_start: u64,
    /// PeriodicLoRA: steps per stage.
    #[serde(default = "d_period")]
    pub stage_steps: u64,
    /// PeriodicLoRA: momentum of the unloading (0: fold everything in, re-draw the adapters).
    #[serde(default)]
    pub unload_momentum: f64,
}

fn d_lr() -> f64 {
    1e-3
}
fn d_batch() -> usize {
    16
}
fn d_min_ratio() -> f64 {
    0.1
}
fn d_rank() -> usize {
    8
}
fn d_alpha() -> f32 {
    16.0
}
fn d_period() -> u64 {
    200
}
fn d_prune() -> f64 {
    0.99
}

impl Default for GradientMethodConfig {
    fn default() -> Self {
        toml::from_str("").unwrap_or_else(|_| unreachable!("every field has a default"))
    }
}

/// The model's tensors that no method trains (the embedding and the norms), by name.
fn frozen_names(model: &mut GradModel) -> Vec<String> {
    let was = model.train_base;
    model.train_base = true;
    let lora = model.lora.take();
    let names = model
        .trainable_mut()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.ends_with("norm.weight") || n == "token_embd.weight" || n == "output.weight")
        .collect();
    model.lora = lora;
    model.train_base = was;
    names
}

/// Validation bits/byte with the adapters folded in for the evaluation.
fn evaluate(cpu: &Cpu, task: &ByteLmTask, model: &mut GradModel) -> Result<f64> {
    Ok(model.with_adapters_merged(|llama| task.validation_bits_per_byte(cpu, llama))??)
}

/// Run the gradient method `g` as `name` to the budget of `compare` (seconds, evaluations)
/// in `dir`, judged by `metric` (which must be `eval_bits_per_byte`); `say` gets the
/// parameter counts.
pub fn run_gradient(
    cfg: &RunConfig,
    g: &GradientMethodConfig,
    name: &str,
    dir: &Path,
    metric: &str,
    compare: &CompareSection,
    say: &mut dyn FnMut(&str),
) -> Result<MethodResult> {
    let bad = |why: String| Error::Config {
        origin: format!("method {name}"),
        why,
    };
    if metric != "eval_bits_per_byte" {
        return Err(bad(format!(
            "compare.metric: a gradient method reports eval_bits_per_byte, not `{metric}`"
        )));
    }
    if g.batch == 0 {
        return Err(bad("gradient.batch: must be at least 1".into()));
    }
    if !(g.lr.is_finite() && g.lr > 0.0) {
        return Err(bad(format!(
            "gradient.lr: {} is not a positive number",
            g.lr
        )));
    }
    let (llama, task) = byte_llama_parts(cfg)
        .map_err(|e| bad(format!("kind gradient needs a byte_llama base config: {e}")))?;
    let (max_seconds, max_evals) = (compare.budget_seconds, compare.budget_evaluations);
    let steps = g
        .steps
        .or(max_evals.map(|e| e.div_ceil(g.batch as u64)))
        .unwrap_or(cfg.generations)
        .max(1);
    std::fs::create_dir_all(dir.join("checkpoints")).map_err(|error| Error::Io {
        path: dir.display().to_string(),
        error,
    })?;
    reset_peak_memory();
    let cpu = Cpu::new();
    let n_trained = eggroll_core::Model::<Cpu>::specs(&llama).len();
    let projections = llama.trained_params() as u64;
    let total = llama.config.n_params() as u64;
    let lora = match g.method {
        GradientKind::Adam => None,
        _ => Some(Lora::new(
            LoraConfig {
                rank: g.rank,
                alpha: g.alpha,
                rslora: false,
                dropout: 0.0,
                targets: LoraTargets::parse(&["all-linear"])?,
                seed: cfg.seed,
            },
            &llama.weights,
        )?),
    };
    let adapters = lora.as_ref().map_or(0, Lora::n_params) as u64;
    let full = lora.is_none();
    let mut model = GradModel::new(llama, lora, full);
    let mut opt = AdamW::new(g.lr, g.weight_decay)?;
    opt.frozen = frozen_names(&mut model);
    let kind = match g.method {
        GradientKind::Adam | GradientKind::Lora => MergePlanKind::Lora,
        GradientKind::Relora => MergePlanKind::ReLora {
            every: g.restart_every,
            prune: g.optimizer_prune,
        },
        GradientKind::Plora => MergePlanKind::PeriodicLora {
            stage_steps: g.stage_steps,
            unload_momentum: g.unload_momentum,
        },
    };
    let schedule = JaggedCosine {
        total_steps: steps,
        warmup: g.warmup,
        restart_every: match kind {
            MergePlanKind::ReLora { every, .. } => every,
            _ => 0,
        },
        rewarmup: g.rewarmup,
        min_ratio: g.min_lr_ratio,
    };
    let plan = MergePlan {
        kind,
        total_steps: steps,
    };
    let warm_start = if g.method == GradientKind::Relora {
        g.warm_start
    } else {
        0
    };
    let mut family = LoraFamily::new(&mut model, plan, schedule, g.lr, warm_start)
        .map_err(|e| bad(format!("gradient: {e}")))?;
    let trainable = if full { projections } else { adapters };
    say(&format!(
        "compare: {name}: trainable {trainable} / frozen {} ({}{}), {steps} scheduled steps of {} sequences",
        total + adapters - trainable,
        if full { "projections at full rank" } else { "LoRA adapters on every projection" },
        if warm_start > 0 { format!(", after {warm_start} full-rank warm-start steps") } else { String::new() },
        g.batch
    ));
    let initial_path = dir.join("initial.safetensors");
    trained_checkpoint(&model.llama, model.lora.as_ref(), n_trained)?.save_atomic(&initial_path)?;
    let initial = evaluate(&cpu, &task, &mut model)?;
    let mut log = MetricsLog::open(&dir.join("metrics.jsonl"), 0)?;
    let per_step = g.batch as u64;
    let started = Instant::now();
    let (mut step, mut last) = (0u64, initial);
    loop {
        let t0 = Instant::now();
        let batch: Vec<Sequence> = (0..per_step)
            .map(|i| Sequence::next_token(&tokens(task.train_window(step, i)), 0))
            .collect::<std::result::Result<_, _>>()?;
        let r = family.step(&cpu, &mut model, &mut opt, &batch)?;
        if !r.loss.is_finite() {
            return Err(bad(format!(
                "step {step}: the training loss is {} (lower gradient.lr)",
                r.loss
            )));
        }
        let step_seconds = t0.elapsed().as_secs_f64();
        step += 1;
        let out_of_budget = max_seconds.is_some_and(|s| started.elapsed().as_secs_f64() >= s)
            || max_evals.is_some_and(|e| step * per_step >= e)
            || step >= cfg.generations;
        let eval = (step % cfg.run.eval_every == 0 || out_of_budget)
            .then(|| evaluate(&cpu, &task, &mut model))
            .transpose()?;
        let bits = f64::from(r.loss) / std::f64::consts::LN_2;
        let mut line = Map::new();
        line.insert("generation".into(), json!(step - 1));
        line.insert("fitness_mean".into(), json!(-bits));
        line.insert("train_bits_per_byte".into(), json!(bits));
        line.insert("lr".into(), json!(r.lr));
        line.insert("merged".into(), json!(r.merged));
        line.insert("step_seconds".into(), json!(step_seconds));
        line.insert("seconds".into(), json!(t0.elapsed().as_secs_f64()));
        line.insert("evaluations".into(), json!(per_step));
        if let Some(v) = eval {
            line.insert("eval_bits_per_byte".into(), json!(v));
            last = v;
        }
        log.append(&Value::Object(line))?;
        if out_of_budget {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let final_path = dir.join("checkpoints").join("latest.safetensors");
    trained_checkpoint(&model.llama, model.lora.as_ref(), n_trained)?.save_atomic(&final_path)?;
    let mut stats = update::measure(&initial_path, &final_path, compare.rank_tolerance)?;
    stats.trainable = trainable;
    Ok(MethodResult {
        name: name.into(),
        dir: dir.to_path_buf(),
        initial: Some(initial),
        last: Some(last),
        generations: step,
        evaluations: step * per_step,
        seconds,
        peak_memory: peak_memory_bytes(),
        update: stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use eggroll_llm::bytelm::ByteLlamaConfig;

    #[test]
    fn the_embedding_and_norms_are_frozen_and_adam_leaves_them_alone() {
        let llama = ByteLlamaConfig {
            n_layers: 2,
            d_model: 16,
            n_heads: 2,
            n_kv_heads: None,
            ffn_dim: 24,
            embed_scale: 0.5,
        }
        .build(1)
        .unwrap();
        let mut model = GradModel::new(llama, None, true);
        let frozen = frozen_names(&mut model);
        // The embedding, the final norm, and two norms per block.
        assert_eq!(frozen.len(), 6, "{frozen:?}");
        assert!(frozen.contains(&"token_embd.weight".to_string()));
        let before = model.llama.weights.clone();
        let mut opt = AdamW::new(1e-2, 0.0).unwrap();
        opt.frozen = frozen;
        let seq = Sequence::next_token(&tokens(b"to be or not to be"), 0).unwrap();
        let (_, grads) = model.loss_and_grads(&Cpu::new(), &[seq], 0).unwrap();
        opt.step(&mut model, &grads).unwrap();
        let after = &model.llama.weights;
        assert_eq!(after.embed.data, before.embed.data);
        assert_eq!(after.out_norm, before.out_norm);
        assert_eq!(after.layers[1].ffn_norm, before.layers[1].ffn_norm);
        assert!(after
            .proj_data
            .iter()
            .zip(&before.proj_data)
            .all(|(a, b)| a != b));
    }

    #[test]
    fn settings_default_to_adam_and_refuse_unknown_keys() {
        let d = GradientMethodConfig::default();
        assert_eq!((d.method, d.batch, d.rank), (GradientKind::Adam, 16, 8));
        let e = toml::from_str::<GradientMethodConfig>("rank_ = 2").unwrap_err();
        assert!(e.to_string().contains("rank_"), "{e}");
    }
}
