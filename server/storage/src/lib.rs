//! Durable collections: the storage half of `waypoint serve`, as a crate of
//! its own (`waypoint-storage`) so that anything needing collections — the
//! gRPC and HTTP front ends, fuzz targets, an embedded mode — can open them
//! without pulling in a server.
//!
//! Data flows through these modules in this order:
//! - [`catalog`]: the collections under `--data-dir/collections/`, opened at
//!   start (a collection that fails to open is reported, the others serve).
//! - [`collection`]: one collection's write path (validate → WAL → fsync →
//!   apply → acknowledge), sealing, recovery and search fan-out.
//! - [`wal`]: the write-ahead log (length, CRC32C, LSN, operation), with torn
//!   tails told apart from corruption.
//! - `segment`: sealed segments (engine index files opened with mmap) and
//!   their persisted tombstones and payloads; `manifest`: which segments
//!   exist and the WAL checkpoint.
//! - [`payload`], [`filter`]: payload values, their roaring inverted indexes
//!   and filter evaluation.
//! - `syncer`: one thread that fsyncs the WALs under the periodic policy.
//! - [`check`]: offline verification of every file of a data directory, and
//!   the WAL repair of `waypoint repair`.
//!
//! Nothing here knows about gRPC: the service layer maps [`StorageError`] to
//! statuses.

pub mod cancel;
pub mod catalog;
pub mod check;
pub mod collection;
mod error;
pub mod filter;
mod fsio;
mod manifest;
pub mod payload;
mod segment;
mod syncer;
pub mod wal;

pub use error::StorageError;
