//! The library behind the `waypoint` binary: the CLI commands ([`cli`]),
//! the gRPC server ([`serve`], [`service`], [`config`], with [`tls`] and
//! API-key [`auth`], and the transport bounds of [`connection`] and
//! [`admission`]) and the durable
//! storage it serves from ([`storage`]). It is a library so that fuzz
//! targets and tests can drive the storage layer (e.g. WAL replay) without
//! a process in between; the supported interfaces remain the binary and
//! the gRPC API.

pub mod admission;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connection;
#[doc(hidden)]
pub mod fuzzing;
pub mod serve;
pub mod service;
pub mod tls;

/// The durable collections the server serves from: the `waypoint-storage`
/// crate (`server/storage/`), re-exported so the CLI and service keep one path.
pub use waypoint_storage as storage;
