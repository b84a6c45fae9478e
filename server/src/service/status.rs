//! Errors to gRPC statuses, and the bridge from async handlers to blocking
//! storage calls.
//!
//! | error | status |
//! |---|---|
//! | bad argument, bad vector, `k = 0` | `INVALID_ARGUMENT` |
//! | above a limit, index full, disk full, response over `max_message_bytes` | `RESOURCE_EXHAUSTED` |
//! | request over `max_message_bytes` (tonic, before reading it) | `OUT_OF_RANGE` |
//! | unknown collection | `NOT_FOUND` |
//! | name taken | `ALREADY_EXISTS` |
//! | collection failed to open on a damaged file, corrupt file, a segment file changed under the server | `DATA_LOSS` |
//! | write to a collection opened read-only (a refused WAL record) | `FAILED_PRECONDITION` |
//! | collection failed to open for another reason (I/O, permissions) | `UNAVAILABLE` |
//! | writes stopped until restart (a failed write could not be undone) | `UNAVAILABLE` |
//! | I/O | `INTERNAL` |
//! | deadline passed | `DEADLINE_EXCEEDED` |

use std::time::Duration;

use tonic::{Request, Response, Status};
use waypoint_index::Error as EngineError;

use crate::config::Limits;
use crate::storage::StorageError;

/// The status for a storage error; the message is the error's text.
pub fn to_status(e: StorageError) -> Status {
    let message = e.to_string();
    match e {
        StorageError::InvalidArgument(_) => Status::invalid_argument(message),
        StorageError::LimitExceeded(_) | StorageError::DiskFull { .. } => {
            Status::resource_exhausted(message)
        }
        StorageError::WritesStopped { .. } | StorageError::InUse { .. } => {
            Status::unavailable(message)
        }
        StorageError::NotFound(_) => Status::not_found(message),
        StorageError::AlreadyExists(_) => Status::already_exists(message),
        StorageError::Unavailable { corrupt: false, .. } => Status::unavailable(message),
        StorageError::Unavailable { corrupt: true, .. }
        | StorageError::Corrupt { .. }
        | StorageError::Damaged { .. } => Status::data_loss(message),
        StorageError::ReadOnly { .. } => Status::failed_precondition(message),
        StorageError::Io { .. } => Status::internal(message),
        StorageError::Engine { source, .. } => match source {
            EngineError::CapacityExceeded { .. } => Status::resource_exhausted(message),
            EngineError::UnknownId(_) => Status::not_found(message),
            EngineError::Corrupt { .. } | EngineError::FileChanged { .. } => {
                Status::data_loss(message)
            }
            EngineError::Io { .. } => Status::internal(message),
            _ => Status::invalid_argument(message),
        },
    }
}

/// `message` as the response, unless its encoding is above the server's
/// `max_message_bytes`: then `RESOURCE_EXHAUSTED` saying so, rather than
/// tonic's encoder failing after the work with a less helpful error.
pub fn reply<M: prost::Message>(message: M, limits: &Limits) -> Result<Response<M>, Status> {
    let len = message.encoded_len();
    if len > limits.max_message_bytes {
        return Err(Status::resource_exhausted(format!(
            "the response would be {len} bytes, above the server's max_message_bytes of {}; \
             ask for fewer results (k, ids) or leave with_vectors/with_payload off",
            limits.max_message_bytes
        )));
    }
    Ok(Response::new(message))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_timeout(value: &'static str) -> Request<()> {
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert("grpc-timeout", value.parse().unwrap());
        request
    }

    #[test]
    fn grpc_timeout_headers_parse_in_every_unit() {
        assert_eq!(
            deadline(&with_timeout("2H")),
            Some(Duration::from_secs(7200))
        );
        assert_eq!(
            deadline(&with_timeout("3M")),
            Some(Duration::from_secs(180))
        );
        assert_eq!(deadline(&with_timeout("4S")), Some(Duration::from_secs(4)));
        assert_eq!(
            deadline(&with_timeout("5m")),
            Some(Duration::from_millis(5))
        );
        assert_eq!(
            deadline(&with_timeout("6u")),
            Some(Duration::from_micros(6))
        );
        assert_eq!(deadline(&with_timeout("7n")), Some(Duration::from_nanos(7)));
        assert_eq!(deadline(&with_timeout("8x")), None);
        assert_eq!(deadline(&Request::new(())), None);
    }

    #[tokio::test]
    async fn work_that_outlives_its_deadline_is_deadline_exceeded() {
        let slow = || {
            std::thread::sleep(Duration::from_millis(200));
            Ok(())
        };
        let status = blocking(Some(Duration::from_millis(5)), slow)
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert!(
            status.message().contains("deadline"),
            "{}",
            status.message()
        );
        // Within its deadline, the same work answers normally.
        let answer = blocking(Some(Duration::from_secs(5)), || Ok(42)).await;
        assert_eq!(answer.unwrap(), 42);
    }
}
