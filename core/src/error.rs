//! The one error type of `eggroll-core`.

use thiserror::Error;

/// Everything that can go wrong in the core: bad shapes, bad hyper-parameters, bad checkpoints.
#[derive(Debug, Error)]
pub enum CoreError {
    /// A hyper-parameter or argument is outside its valid range.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// The parameter or argument at fault.
        what: String,
        /// Why it is rejected.
        why: String,
    },
    /// Two buffers or tensors disagree in size.
    #[error("shape mismatch in {context}: expected {expected}, got {got}")]
    Shape {
        /// The operation that found the mismatch.
        context: String,
        /// The size it needed.
        expected: usize,
        /// The size it was given.
        got: usize,
    },
    /// A checkpoint file is unreadable, truncated, or belongs to another model.
    #[error("checkpoint {path}: {why}")]
    Checkpoint {
        /// The file at fault.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// An I/O error with the file it concerns.
    #[error("{path}: {error}")]
    Io {
        /// The file at fault.
        path: String,
        /// The underlying error (shown in the message, so not chained as a source).
        error: std::io::Error,
    },
    /// A compute backend's kernel failed (device lost, out of memory, …).
    #[error("backend {backend}: {why}")]
    Backend {
        /// The backend's name.
        backend: String,
        /// Its error message.
        why: String,
    },
}

impl CoreError {
    /// Shorthand for [`CoreError::Invalid`].
    pub fn invalid(what: impl Into<String>, why: impl Into<String>) -> Self {
        CoreError::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }

    /// Shorthand for [`CoreError::Shape`].
    pub fn shape(context: impl Into<String>, expected: usize, got: usize) -> Self {
        CoreError::Shape {
            context: context.into(),
            expected,
            got,
        }
    }
}

/// `Ok` when a buffer has the length an operation expects, else [`CoreError::Shape`].
pub fn check_len(what: &str, expected: usize, got: usize) -> Result<()> {
    if expected != got {
        return Err(CoreError::shape(what, expected, got));
    }
    Ok(())
}

/// Result with [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
