//! Bounds on what a call may hold before its handler runs, as a tower
//! layer inside the API-key check (so a call without a valid key is
//! refused on its headers, before any of its body is read):
//!
//! * **Buffered bytes.** Each gRPC message's declared length is reserved,
//!   as soon as its 5-byte prefix arrives, from a budget for the whole
//!   server (`max_buffered_bytes`) and one for its connection
//!   (`max_buffered_bytes_per_connection`); without room the call gets
//!   `RESOURCE_EXHAUSTED` before the body is buffered. A reservation is
//!   held until the next message starts or the call's handler returns.
//!   Messages of at most [`SMALL_MESSAGE`] bytes (searches, gets) draw on
//!   their connection's budget only, so stalled uploads cannot lock them
//!   out.
//! * **Stalled bodies.** A unary request's body must arrive within
//!   `request_body_timeout_ms`; on a client stream, each message must,
//!   once started. Otherwise `DEADLINE_EXCEEDED`.
//! * **Idle connections.** The call is marked in flight on its
//!   [`Connection`] until its response ends, so the idle timer only closes
//!   connections with nothing to do.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::BoxFuture;
use tonic::Status;
use tower::{Layer, Service};

use crate::config::Limits;
use crate::connection::{CallGuard, Connection};

/// Methods whose request is a stream of messages (the gaps between them
/// are the client's business).
const CLIENT_STREAMS: &[&str] = &[
    "/waypoint.v1.Points/UpsertStream",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// Messages up to this size draw only on their connection's budget.
pub const SMALL_MESSAGE: usize = 16 << 10;

/// Length of the prefix of a gRPC message: compression flag, u32 length.
const PREFIX: usize = 5;

#[derive(Debug)]
struct Budget {
    server: Arc<Semaphore>,
    max_buffered_bytes: usize,
    max_buffered_bytes_per_connection: usize,
    max_message_bytes: usize,
    body_timeout: Duration,
}

/// Applies the bounds of the module docs to every call.
#[derive(Debug, Clone)]
pub struct AdmissionLayer {
    budget: Arc<Budget>,
}

impl AdmissionLayer {
    /// The layer for `limits`.
    pub fn new(limits: &Limits) -> Self {
        AdmissionLayer {
            budget: Arc::new(Budget {
                server: Arc::new(Semaphore::new(limits.max_buffered_bytes)),
                max_buffered_bytes: limits.max_buffered_bytes,
                max_buffered_bytes_per_connection: limits.max_buffered_bytes_per_connection,
                max_message_bytes: limits.max_message_bytes,
                body_timeout: Duration::from_millis(limits.request_body_timeout_ms),
            }),
        }
    }
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = Admitted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admitted {
            inner,
            budget: Arc::clone(&self.budget),
        }
    }
}

/// A service behind [`AdmissionLayer`].
#[derive(Debug, Clone)]
pub struct Admitted<S> {
    inner: S,
    budget: Arc<Budget>,
}

/// The byte reservations of one call.
type Held = Arc<Mutex<Vec<OwnedSemaphorePermit>>>;

impl<S> Service<Request<Body>> for Admitted<S>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let connection = Connection::of(request.extensions());
        let in_flight = connection.as_ref().map(Connection::call_started);
        let held = Held::default();
        let streaming = CLIENT_STREAMS.contains(&request.uri().path());
        let budget = Arc::clone(&self.budget);
        let held_by_body = Arc::clone(&held);
        let request = request.map(|body| {
            Body::new(Metered::new(
                body,
                budget,
                connection,
                held_by_body,
                streaming,
            ))
        });
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            drop(held);
            Ok(response.map(|body| {
                Body::new(Finishing {
                    body,
                    _in_flight: in_flight,
                })
            }))
        })
    }
}

/// A response body that ends its call (on the connection) when dropped.
struct Finishing {
    body: Body,
    /// Held for its `Drop`.
    _in_flight: Option<CallGuard>,
}

