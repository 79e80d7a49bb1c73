//! The learner of every float model (the MLP today, the transformer next): a [`Model`] on a
//! [`Backend`] bound to its [`Task`], updated by an optimiser along the ES direction.

use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::tasks::Task;
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::learner::{Learner, NonFinite, Update};
use eggroll_core::mlp::{Mlp, MlpConfig};
use eggroll_core::model::{apply_es_update, zero_optim_state, OptimState};
use eggroll_core::optim::Optimizer;
use eggroll_core::population::Population;
use eggroll_core::schedule::Schedule;
use eggroll_core::task::Metrics;
use eggroll_core::{Activation, Backend, CoreError, Model};
use std::ops::Range;
use std::path::Path;

/// A float model with its optimiser state and task.
pub struct FloatLearner<'a, B: Backend, M: Model<B>> {
    backend: &'a B,
    kind: &'static str,
    model: M,
    optim: OptimState<B>,
    task: Box<dyn Task<B, M, Error = Error> + 'a>,
    optimizer: Optimizer,
    lr: Schedule,
    identity: Vec<(&'static str, String)>,
}

/// The MLP shape a task and config imply (an error when the config's model is not an MLP).
pub fn model_config<B: Backend, T: Task<B, Mlp<B>> + ?Sized>(
    cfg: &RunConfig,
    task: &T,
) -> Result<MlpConfig> {
    let m = cfg.mlp().ok_or_else(|| Error::Config {
        origin: "model.kind".into(),
        why: format!("`{}` is not an MLP", cfg.model.kind()),
    })?;
    Ok(MlpConfig {
        input: task.input_dim(),
        hidden: m.hidden.clone(),
        output: task.output_dim(),
        activation: m.activation,
        output_activation: Activation::Identity,
        bias: m.bias,
    })
}

impl<'a, B: Backend> FloatLearner<'a, B, Mlp<B>> {
    /// The MLP of `cfg` on its task, freshly initialised from the run seed (after checking
    /// that the run fits in memory).
    pub fn mlp(backend: &'a B, cfg: &RunConfig) -> Result<Self> {
        let task = cfg.task.build::<B>(cfg.seed)?;
        let mcfg = model_config(cfg, &*task)?;
        crate::memory::check(
            cfg,
            task.input_dim(),
            task.output_dim(),
            task.rows_per_member(),
        )?;
        let model = Mlp::init(backend, mcfg, cfg.seed)?;
        Self::new(backend, "mlp", model, task, cfg)
    }
}

impl<'a, B: Backend, M: Model<B>> FloatLearner<'a, B, M> {
    /// Bind `model` (a family named `kind`) to `task` with `cfg`'s optimiser and lr schedule.
    pub fn new(
        backend: &'a B,
        kind: &'static str,
        model: M,
        task: Box<dyn Task<B, M, Error = Error> + 'a>,
        cfg: &RunConfig,
    ) -> Result<Self> {
        let optim = zero_optim_state(backend, model.specs(), cfg.optimizer.state_slots())?;
        Ok(FloatLearner {
            backend,
            kind,
            model,
            optim,
            task,
            optimizer: cfg.optimizer,
            lr: cfg.lr.schedule(cfg.generations),
            identity: Vec::new(),
        })
    }

