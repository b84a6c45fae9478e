//! Errors to gRPC statuses, and the bridge from async handlers to blocking
//! storage calls.
//!
//! | error | status |
//! |---|---|
//! | bad argument, bad vector, `k = 0` | `INVALID_ARGUMENT` |
//! | above a limit, index full | `RESOURCE_EXHAUSTED` |
//! | unknown collection | `NOT_FOUND` |
//! | name taken | `ALREADY_EXISTS` |
//! | collection failed to open, corrupt file | `DATA_LOSS` |
//! | I/O | `INTERNAL` |
//! | deadline passed | `DEADLINE_EXCEEDED` |

use std::time::Duration;

use tonic::{Request, Status};
use waypoint_index::Error as EngineError;

use crate::storage::StorageError;

/// The status for a storage error; the message is the error's text.
pub fn to_status(e: StorageError) -> Status {
    let message = e.to_string();
    match e {
        StorageError::InvalidArgument(_) => Status::invalid_argument(message),
        StorageError::LimitExceeded(_) => Status::resource_exhausted(message),
        StorageError::NotFound(_) => Status::not_found(message),
        StorageError::AlreadyExists(_) => Status::already_exists(message),
        StorageError::Unavailable { .. } | StorageError::Corrupt { .. } => {
            Status::data_loss(message)
        }
        StorageError::Io { .. } => Status::internal(message),
        StorageError::Engine { source, .. } => match source {
            EngineError::CapacityExceeded { .. } => Status::resource_exhausted(message),
            EngineError::UnknownId(_) => Status::not_found(message),
            EngineError::Corrupt { .. } => Status::data_loss(message),
            EngineError::Io { .. } => Status::internal(message),
            _ => Status::invalid_argument(message),
        },
    }
}

/// The client's deadline from the `grpc-timeout` header, if any.
pub fn deadline<T>(request: &Request<T>) -> Option<Duration> {
    let text = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Runs `work` on the blocking pool. If `deadline` passes first the caller
/// gets `DEADLINE_EXCEEDED` (a write in progress still completes: its
/// outcome is then unknown to the client, as gRPC specifies).
pub async fn blocking<T, F>(deadline: Option<Duration>, work: F) -> Result<T, Status>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StorageError> + Send + 'static,
{
    let task = tokio::task::spawn_blocking(work);
    let joined = match deadline {
        Some(d) => tokio::time::timeout(d, task).await.map_err(|_| {
            Status::deadline_exceeded(format!("deadline of {d:?} passed before the work finished"))
        })?,
        None => task.await,
    };
    joined
        .map_err(|e| Status::internal(format!("storage task failed: {e}")))?
        .map_err(to_status)
}
