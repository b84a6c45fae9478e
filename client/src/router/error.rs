//! The router's error type. Variants marked *caller* are the user's input;
//! *backend* ones come from the disk or the server.

use std::path::PathBuf;

use crate::error::ClientError;

/// Everything the expert router can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// *caller*: an embedding made by another model than the library's.
    #[error("embedding model mismatch: the library holds {expected:?} embeddings, got {got:?}")]
    ModelMismatch {
        /// The library's embedding model.
        expected: String,
        /// The model named by the embedding.
        got: String,
    },
    /// *caller*: an embedding of another dimension than the library's.
    #[error("dimension mismatch: the library holds {expected}-d embeddings, got {got} components")]
    DimensionMismatch {
        /// The library's dimension.
        expected: usize,
        /// The embedding's length.
        got: usize,
    },
    /// *caller*: an embedding with no components.
    #[error("empty embedding: a key or query needs at least one component")]
    EmptyVector,
    /// *caller*: a component is NaN or ±infinity.
    #[error("embedding component {index} is not finite ({value})")]
    NonFinite {
        /// Position of the first offending component.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// *caller*: an all-zero embedding (its direction, hence its cosine, is
    /// undefined), or keys whose mean is the zero vector.
    #[error("zero vector: cosine similarity is undefined for it")]
    ZeroVector,
    /// *caller*: `top_k == 0`.
    #[error("top_k must be at least 1")]
    ZeroTopK,
    /// *caller*: a temperature that is not a finite number > 0.
    #[error("temperature must be finite and > 0, got {0}")]
    InvalidTemperature(f64),
    /// *caller*: `combine` got inputs that do not fit together.
    #[error("invalid combine input: {0}")]
    InvalidCombine(String),
    /// *caller*: update or remove of an expert id that is not registered.
    #[error("unknown expert {0}")]
    UnknownExpert(u64),
    /// *caller*: add of an expert id that is already registered (use update).
    #[error("expert {0} is already registered")]
    DuplicateExpert(u64),
    /// *caller*: an expert registered without any key, or with more than
    /// [`crate::router::MAX_KEYS_PER_EXPERT`].
    #[error("expert {expert}: {keys} keys; an expert needs 1 to {max} keys")]
    KeyCount {
        /// The expert.
        expert: u64,
        /// Keys given.
        keys: usize,
        /// The limit.
        max: usize,
    },
    /// *caller*: an expert id above [`crate::router::MAX_EXPERT_ID`].
    #[error("expert id {0} is too large (at most 2^53 - 1)")]
    ExpertIdTooLarge(u64),
    /// *caller*: a remote library name that does not fit a collection name.
    #[error("invalid library name {0:?}: 1 to 58 characters from [A-Za-z0-9_-]")]
    InvalidName(String),
    /// *backend*: the engine refused or failed (embedded backend).
    #[error("index: {0}")]
    Index(#[from] waypoint_index::Error),
    /// *backend*: the server refused or failed (remote backend).
    #[error("server: {0}")]
    Client(#[from] ClientError),
    /// *backend*: a library directory that cannot be read or written.
    #[error("library file {path}: {reason}")]
    Storage {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// *backend*: the server holds points that are not a valid library
    /// (a missing or ill-typed payload field).
    #[error("remote library {library:?} is inconsistent: {reason}")]
    Inconsistent {
        /// The library name.
        library: String,
        /// What was wrong.
        reason: String,
    },
}

/// Result alias of the router.
pub type Result<T, E = RouterError> = std::result::Result<T, E>;
