//! Bytes as postcard-encoded WAL operations (after a config selector byte),
//! framed with correct checksums, replayed and compared with the live write
//! path. The body is `waypoint_server::fuzzing::wal_ops`.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static SCRATCH: LazyLock<tempfile::TempDir> =
    LazyLock::new(|| tempfile::tempdir().expect("a scratch directory"));

fuzz_target!(|data: &[u8]| waypoint_server::fuzzing::wal_ops(SCRATCH.path(), data));
