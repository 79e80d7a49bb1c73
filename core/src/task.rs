//! The `Task` contract: what the members of a float model's population are scored on.
//!
//! A task fixes the model's input and output widths (for models sized by their task, as the
//! MLP), scores members (fitness, higher is better) and evaluates the unperturbed model. Tasks
//! live beside the workloads that define them (the root package's digits, regression and RL
//! tasks); the training loop reaches them through a [`crate::learner::Learner`].

use crate::backend::Backend;
use crate::error::CoreError;
use crate::model::Model;
use crate::population::Population;
use std::ops::Range;

/// Named evaluation or update figures, in a fixed order (`eval_loss`, `eval_return`, …).
pub type Metrics = Vec<(&'static str, f64)>;

/// A task scores the members of a population of model `M` and evaluates the unperturbed model.
pub trait Task<B: Backend, M: Model<B> + ?Sized> {
    /// The task's error type (core errors convert into it).
    type Error: From<CoreError>;

    /// Model input width.
    fn input_dim(&self) -> usize;

    /// Model output width.
    fn output_dim(&self) -> usize;

    /// Fitness of `members` of `pop` at `generation` (higher is better).
    fn fitness(
        &self,
        backend: &B,
        model: &M,
        pop: &Population,
        members: Range<u32>,
        generation: u64,
    ) -> Result<Vec<f32>, Self::Error>;

    /// Scores [`Task::fitness`] returns per member (member-major: member `m`'s scores are
    /// `m·k .. (m+1)·k`); tasks that normalise over the population (per prompt) return
    /// several and combine them in [`Task::combine_scores`]. Default: 1, the fitness itself.
    fn scores_per_member(&self) -> usize {
        1
    }

    /// The population's fitness (one value per member) from every member's scores, in member
    /// order. Called once per generation with the whole population's scores, identically on
    /// every process. Default: the scores themselves.
    fn combine_scores(&self, _pop: &Population, scores: Vec<f32>) -> Result<Vec<f32>, Self::Error> {
        Ok(scores)
    }

    /// Rows one member evaluates in one forward (minibatch size, episodes): sizes the memory
    /// estimate made before a run starts.
    fn rows_per_member(&self) -> usize;

    /// Names of the metrics [`Task::evaluate`] reports (checked against `run.stop_metric`).
    fn metric_names(&self) -> Vec<&'static str>;

    /// Metrics of the unperturbed model (`eval_loss`, `eval_accuracy`, …).
    fn evaluate(&self, backend: &B, model: &M) -> Result<Metrics, Self::Error>;

    /// Figures about this process's last [`Task::fitness`] call for the metrics line (a
    /// reasoning task's share of correct and format-only answers). Default: none.
    fn fitness_metrics(&self) -> Metrics {
        Vec::new()
    }

    /// Called once per generation after the update, identically on every process (e.g. to
    /// update running observation statistics). Most tasks keep no state.
    fn after_generation(
        &self,
        _backend: &B,
        _model: &M,
        _generation: u64,
    ) -> Result<(), Self::Error> {
        Ok(())
    }

    /// The task's own state as JSON, saved in checkpoints (`None`: no state).
    fn state_json(&self) -> Option<String> {
        None
    }

    /// Restore the state written by [`Task::state_json`].
    fn load_state_json(&self, _json: &str) -> Result<(), Self::Error> {
        Ok(())
    }
}
