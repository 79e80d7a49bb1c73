//! eggroll: the library behind the `eggroll` command — configs, tasks, the training loop
//! and benchmarks, on top of `eggroll-core` and `eggroll-populations`.

pub mod bench;
pub mod config;
pub mod dist;
pub mod error;
pub mod metrics;
pub mod run_state;
pub mod tasks;
pub mod train;

pub use config::RunConfig;
pub use error::{Error, Result};
