//! Bytes as a collection's `wal.log` (after a config selector byte): open,
//! and exercise the collection if it opens. The body is
//! `waypoint_server::fuzzing::wal_bytes`.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static SCRATCH: LazyLock<tempfile::TempDir> =
    LazyLock::new(|| tempfile::tempdir().expect("a scratch directory"));

fuzz_target!(|data: &[u8]| waypoint_server::fuzzing::wal_bytes(SCRATCH.path(), data));
