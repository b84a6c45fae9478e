//! Errors to gRPC statuses, and the bridge from async handlers to blocking
//! storage calls ([`Work`]).
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
//! | cancelled (the caller stopped waiting) | `CANCELLED` |

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};
use waypoint_index::Error as EngineError;

use crate::config::Limits;
use crate::storage::cancel::Cancel;
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
        StorageError::Cancelled => Status::cancelled(message),
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

/// Why a response over `max_message_bytes` is refused; `size` says how big.
fn too_large(size: &str, limits: &Limits) -> String {
    format!(
        "the response would be {size} bytes, above the server's max_message_bytes of {}; \
         ask for fewer results (k, ids, searches) or leave with_vectors/with_payload off",
        limits.max_message_bytes
    )
}

/// `message` as the response, unless its encoding is above the server's
/// `max_message_bytes`: then `RESOURCE_EXHAUSTED` saying so, rather than
/// tonic's encoder failing after the work with a less helpful error.
pub fn reply<M: prost::Message>(message: M, limits: &Limits) -> Result<Response<M>, Status> {
    let len = message.encoded_len();
    if len > limits.max_message_bytes {
        return Err(Status::resource_exhausted(too_large(
            &len.to_string(),
            limits,
        )));
    }
    Ok(Response::new(message))
}

/// The encoded size of a response as it is built, element by element, so
/// that one above `max_message_bytes` is refused as soon as it gets there
/// (holding at most that much) instead of after all of it is built.
#[derive(Debug)]
pub struct ResponseSize<'a> {
    limits: &'a Limits,
    bytes: usize,
}

impl<'a> ResponseSize<'a> {
    /// An empty response under `limits`.
    pub fn new(limits: &'a Limits) -> Self {
        ResponseSize { limits, bytes: 0 }
    }

    /// Adds an element (a repeated field's entry) of `len` encoded bytes.
    ///
    /// # Errors
    /// [`StorageError::LimitExceeded`] once the total passes the limit.
    pub fn add(&mut self, len: usize) -> Result<(), StorageError> {
        // Tag, length prefix, body.
        self.bytes = self
            .bytes
            .saturating_add(1 + prost::length_delimiter_len(len) + len);
        self.check(self.bytes, "at least")
    }

    /// Refuses up front when `bytes`, an estimate `what` (e.g. "at least",
    /// "up to about") of the response, is above the limit.
    ///
    /// # Errors
    /// [`StorageError::LimitExceeded`].
    pub fn check(&self, bytes: usize, what: &str) -> Result<(), StorageError> {
        if bytes > self.limits.max_message_bytes {
            let size = format!("{what} {bytes}");
            return Err(StorageError::LimitExceeded(too_large(&size, self.limits)));
        }
        Ok(())
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

/// Runs storage calls on the blocking pool, at most `max_concurrent_work`
/// at once; the others wait their turn as futures (costing nothing, and
/// dropped at once when their client goes away).
#[derive(Debug, Clone)]
pub struct Work {
    slots: Arc<Semaphore>,
}

impl Work {
    /// At most `max_concurrent` calls running at once.
    pub fn new(max_concurrent: usize) -> Self {
        Work {
            slots: Arc::new(Semaphore::new(max_concurrent)),
        }
    }

    /// Runs `work` once a slot is free. `work` gets a [`Cancel`] that is
    /// raised when the caller stops waiting: `deadline` passes (the caller
    /// gets `DEADLINE_EXCEEDED`) or the call's future is dropped (the
    /// client reset the stream or closed the connection); searches stop at
    /// their next check. A write in progress still completes: its outcome
    /// is then unknown to the client, as gRPC specifies.
    pub async fn run<T, F>(&self, deadline: Option<Duration>, work: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(Cancel) -> Result<T, StorageError> + Send + 'static,
    {
        let (cancel, _cancel_on_drop) = Cancel::new();
        let slots = Arc::clone(&self.slots);
        let task = async move {
            let slot = slots
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            tokio::task::spawn_blocking(move || {
                let _slot = slot;
                work(cancel)
            })
            .await
        };
        let joined = match deadline {
            Some(d) => tokio::time::timeout(d, task).await.map_err(|_| {
                Status::deadline_exceeded(format!(
                    "deadline of {d:?} passed before the work finished"
                ))
            })?,
            None => task.await,
        };
        joined
            .map_err(|e| Status::internal(format!("storage task failed: {e}")))?
            .map_err(to_status)
    }
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
        let work = Work::new(1);
        let slow = |_| {
            std::thread::sleep(Duration::from_millis(200));
            Ok(())
        };
        let status = work
            .run(Some(Duration::from_millis(5)), slow)
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert!(
            status.message().contains("deadline"),
            "{}",
            status.message()
        );
        // Within its deadline, the same work answers normally.
        let answer = work.run(Some(Duration::from_secs(5)), |_| Ok(42)).await;
        assert_eq!(answer.unwrap(), 42);
    }

    #[tokio::test]
    async fn work_whose_caller_stopped_waiting_sees_its_cancel() {
        let work = Work::new(1);
        let (tx, rx) = std::sync::mpsc::channel();
        let spin = move |cancel: Cancel| {
            while cancel.check().is_ok() {
                std::thread::sleep(Duration::from_millis(1));
            }
            tx.send(()).unwrap();
            Ok(())
        };
        let status = work
            .run(Some(Duration::from_millis(20)), spin)
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the work saw its cancel");
        // The slot is free again.
        assert_eq!(work.run(None, |_| Ok(7)).await.unwrap(), 7);
    }
}
