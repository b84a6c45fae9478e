//! The engine's single error type.
//!
//! Every variant names the problem and carries the facts a caller needs to fix
//! it. Variants marked *caller* are the user's input; *storage* ones come from
//! the file system or a damaged file.

use std::path::PathBuf;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the engine can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// *caller*: a vector's length differs from the index dimension.
    #[error("dimension mismatch: expected {expected} components, got {got}")]
    DimensionMismatch {
        /// The index dimension.
        expected: usize,
        /// The length of the vector that was passed.
        got: usize,
    },
    /// *caller*: a component is NaN or ±infinity.
    #[error(
        "vector component {index} is not finite ({value}); every component must be a finite f32"
    )]
    NonFinite {
        /// Position of the first offending component.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// *caller*: an all-zero (or vanishing-norm) vector under the cosine metric.
    #[error("zero vector under the cosine metric: its norm is 0, so its direction is undefined")]
    ZeroVector,
    /// *caller*: the squared norm is above [`crate::MAX_NORM_SQ`], so a
    /// distance to it could overflow f32 to ∞ and tie with everything.
    #[error(
        "vector too large: its squared norm {norm_sq:.3e} is above {max:.3e}, the largest for which \
         every distance stays finite in f32 (keep components below about 1e18)",
        max = crate::MAX_NORM_SQ
    )]
    NormOverflow {
        /// The vector's squared L2 norm, computed in f64.
        norm_sq: f64,
    },
    /// *caller*: `k == 0` asked for no results.
    #[error("k must be at least 1")]
    ZeroK,
    /// *caller*: a parameter is outside its allowed range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter's name (`M`, `ef_construction`, `dim`, ...).
        name: &'static str,
        /// What was wrong and what is expected.
        reason: String,
    },
    /// *caller*: an external id that is not live in the index.
    #[error("unknown id {0}")]
    UnknownId(u64),
    /// *caller*: the index holds the maximum number of nodes (u32 internal ids).
    #[error("index is full: at most {max} nodes (live, deleted and replaced) fit in one index")]
    CapacityExceeded {
        /// The maximum number of nodes.
        max: usize,
    },
    /// *caller*: the requested capacity does not fit in memory.
    #[error("out of memory: cannot allocate {bytes} bytes for {what}")]
    Allocation {
        /// What was being allocated.
        what: &'static str,
        /// How many bytes it needed.
        bytes: usize,
    },
    /// *caller*: one row of a batch failed; nothing of the batch was applied.
    #[error("row {row}: {source}")]
    Row {
        /// Zero-based row of the batch.
        row: usize,
        /// What was wrong with it.
        #[source]
        source: Box<Error>,
    },
    /// *storage*: an index file failed validation.
    #[error("corrupt index file {path}: section {section}: {reason}")]
    Corrupt {
        /// The file that failed.
        path: PathBuf,
        /// The header or section that failed (`header`, `vectors`, ...).
        section: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// *storage*: a mapped index file was truncated or rewritten in place
    /// while a view had it open, so what the view read cannot be trusted.
    /// Reopen the file (or restore it) to search it again.
    #[error("index file {path} changed while open: {reason}; its results cannot be trusted until it is reopened")]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// What changed (size, modification time, or a read past its end).
        reason: String,
    },
    /// *storage*: an I/O error, with the path it happened on.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}
