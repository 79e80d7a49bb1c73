//! The one error type of `eggroll-populations`.

use thiserror::Error;

/// Errors from strategies and their configuration.
#[derive(Debug, Error)]
pub enum PopulationError {
    /// An unknown strategy name.
    #[error("unknown strategy `{name}`; registered strategies: {known}")]
    UnknownStrategy {
        /// The name asked for.
        name: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// A configuration value out of range.
    #[error("invalid es.{key}: {why}")]
    Invalid {
        /// The config key at fault.
        key: String,
        /// Why it is rejected.
        why: String,
    },
    /// A benchmark problem's setting out of range (the `[task]` section).
    #[error("invalid task.{key}: {why}")]
    Problem {
        /// The task key at fault.
        key: String,
        /// Why it is rejected.
        why: String,
    },
    /// A search strategy's state that does not fit the strategy or the call.
    #[error("strategy `{strategy}` state: {why}")]
    State {
        /// The strategy.
        strategy: String,
        /// What is wrong.
        why: String,
    },
    /// An error from the core (shaping, population checks).
    #[error(transparent)]
    Core(#[from] eggroll_core::CoreError),
}

/// Result with [`PopulationError`].
pub type Result<T, E = PopulationError> = std::result::Result<T, E>;
