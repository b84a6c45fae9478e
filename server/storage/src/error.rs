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
    /// *caller*: the caller stopped waiting (deadline passed, stream reset).
    #[error("the call was cancelled: its deadline passed or the client went away")]
    Cancelled,
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
        /// Whether a file was found damaged (then the data needs repair or
        /// restore); otherwise the cause is outside the data (permissions,
        /// a read-only or failing disk) and a restart may clear it.
        corrupt: bool,
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
    /// The disk (or the user's quota) is full: nothing was changed, and the
    /// same write succeeds once space is freed.
    #[error("disk full: cannot write {}: {source}; free space on the data directory's disk and retry", path.display())]
    DiskFull {
        /// The file that could not grow.
        path: PathBuf,
        /// The underlying error (`StorageFull` or `QuotaExceeded`).
        #[source]
        source: std::io::Error,
    },
    /// The collection refuses writes until the server restarts, because
    /// its log or its memory can no longer be trusted to match (a failed
    /// write could not be undone). Reads go on; a restart recovers from the
    /// files.
    #[error("writes to {} are stopped until the server restarts: {reason}", path.display())]
    WritesStopped {
        /// The collection's WAL.
        path: PathBuf,
        /// What failed and could not be undone.
        reason: String,
    },
    /// The collection opened read-only: its WAL holds a record opening
    /// refused, and everything before it is served. `waypoint repair` (with
    /// the server stopped) cuts the log there, keeping the cut-off bytes.
    #[error("collection {name:?} is read-only: {reason}; stop the server and run `waypoint repair` to cut the log there (the cut-off bytes are kept beside it)")]
    ReadOnly {
        /// The collection.
        name: String,
        /// The refused record: file, byte offset, LSN and why.
        reason: String,
    },
    /// One of the collection's files changed under the running server (a
    /// segment truncated or rewritten by another program); other
    /// collections are unaffected.
    #[error("collection {name:?} is damaged: {reason}; restore the file and restart the server")]
    Damaged {
        /// The collection.
        name: String,
        /// The file and what changed.
        reason: String,
    },
    /// *startup*: another process holds the data directory's lock file.
    #[error(
        "data directory {} is in use by another waypoint process (it holds a lock on {}); \
         stop that process or choose another --data-dir",
        dir.display(),
        lock.display()
    )]
    InUse {
        /// The data directory.
        dir: PathBuf,
        /// Its lock file.
        lock: PathBuf,
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
    /// An I/O error on `path`: [`StorageError::DiskFull`] when the disk or
    /// quota is full, [`StorageError::Io`] otherwise.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if is_disk_full(&source) {
            StorageError::DiskFull { path, source }
        } else {
            StorageError::Io { path, source }
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

    /// An engine error; the engine's own disk-full I/O error (writing a
    /// segment) becomes [`StorageError::DiskFull`].
    /// Whether this error reports a damaged file.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            StorageError::Corrupt { .. }
                | StorageError::Damaged { .. }
                | StorageError::Engine {
                    source: waypoint_index::Error::Corrupt { .. },
                    ..
                }
        )
    }

    pub(crate) fn engine(context: impl Into<String>, source: waypoint_index::Error) -> Self {
        match source {
            waypoint_index::Error::Io { path, source } if is_disk_full(&source) => {
                StorageError::DiskFull { path, source }
            }
            source => StorageError::Engine {
                context: context.into(),
                source,
            },
        }
    }
}

/// ENOSPC or EDQUOT.
fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

impl From<waypoint_index::Error> for StorageError {
    fn from(source: waypoint_index::Error) -> Self {
        StorageError::engine("", source)
    }
}