    /// Record `value` under checkpoint metadata `key` (a base model's sha256): saved with
    /// every checkpoint, and a checkpoint with another value is refused on load.
    pub fn with_identity(mut self, key: &'static str, value: String) -> Self {
        self.identity.push((key, value));
        self
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, giving up the rest.
    pub fn into_model(self) -> M {
        self.model
    }

    /// The task.
    pub fn task(&self) -> &(dyn Task<B, M, Error = Error> + 'a) {
        &*self.task
    }
}

impl<B: Backend, M: Model<B>> Learner for FloatLearner<'_, B, M> {
    type Error = Error;

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn metric_names(&self) -> Vec<&'static str> {
        self.task.metric_names()
    }

    fn fitness(
        &mut self,
        pop: &Population,
        members: Range<u32>,
        generation: u64,
    ) -> Result<Vec<f32>> {
        self.task
            .fitness(self.backend, &self.model, pop, members, generation)
    }

    fn scores_per_member(&self) -> usize {
        self.task.scores_per_member()
    }

    fn combine_scores(&self, pop: &Population, scores: Vec<f32>) -> Result<Vec<f32>> {
        self.task.combine_scores(pop, scores)
    }

    fn fitness_metrics(&self, _fitness: &[f32]) -> Metrics {
        self.task.fitness_metrics()
    }

    fn apply(&mut self, pop: &Population, update: &Update, generation: u64) -> Result<Metrics> {
        let lr = self.lr.at(generation);
        let step = self.optimizer.step(generation + 1, lr, pop.size);
        apply_es_update(
            self.backend,
            &mut self.model,
            &mut self.optim,
            pop,
            &update.member_weights(),
            &step,
        )?;
        self.task
            .after_generation(self.backend, &self.model, generation)?;
        Ok(vec![("sigma", pop.sigma as f64), ("lr", lr)])
    }

    fn first_nonfinite(&self) -> Result<Option<NonFinite>> {
        for (spec, buf) in self.model.specs().iter().zip(self.model.params()) {
            let host = self.backend.download(buf)?;
            if let Some(i) = host.iter().position(|v| !v.is_finite()) {
                return Ok(Some((spec.name.clone(), i, host[i])));
            }
        }
        Ok(None)
    }

    fn evaluate(&mut self) -> Result<Metrics> {
        self.task.evaluate(self.backend, &self.model)
    }

    fn save(&self, ck: &mut Checkpoint) -> Result<()> {
        for (i, spec) in self.model.specs().iter().enumerate() {
            let data = self.backend.download(&self.model.params()[i])?;
            ck.insert(format!("params.{}", spec.name), spec.shape.dims(), data);
            for (slot, buf) in self.optim[i].iter().enumerate() {
                ck.insert(
                    format!("optim.{slot}.{}", spec.name),
                    spec.shape.dims(),
                    self.backend.download(buf)?,
                );
            }
        }
        if let Some(json) = self.task.state_json() {
            ck.metadata.insert("task_state".into(), json);
        }
        for (key, value) in &self.identity {
            ck.metadata.insert((*key).into(), value.clone());
        }
        Ok(())
    }

    fn load(&mut self, ck: &Checkpoint, path: &Path) -> Result<()> {
        for (key, want) in &self.identity {
            let got = ck.meta(key, path)?;
            if got != want {
                return Err(CoreError::Checkpoint {
                    path: path.display().to_string(),
                    why: format!("metadata `{key}` is {got}, but this run's model has {want}: the checkpoint was trained from another base model"),
                }
                .into());
            }
        }
        let specs = self.model.specs().to_vec();
        let slots = self.optim.first().map_or(0, Vec::len);
        for (i, spec) in specs.iter().enumerate() {
            let n = spec.shape.numel();
            let name = format!("params.{}", spec.name);
            let host = ck.tensor(&name, n, path)?;
            if let Some(j) = host.iter().position(|v| !v.is_finite()) {
                return Err(CoreError::Checkpoint {
                    path: path.display().to_string(),
                    why: format!("tensor `{name}` element {j} is not finite"),
                }
                .into());
            }
            self.model.params_mut()[i] = self.backend.upload(host)?;
            for slot in 0..slots {
                let data = ck.tensor(&format!("optim.{slot}.{}", spec.name), n, path)?;
                self.optim[i][slot] = self.backend.upload(data)?;
            }
        }
        if let Some(json) = ck.metadata.get("task_state") {
            self.task.load_state_json(json)?;
        }
        Ok(())
    }
}
