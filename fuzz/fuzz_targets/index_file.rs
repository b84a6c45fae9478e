//! Bytes as an index file: open with `HnswView::open`, and exercise it if it
//! opens. The body is `waypoint_index::fuzzing::index_file`.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static SCRATCH: LazyLock<tempfile::TempDir> =
    LazyLock::new(|| tempfile::tempdir().expect("a scratch directory"));

fuzz_target!(|data: &[u8]| waypoint_index::fuzzing::index_file(SCRATCH.path(), data));
