//! Accepted TCP connections: at most `max_connections` at once, each
//! closed after `idle_timeout_ms` without a request in flight, each with
//! its own budget of buffered request bytes ([`Connection::budget`]).
//!
//! At the limit, a new connection takes the slot of the connection that
//! has been idle longest (no call in flight), which is closed: sockets that
//! only sit there cannot lock real clients out for the idle timeout. When
//! every connection has a call in flight, the new one is closed as soon as
//! it is accepted, so clients fail fast instead of waiting in the listen
//! backlog, and the descriptors stay below the process limit. Accept errors (e.g. `EMFILE`)
//! pause the accept loop briefly instead of spinning on them.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How long the accept loop pauses after an accept error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What one connection shares with the calls on it (a request extension,
/// see [`Connection::of`]).
#[derive(Debug)]
pub struct Connection {
    /// Calls in flight (request received, response not yet finished).
    active: AtomicUsize,
    /// When the last call finished (or the connection opened).
    idle_since: Mutex<Instant>,
    /// Request bytes this connection may have buffered at once.
    budget: Arc<Semaphore>,
    /// Its place under `max_connections`; taken by a newer connection
    /// when this one is evicted.
    slot: Mutex<Option<OwnedSemaphorePermit>>,
    /// Set when a newer connection took its slot: the stream then ends.
    evicted: AtomicBool,
    /// The task reading the stream, woken on eviction.
    reader: Mutex<Option<Waker>>,
}

impl Connection {
    /// The connection a request arrived on, from its extensions (tonic
    /// puts [`Info`] there for plaintext and TLS alike); `None` outside the
    /// server (unit tests).
    pub fn of(extensions: &tonic::codegen::http::Extensions) -> Option<Arc<Connection>> {
        extensions
            .get::<Info>()
            .map(|info| Arc::clone(&info.connection))
    }

    /// The connection's buffered-bytes budget.
    pub fn budget(&self) -> &Arc<Semaphore> {
        &self.budget
    }

    /// Marks a call in flight until the returned guard drops.
    pub fn call_started(self: &Arc<Self>) -> CallGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        CallGuard(Arc::clone(self))
    }

    /// When the idle timer may close the connection: `None` while a call is
    /// in flight.
    fn idle_deadline(&self, idle_timeout: Duration) -> Option<Instant> {
        self.idle_since().map(|since| since + idle_timeout)
    }

    /// Since when no call has been in flight; `None` while one is.
    fn idle_since(&self) -> Option<Instant> {
        (self.active.load(Ordering::SeqCst) == 0).then(|| *self.idle_since.lock())
    }

    /// Takes this connection's slot and makes its stream end (the reader
    /// is woken); `None` if it has lost its slot already.
    fn evict(&self) -> Option<OwnedSemaphorePermit> {
        let slot = self.slot.lock().take()?;
        self.evicted.store(true, Ordering::SeqCst);
        if let Some(reader) = self.reader.lock().take() {
            reader.wake();
        }
        Some(slot)
    }

    /// Whether the stream must end because a newer connection took its
    /// slot; registers `cx`'s waker first, so an eviction racing this call
    /// still wakes the reader.
    fn is_evicted(&self, cx: &Context<'_>) -> bool {
        let mut reader = self.reader.lock();
        if !reader.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *reader = Some(cx.waker().clone());
        }
        drop(reader);
        self.evicted.load(Ordering::SeqCst)
    }
}

/// A call in flight on a [`Connection`]; dropping it ends the call.
#[derive(Debug)]
pub struct CallGuard(Arc<Connection>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        *self.0.idle_since.lock() = Instant::now();
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The connect info tonic puts on every request of a connection.
#[derive(Debug, Clone)]
pub struct Info {
    tcp: TcpConnectInfo,
    connection: Arc<Connection>,
}

/// Settings of [`incoming`].
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Connections open at once.
    pub max_connections: usize,
    /// Close a connection after this long without a call in flight.
    pub idle_timeout: Duration,
    /// Request bytes one connection may have buffered.
    pub buffered_bytes_per_connection: usize,
}

/// An accepted TCP stream under the connection limit and idle timer.
#[derive(Debug)]
pub struct Stream {
    tcp: TcpStream,
    info: Info,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
}

