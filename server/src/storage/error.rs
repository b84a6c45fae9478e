//! [`StorageError`]: everything the storage layer can refuse or fail at.

use std::path::PathBuf;

/// A storage failure. Variants marked *caller* are the request's fault; the
/// others are the server's or the disk's.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// *caller*: a malformed request; the message names the field or point.
    #[error("{0}")]
    InvalidArgument(String),
    /// *caller*: a request above a configured limit.
    #[error("{0}")]
    LimitExceeded(String),
    /// *caller*: no collection of this name.
    #[error("collection {0:?} does not exist")]
    NotFound(String),
    /// *caller*: a collection of this name exists already.
    #[error("collection {0:?} already exists")]
    AlreadyExists(String),
    /// The collection exists on disk but failed to open at start.
    #[error("collection {name:?} failed to open: {reason}")]
    Unavailable {
        /// The collection.
        name: String,
        /// Why it failed (names the file and offset).
        reason: String,
    },
    /// The engine refused or failed; caller faults (bad vector, `k = 0`)
    /// and storage faults are told apart by the variant.
    #[error("{context}{source}")]
    Engine {
        /// What was being done, e.g. `point 3 (id 17): ` (may be empty).
        context: String,
        /// The engine error.
        #[source]
        source: waypoint_index::Error,
    },
    /// A damaged file: names the file, the byte offset and what was wrong.
    #[error("corrupt file {}: at byte {offset}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the damage.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// An I/O error on a path.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl StorageError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        StorageError::Corrupt {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn engine(context: impl Into<String>, source: waypoint_index::Error) -> Self {
        StorageError::Engine {
            context: context.into(),
            source,
        }
    }
}

impl From<waypoint_index::Error> for StorageError {
    fn from(source: waypoint_index::Error) -> Self {
        StorageError::engine("", source)
    }
}