impl http_body::Body for Finishing {
    type Data = prost::bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A request body that reserves each message's bytes before passing them
/// on, and fails when it stalls.
struct Metered {
    body: Body,
    budget: Arc<Budget>,
    connection: Option<Arc<Connection>>,
    held: Held,
    streaming: bool,
    prefix: [u8; PREFIX],
    prefix_len: usize,
    /// Bytes of the current message still to come.
    left: usize,
    /// When the body (unary) or the current message (stream) must be in.
    stall: Option<Pin<Box<Sleep>>>,
}

impl Metered {
    fn new(
        body: Body,
        budget: Arc<Budget>,
        connection: Option<Arc<Connection>>,
        held: Held,
        streaming: bool,
    ) -> Self {
        let stall = (!streaming).then(|| Box::pin(tokio::time::sleep(budget.body_timeout)));
        Metered {
            body,
            budget,
            connection,
            held,
            streaming,
            prefix: [0; PREFIX],
            prefix_len: 0,
            left: 0,
            stall,
        }
    }

    /// Follows the gRPC framing through `data`, reserving each message.
    fn account(&mut self, mut data: &[u8]) -> Result<(), Status> {
        while !data.is_empty() {
            if self.prefix_len < PREFIX {
                if self.prefix_len == 0 && self.streaming {
                    let deadline = Instant::now() + self.budget.body_timeout;
                    self.stall = Some(Box::pin(tokio::time::sleep_until(deadline)));
                }
                let take = (PREFIX - self.prefix_len).min(data.len());
                self.prefix[self.prefix_len..self.prefix_len + take].copy_from_slice(&data[..take]);
                self.prefix_len += take;
                data = &data[take..];
                if self.prefix_len == PREFIX {
                    let len = u32::from_be_bytes([
                        self.prefix[1],
                        self.prefix[2],
                        self.prefix[3],
                        self.prefix[4],
                    ]) as usize;
                    self.reserve(len)?;
                    self.left = len;
                }
            } else {
                let take = self.left.min(data.len());
                self.left -= take;
                data = &data[take..];
            }
            if self.prefix_len == PREFIX && self.left == 0 {
                // A whole message: the next one starts afresh.
                self.prefix_len = 0;
                if self.streaming {
                    self.stall = None;
                }
            }
        }
        Ok(())
    }

    /// Replaces the call's reservation with one of `len` bytes.
    fn reserve(&mut self, len: usize) -> Result<(), Status> {
        let mut held = self.held.lock();
        held.clear();
        // Above max_message_bytes tonic refuses the message unread.
        if len == 0 || len > self.budget.max_message_bytes {
            return Ok(());
        }
        let n = u32::try_from(len).unwrap_or(u32::MAX);
        // Small messages (a search, a get) skip the server's budget, so big
        // stalled uploads cannot lock them out; they still count against
        // their connection's (at most max_connections x
        // max_concurrent_streams x SMALL_MESSAGE bytes in all).
        if len > SMALL_MESSAGE {
            let server = Arc::clone(&self.budget.server)
                .try_acquire_many_owned(n)
                .map_err(|_| {
                    Status::resource_exhausted(format!(
                        "the server is already buffering its limit of request bytes \
                         (limits.max_buffered_bytes = {}), so this {len}-byte message cannot \
                         be taken now; retry later",
                        self.budget.max_buffered_bytes
                    ))
                })?;
            held.push(server);
        }
        if let Some(connection) = &self.connection {
            let own = Arc::clone(connection.budget())
                .try_acquire_many_owned(n)
                .map_err(|_| {
                    Status::resource_exhausted(format!(
                        "this connection is already buffering its limit of request bytes \
                         (limits.max_buffered_bytes_per_connection = {}), so this {len}-byte \
                         message cannot be taken now; finish the calls in flight or retry",
                        self.budget.max_buffered_bytes_per_connection
                    ))
                })?;
            held.push(own);
        }
        Ok(())
    }
}

impl http_body::Body for Metered {
    type Data = prost::bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if let Err(status) = this.account(data) {
                        return Poll::Ready(Some(Err(status)));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(done) => {
                this.stall = None;
                Poll::Ready(done)
            }
            Poll::Pending => {
                let stalled = this
                    .stall
                    .as_mut()
                    .is_some_and(|stall| stall.as_mut().poll(cx).is_ready());
                if !stalled {
                    return Poll::Pending;
                }
                let what = if this.streaming {
                    "a message of the request stream"
                } else {
                    "the request"
                };
                Poll::Ready(Some(Err(Status::deadline_exceeded(format!(
                    "{what} did not arrive within limits.request_body_timeout_ms = {} ms",
                    this.budget.body_timeout.as_millis()
                )))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
