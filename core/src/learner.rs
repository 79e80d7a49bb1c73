//! The `Learner` contract: everything the one training loop needs from a model family.
//!
//! A learner is a model bound to its task and its update rule. The loop (in the root package)
//! asks the strategy for a population, lets the learner score its share of the members, gathers
//! the fitness over processes, lets the strategy shape it into an [`Update`], and hands that to
//! the learner; it writes metrics and checkpoints the same way for every family. Float models
//! (the MLP, next the transformer) are one generic learner over [`crate::Model`] and
//! [`crate::task::Task`]; the integer EGG language model is its own (in `eggroll-llm`).

use crate::checkpoint::Checkpoint;
use crate::error::CoreError;
use crate::population::Population;
use crate::task::Metrics;
use std::ops::Range;
use std::path::Path;

/// What a strategy's `tell` asks the model to do with a generation's fitness.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// Per-member weights `w_i` of the ES direction `(1/N) Σ w_i E_i`, which an optimiser
    /// follows (float models).
    Direction(Vec<f32>),
    /// One sign per antithetic pair, `sign(f₊ − f₋)` ∈ {−1, 0, 1}: integer models step each
    /// weight by ±1 where the pairs' noise agrees (EGG's thresholded update).
    PairSigns(Vec<i8>),
    /// The raw fitness of every member, for learners that hold a search strategy of their own
    /// (a classic ES over a host-side vector, see [`Learner::takes_raw_fitness`]).
    Fitness(Vec<f32>),
}

impl Update {
    /// The update as per-member direction weights (a pair sign `s` gives `s, −s`; raw
    /// fitness is returned as it is).
    pub fn member_weights(&self) -> Vec<f32> {
        match self {
            Update::Direction(w) | Update::Fitness(w) => w.clone(),
            Update::PairSigns(s) => s.iter().flat_map(|&s| [s as f32, -(s as f32)]).collect(),
        }
    }

    /// Short name of the kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Update::Direction(_) => "direction",
            Update::PairSigns(_) => "pair signs",
            Update::Fitness(_) => "raw fitness",
        }
    }
}

/// A non-finite parameter element: tensor name, element index and value.
pub type NonFinite = (String, usize, f32);

/// A model family bound to its task and update rule, as the training loop drives it.
pub trait Learner {
    /// The family's error type (core errors convert into it).
    type Error: From<CoreError>;

    /// The family's name, as written in `[model] kind` (`mlp`, `egg_gru`).
    fn kind(&self) -> &'static str;

    /// Names of the metrics [`Learner::evaluate`] reports (checked against `run.stop_metric`).
    fn metric_names(&self) -> Vec<&'static str>;

    /// Fitness of `members` of `pop` at `generation`, [`Learner::scores_per_member`] values
    /// per member (higher is better).
    /// Every process calls it once per generation with its own share, in generation order.
    fn fitness(
        &mut self,
        pop: &Population,
        members: Range<u32>,
        generation: u64,
    ) -> Result<Vec<f32>, Self::Error>;

    /// Whether the learner updates itself from the raw fitness ([`Update::Fitness`]) with a
    /// search strategy it holds, its distribution being its state; the loop then relays the
    /// fitness instead of shaping it with a noise strategy. Default: false.
    fn takes_raw_fitness(&self) -> bool {
        false
    }

    /// Scores [`Learner::fitness`] returns per member (see `Task::scores_per_member`).
    fn scores_per_member(&self) -> usize {
        1
    }

    /// The population's fitness from every member's scores (see `Task::combine_scores`),
    /// identically on every process.
    fn combine_scores(&self, _pop: &Population, scores: Vec<f32>) -> Result<Vec<f32>, Self::Error> {
        Ok(scores)
    }

    /// Reference figures a model must beat, fixed for the run (EGG: the unigram and bigram
    /// bits/byte of its corpus); the loop writes them to `baselines.json`. Default: none.
    fn baselines(&self) -> Metrics {
        Vec::new()
    }

    /// Figures the family derives from the whole population's fitness for the metrics line
    /// (e.g. training bits/byte). Default: none.
    fn fitness_metrics(&self, _fitness: &[f32]) -> Metrics {
        Vec::new()
    }

    /// Apply the strategy's update for `generation`, identically on every process; returns
    /// figures for the metrics line (σ and lr, weights changed, …).
    fn apply(
        &mut self,
        pop: &Population,
        update: &Update,
        generation: u64,
    ) -> Result<Metrics, Self::Error>;

    /// The first parameter element that is not finite, if any (checked after every update,
    /// before a checkpoint can hold it).
    fn first_nonfinite(&self) -> Result<Option<NonFinite>, Self::Error>;

    /// Metrics of the unperturbed model.
    fn evaluate(&mut self) -> Result<Metrics, Self::Error>;

    /// State kept per member and updated only by the process that scores the member (a
    /// recurrent model's hidden state), for `members`, as f32 values (the same count per
    /// member), so the loop can gather it before a checkpoint. Default: none.
    fn member_state(&self, _members: Range<u32>) -> Option<Vec<f32>> {
        None
    }

    /// Install the gathered [`Learner::member_state`] of every member, in member order.
    fn set_member_state(&mut self, _all: &[f32]) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Add the family's tensors and metadata to a checkpoint (the loop adds the config, the
    /// strategy state and the generation).
    fn save(&self, ck: &mut Checkpoint) -> Result<(), Self::Error>;

    /// Restore what [`Learner::save`] wrote; `path` names the file in errors.
    fn load(&mut self, ck: &Checkpoint, path: &Path) -> Result<(), Self::Error>;
}
