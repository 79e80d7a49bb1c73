//! Building the pretrained-LM learner (`[model] kind = "llama"`, `[task] name = "reasoning"`):
//! the base model from its file, the projections it trains, and the reasoning task, bound
//! into the float learner. Runs on the CPU backend (the transformer's own operations,
//! attention, norms and rotary embeddings, have CPU implementations only).

use super::float::FloatLearner;
use crate::config::{ModelSection, RunConfig};
use crate::error::{Error, Result};
use crate::tasks::TaskConfig;
use eggroll_core::cpu::Cpu;
use eggroll_core::population::Population;
use eggroll_core::task::{Metrics, Task};
use eggroll_llm::finetune::{load_base, ReasoningTask};
use eggroll_llm::llama::Llama;
use std::ops::Range;
use std::path::Path;

/// Checkpoint metadata key holding the base model's sha256.
pub const BASE_SHA256: &str = "base_model_sha256";

/// A language-model task of `eggroll-llm` (the reasoning task, the byte-level text task) with
/// the root package's error type.
pub(super) struct RootTask<T>(pub(super) T);

impl<T: Task<Cpu, Llama, Error = eggroll_llm::LlmError>> Task<Cpu, Llama> for RootTask<T> {
    type Error = Error;

    fn input_dim(&self) -> usize {
        self.0.input_dim()
    }

    fn output_dim(&self) -> usize {
        self.0.output_dim()
    }

    fn fitness(
        &self,
        backend: &Cpu,
        model: &Llama,
        pop: &Population,
        members: Range<u32>,
        generation: u64,
    ) -> Result<Vec<f32>> {
        Ok(self.0.fitness(backend, model, pop, members, generation)?)
    }

    fn scores_per_member(&self) -> usize {
        self.0.scores_per_member()
    }

    fn combine_scores(&self, pop: &Population, scores: Vec<f32>) -> Result<Vec<f32>> {
        Ok(self.0.combine_scores(pop, scores)?)
    }

    fn rows_per_member(&self) -> usize {
        self.0.rows_per_member()
    }

    fn metric_names(&self) -> Vec<&'static str> {
        self.0.metric_names()
    }

    fn evaluate(&self, backend: &Cpu, model: &Llama) -> Result<Metrics> {
        Ok(self.0.evaluate(backend, model)?)
    }

    fn fitness_metrics(&self) -> Metrics {
        self.0.fitness_metrics()
    }
}

/// The learner of a `llama` run on `cpu`: the base model read from `model.path` (relative
/// paths from the working directory), its chosen projections trained.
pub fn llama_learner<'a>(cpu: &'a Cpu, cfg: &RunConfig) -> Result<FloatLearner<'a, Cpu, Llama>> {
    Ok(learner_and_tokenizer(cpu, cfg)?.0)
}

/// [`llama_learner`] with the base model's tokenizer.
fn learner_and_tokenizer<'a>(
    cpu: &'a Cpu,
    cfg: &RunConfig,
) -> Result<(
    FloatLearner<'a, Cpu, Llama>,
    eggroll_llm::llama::LlamaTokenizer,
)> {
    let (ModelSection::Llama(m), TaskConfig::Reasoning(t)) = (&cfg.model, &cfg.task) else {
        return Err(Error::Config {
            origin: "model.kind".into(),
            why: "model kind llama finetunes on task `reasoning`".into(),
        });
    };
    let base = load_base(Path::new(&m.path)).map_err(|e| Error::Config {
        origin: "model.path".into(),
        why: format!("{e} (SmolLM2-135M: run scripts/fetch_smollm2.sh)"),
    })?;
    let mut model = base.model;
    model.set_trained(m.selector(model.config.n_layers)?);
    let task = ReasoningTask::new(t, base.tokenizer.clone())?;
    let learner = FloatLearner::new(cpu, "llama", model, Box::new(RootTask(task)), cfg)?;
    Ok((
        learner.with_identity(BASE_SHA256, base.sha256),
        base.tokenizer,
    ))
}

/// The finetuned model of a `llama` run's checkpoint `ck` (at `path`, config `cfg`) with its
/// tokenizer: the base model with the checkpoint's trained projections.
pub fn load_llama(
    cfg: &RunConfig,
    ck: &eggroll_core::checkpoint::Checkpoint,
    path: &Path,
) -> Result<(Llama, eggroll_llm::llama::LlamaTokenizer)> {
    use eggroll_core::learner::Learner;
    if !matches!(cfg.model, ModelSection::Llama(_)) {
        return Err(Error::Config {
            origin: path.display().to_string(),
            why: format!(
                "the checkpoint's model is `{}`, not llama",
                cfg.model.kind()
            ),
        });
    }
    let cpu = Cpu::new();
    let (mut learner, tokenizer) = learner_and_tokenizer(&cpu, cfg)?;
    crate::run_state::check_kind(ck, path, learner.kind())?;
    learner.load(ck, path)?;
    Ok((learner.into_model(), tokenizer))
}