impl Stream {
    /// Whether the idle timer has expired (re-arming it otherwise); polls
    /// the timer so the task wakes when it does.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.idle.as_mut().poll(cx).is_pending() {
                return false;
            }
            let connection = &self.info.connection;
            match connection.idle_deadline(self.idle_timeout) {
                Some(deadline) if deadline <= Instant::now() => return true,
                Some(deadline) => self.idle.as_mut().reset(deadline),
                None => self.idle.as_mut().reset(Instant::now() + self.idle_timeout),
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.info.connection.is_evicted(cx) || this.idle_expired(cx) {
            // End of stream: hyper closes the connection.
            tracing::debug!(peer = ?this.info.tcp.remote_addr(), "closing an idle connection");
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

impl Connected for Stream {
    type ConnectInfo = Info;

    fn connect_info(&self) -> Info {
        self.info.clone()
    }
}

/// Accepted connections with Nagle's algorithm off (a small response must
/// not wait for the client's delayed ACK; it cost up to 40 ms per request),
/// under `settings`. With TLS on, tonic runs each handshake on these
/// streams, so the limit and timer hold for TLS too.
pub fn incoming(listener: TcpListener, settings: Settings) -> Incoming {
    Incoming {
        listener,
        slots: Arc::new(Semaphore::new(settings.max_connections)),
        live: Vec::new(),
        settings,
        backoff: None,
    }
}

/// The stream of [`incoming`] connections.
#[derive(Debug)]
pub struct Incoming {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    /// The connections accepted (some may have closed since).
    live: Vec<Weak<Connection>>,
    settings: Settings,
    backoff: Option<Pin<Box<Sleep>>>,
}

impl Incoming {
    /// `tcp` under a connection slot, or `None` (closing it) at the limit
    /// when no connection is idle.
    fn admit(&mut self, tcp: TcpStream) -> Option<Stream> {
        let slot = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => match self.evict_idlest() {
                Some(slot) => slot,
                None => {
                    tracing::warn!(
                        max_connections = self.settings.max_connections,
                        peer = ?tcp.peer_addr().ok(),
                        "connection refused: the server is at its connection limit, every connection busy"
                    );
                    return None;
                }
            },
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let connection = Arc::new(Connection {
            active: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            budget: Arc::new(Semaphore::new(self.settings.buffered_bytes_per_connection)),
            slot: Mutex::new(Some(slot)),
            evicted: AtomicBool::new(false),
            reader: Mutex::new(None),
        });
        if self.live.len() >= 2 * self.settings.max_connections {
            self.live.retain(|c| c.strong_count() > 0);
        }
        self.live.push(Arc::downgrade(&connection));
        Some(Stream {
            info: Info {
                tcp: tcp.connect_info(),
                connection,
            },
            tcp,
            idle_timeout: self.settings.idle_timeout,
            idle: Box::pin(tokio::time::sleep(self.settings.idle_timeout)),
        })
    }

    /// The slot of the connection idle longest, which is closed.
    fn evict_idlest(&mut self) -> Option<OwnedSemaphorePermit> {
        self.live.retain(|c| c.strong_count() > 0);
        let idlest = self
            .live
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|c| !c.evicted.load(Ordering::SeqCst))
            .filter_map(|c| Some((c.idle_since()?, c)))
            .min_by_key(|(since, _)| *since)?
            .1;
        tracing::debug!("at the connection limit: closing the connection idle longest");
        idlest.evict()
    }
}

impl tokio_stream::Stream for Incoming {
    type Item = io::Result<Stream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(backoff) = &mut this.backoff {
                std::task::ready!(backoff.as_mut().poll(cx));
                this.backoff = None;
            }
            match std::task::ready!(this.listener.poll_accept(cx)) {
                Ok((tcp, _)) => {
                    if let Some(stream) = this.admit(tcp) {
                        return Poll::Ready(Some(Ok(stream)));
                    }
                }
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}; pausing accepts briefly");
                    this.backoff = Some(Box::pin(tokio::time::sleep(ACCEPT_BACKOFF)));
                }
            }
        }
    }
}
