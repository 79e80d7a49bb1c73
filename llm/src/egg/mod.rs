//! EGG: the byte-level integer-only GRU language model (int8 weights, int32 accumulation,
//! lookup tables; no floating point in the forward pass, the fitness or the update), its
//! integer ES update and its [`learner::EggLearner`] for the one training loop.

pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod evaluate;
pub mod forward;
pub mod generate;
pub mod learner;
pub mod noise;
pub mod params;
pub mod rowops;
pub mod tables;
pub mod update;
