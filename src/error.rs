//! The error type of the `eggroll` library (the binary wraps it in `anyhow`).

use thiserror::Error;

/// Errors of configuration, training runs, tasks and benchmarks.
#[derive(Debug, Error)]
pub enum Error {
    /// A config file or override is wrong; `origin` names the file or flag.
    #[error("config {origin}: {why}")]
    Config {
        /// File or flag at fault.
        origin: String,
        /// What is wrong, naming the key.
        why: String,
    },
    /// A run directory cannot be used as asked.
    #[error("run directory {dir}: {why}")]
    RunDir {
        /// The directory.
        dir: String,
        /// What is wrong.
        why: String,
    },
    /// Training cannot continue.
    #[error("generation {generation}: {why}")]
    Training {
        /// The generation that failed.
        generation: u64,
        /// Why.
        why: String,
    },
    /// A command-line setting needs more memory than the machine has available.
    #[error("{flag}: needs about {need_gib:.1} GiB of memory but the machine has {have_gib:.1} GiB available; make it smaller")]
    Memory {
        /// The flag and its value, e.g. `--bytes 100000000000`.
        flag: String,
        /// The estimate, GiB.
        need_gib: f64,
        /// `MemAvailable`, GiB.
        have_gib: f64,
    },
    /// An I/O error on a named file.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The cause (shown in the message, so not chained as a source).
        error: std::io::Error,
    },
    /// From the core.
    #[error(transparent)]
    Core(#[from] eggroll_core::CoreError),
    /// From the EGG language model.
    #[error(transparent)]
    Llm(#[from] eggroll_llm::LlmError),
    /// From the strategies.
    #[error(transparent)]
    Population(#[from] eggroll_populations::PopulationError),
    /// A plot cannot be drawn or written.
    #[error("plot {out}: {why}")]
    Plot {
        /// The image file.
        out: String,
        /// What went wrong.
        why: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
