//! The one error type of `eggroll-llm`.

use thiserror::Error;

/// Everything that can go wrong while building, loading, training or sampling a language model.
#[derive(Debug, Error)]
pub enum LlmError {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid config value `{key}`: {why}")]
    Config {
        /// The config key at fault.
        key: String,
        /// Why it is rejected.
        why: String,
    },
    /// The training or evaluation data cannot be used.
    #[error("data {what}: {why}")]
    Data {
        /// The file or split at fault.
        what: String,
        /// What is wrong with it.
        why: String,
    },
    /// A checkpoint is missing pieces or belongs to another model or run.
    #[error("checkpoint {path}: {why}")]
    Checkpoint {
        /// The file at fault.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// An I/O error with the file it concerns.
    #[error("{path}: {source}")]
    Io {
        /// The file at fault.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A compute backend's kernel failed (device lost, out of memory, …).
    #[error("backend {backend}: {why}")]
    Backend {
        /// The backend's name.
        backend: String,
        /// Its error message.
        why: String,
    },
    /// A model file (GGUF, safetensors) is damaged, unsupported or disagrees with itself.
    #[error("model file {path}: {why}")]
    ModelFile {
        /// The file at fault.
        path: String,
        /// What is wrong with it, naming the tensor or metadata key where there is one.
        why: String,
    },
    /// A tokenizer cannot be built from a model file, or cannot encode or decode.
    #[error("tokenizer of {path}: {why}")]
    Tokenizer {
        /// The model file the tokenizer comes from.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// An error from `eggroll-core` (checkpoint parsing, atomic writes, the integer kernels).
    #[error(transparent)]
    Core(#[from] eggroll_core::CoreError),
}

impl LlmError {
    /// Shorthand for [`LlmError::Config`].
    pub fn config(key: impl Into<String>, why: impl Into<String>) -> Self {
        LlmError::Config {
            key: key.into(),
            why: why.into(),
        }
    }

    /// Shorthand for [`LlmError::Checkpoint`].
    pub fn checkpoint(path: &std::path::Path, why: impl Into<String>) -> Self {
        LlmError::Checkpoint {
            path: path.display().to_string(),
            why: why.into(),
        }
    }

    /// Shorthand for [`LlmError::ModelFile`].
    pub fn model_file(path: &std::path::Path, why: impl Into<String>) -> Self {
        LlmError::ModelFile {
            path: path.display().to_string(),
            why: why.into(),
        }
    }

    /// Shorthand for [`LlmError::Tokenizer`].
    pub fn tokenizer(path: &std::path::Path, why: impl Into<String>) -> Self {
        LlmError::Tokenizer {
            path: path.display().to_string(),
            why: why.into(),
        }
    }

    /// Shorthand for [`LlmError::Io`].
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        LlmError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Result with [`LlmError`].
pub type Result<T, E = LlmError> = std::result::Result<T, E>;
