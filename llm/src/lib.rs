//! Integer-only recurrent language models trained by EGGROLL ("EGG").
//!
//! A byte-level GRU language model whose weights are int8 and whose arithmetic is integer only
//! (int32 accumulation, saturating clips, small lookup tables), trained by evolution strategies
//! with int8 low-rank perturbations and a thresholded ±1 update: no floating point anywhere in
//! the forward pass, the fitness or the update.
//!
//! Entry points: [`train::train`], [`generate::generate`], [`bench::bench_egg`], configured by
//! [`config::EggConfig`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod forward;
pub mod generate;
pub mod kernels;
pub mod noise;
pub mod params;
pub mod tables;
pub mod train;
pub mod update;

pub use config::EggConfig;
pub use error::{LlmError, Result};
