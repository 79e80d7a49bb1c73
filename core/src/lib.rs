//! eggroll-core: the EGGROLL engine.
//!
//! Counter-based noise ([`noise`]), population descriptions ([`population`]), the [`Backend`]
//! trait and its CPU reference ([`cpu`]), fitness shaping, optimisers, schedules, models
//! ([`mlp`]), the contracts of tasks ([`task`]) and of model families as the training loop
//! drives them ([`learner`]), checkpoints, the `VecEnv` trait, the integer kernel contract of the language
//! model ([`int`]), and the conformance suites every backend runs (behind the `testing`
//! feature, for backends' tests).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod activation;
pub mod backend;
pub mod checkpoint;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod cpu;
pub mod error;
pub mod gpu_skip;
pub mod int;
pub mod learner;
pub mod linalg;
pub mod mlp;
pub mod model;
pub mod noise;
pub mod optim;
pub mod params;
pub mod population;
pub mod schedule;
pub mod shaping;
pub mod task;
pub mod transformer;
pub mod vec_env;
pub mod vector_variants;

pub use backend::{Activation, Backend, LinearLayer, WeightRows};
pub use error::{CoreError, Result};
pub use learner::{Learner, Update};
pub use model::Model;
pub use population::{NoiseKind, Population, PopulationParams, RowOwners, UpdateFactors, Variant};
pub use task::{Metrics, Task};

#[cfg(test)]
mod cpu_conformance {
    crate::conformance_suite!(crate::cpu::Cpu::new());
}
