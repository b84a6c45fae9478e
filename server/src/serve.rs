//! `waypoint serve`: opens the catalog and runs the gRPC server —
//! `waypoint.v1.Collections`, `waypoint.v1.Points`, `grpc.health.v1.Health`
//! and server reflection — until SIGINT or SIGTERM. Shutdown stops
//! accepting connections, lets in-flight requests finish, then fsyncs every
//! WAL. TLS ([`crate::tls`]) is on when a certificate and key are
//! configured; every call passes the API-key check ([`crate::auth`]), then
//! the bounds on buffered request bytes ([`crate::admission`]). Connections
//! come through [`crate::connection`] (a connection limit, an idle timer);
//! HTTP/2 runs with `SETTINGS_MAX_CONCURRENT_STREAMS` and PING keep-alive.

use std::sync::Arc;
use std::time::Duration;

use tonic::transport::Server;
use waypoint_proto::v1::collections_server::CollectionsServer;
use waypoint_proto::v1::points_server::PointsServer;

use crate::admission::AdmissionLayer;
use crate::auth::AuthLayer;
use crate::config::ServeConfig;
use crate::connection::{self, incoming};
use crate::service::collections::CollectionsService;
use crate::service::points::PointsService;
use crate::service::Work;
use crate::storage::catalog::Catalog;

/// Largest health-check request (a service name).
const HEALTH_MESSAGE_BYTES: usize = 4 << 10;
/// Largest reflection request (a symbol or file name).
const REFLECTION_MESSAGE_BYTES: usize = 64 << 10;
/// A keep-alive PING unanswered for this long closes the connection.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data directory could not be opened.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    /// The address could not be bound (e.g. it is in use).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Listen address.
        addr: std::net::SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The transport failed while serving.
    #[error("gRPC server on {addr}: {source}")]
    Transport {
        /// Listen address.
        addr: std::net::SocketAddr,
        /// The transport error.
        #[source]
        source: tonic::transport::Error,
    },
    /// The reflection service could not be built.
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Runs the server until a shutdown signal; returns after the WALs are synced.
///
/// # Errors
/// [`ServeError`].
pub async fn run(config: ServeConfig) -> Result<(), ServeError> {
    // Settings first: a bad certificate must stop us before any other work.
    let server = match &config.tls {
        Some(files) => crate::tls::server_builder(files)?,
        None => Server::builder(),
    };
    // Then the address: a port in use must not leave a data directory and
    // its LOCK behind.
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    let data_dir = config.data_dir.clone();
    let max_collections = config.limits.max_collections;
    let catalog = Arc::new(
        tokio::task::spawn_blocking(move || Catalog::open(&data_dir, max_collections))
            .await
            .expect("catalog open does not panic")?,
    );
    let limits = config.limits;
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<CollectionsServer<CollectionsService>>()
        .await;
    health_reporter
        .set_serving::<PointsServer<PointsService>>()
        .await;
    // Reflection in both versions: v1alpha is all older clients (e.g.
    // grpcurl before 1.9) speak.
    // Health and reflection requests are a few names: a small decoding
    // limit refuses a large declared body before it is buffered.
    let health = health.max_decoding_message_size(HEALTH_MESSAGE_BYTES);
    let reflection = reflection_builder()
        .build_v1()?
        .max_decoding_message_size(REFLECTION_MESSAGE_BYTES);
    let reflection_v1alpha = reflection_builder()
        .build_v1alpha()?
        .max_decoding_message_size(REFLECTION_MESSAGE_BYTES);
    let work = Work::new(limits.max_concurrent_work);
    let collections = CollectionsServer::new(CollectionsService::new(
        Arc::clone(&catalog),
        limits,
        work.clone(),
    ))
    .max_decoding_message_size(limits.max_message_bytes)
    .max_encoding_message_size(limits.max_message_bytes);
    let points = PointsServer::new(PointsService::new(Arc::clone(&catalog), limits, work))
        .max_decoding_message_size(limits.max_message_bytes)
        .max_encoding_message_size(limits.max_message_bytes);

    let addr = listener.local_addr().unwrap_or(config.addr);
    tracing::info!(
        %addr,
        data_dir = %config.data_dir.display(),
        tls = config.tls.is_some(),
        api_keys = config.api_keys.required(),
        "waypoint serving"
    );
    // One line on stdout for scripts and tests that start us on port 0.
    println!("listening on {addr}");
    let settings = connection::Settings {
        max_connections: limits.max_connections,
        idle_timeout: Duration::from_millis(limits.idle_timeout_ms),
        buffered_bytes_per_connection: limits.max_buffered_bytes_per_connection,
    };
    server
        .max_concurrent_streams(limits.max_concurrent_streams)
        .http2_keepalive_interval(Some(Duration::from_millis(limits.keepalive_interval_ms)))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .layer(AuthLayer::new(config.api_keys))
        .layer(AdmissionLayer::new(&limits))
        .add_service(health)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(collections)
        .add_service(points)
        .serve_with_incoming_shutdown(incoming(listener, settings), shutdown_signal())
        .await
        .map_err(|source| ServeError::Transport { addr, source })?;
    tracing::info!("in-flight requests finished; syncing WALs");
    tokio::task::spawn_blocking(move || catalog.sync_all())
        .await
        .expect("WAL sync does not panic");
    tracing::info!("shut down");
    Ok(())
}

/// Reflection over our services and health.
fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(waypoint_proto::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown signal received");
}
