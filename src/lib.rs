//! eggroll: the library behind the `eggroll` command — configs, tasks, the training loop
//! and benchmarks, on top of `eggroll-core` and `eggroll-populations`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bench;
pub mod compare;
pub mod config;
pub mod config_legacy;
pub mod dist;
#[cfg(feature = "mpi")]
pub mod dist_mpi;
pub mod error;
pub mod memory;
pub mod metrics;
pub mod models;
pub mod plot;
pub mod render;
pub mod run_lock;
pub mod run_state;
pub mod tasks;
pub mod train;

pub use config::RunConfig;
pub use error::{Error, Result};
