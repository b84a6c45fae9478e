//! Replays the fuzz targets' committed inputs on stable, as ordinary
//! tests: every file of `fuzz/corpus/<target>/` (which must exist and not
//! be empty) and of `fuzz/regressions/<target>/` (crashes the fuzzer once
//! found), plus the hand-made seeds, through the same body the fuzz target
//! runs (`waypoint_index::fuzzing`, `waypoint_server::fuzzing`). A body
//! panics when a property fails, naming the input here.
//!
//! With `WAYPOINT_WRITE_FUZZ_SEEDS=1` the seeds are also written into the
//! corpus directories (how the committed `seed-*` files were made).

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use waypoint_index::fuzzing as index_fuzzing;
use waypoint_server::fuzzing as wal_fuzzing;

/// Inputs replayed at once per target.
const SCRATCH_WORKERS: usize = 8;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The committed inputs of `target`: corpus (required) and regressions.
fn committed_inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let corpus = fuzz_dir().join("corpus").join(target);
    let regressions = fuzz_dir().join("regressions").join(target);
    let mut inputs = files_in(&corpus)
        .unwrap_or_else(|e| panic!("the corpus {} must exist: {e}", corpus.display()));
    assert!(
        !inputs.is_empty(),
        "the corpus {} is empty",
        corpus.display()
    );
    inputs.extend(files_in(&regressions).unwrap_or_default());
    inputs
}

fn files_in(dir: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            let bytes = std::fs::read(&path)?;
            files.push((path, bytes));
        }
    }
    files.sort();
    Ok(files)
}

/// Runs `body` on the seeds (writing them first if asked) and every
/// committed input of `target`, in parallel, each worker in its own scratch
/// directory.
fn replay(target: &str, seeds: Vec<(String, Vec<u8>)>, body: fn(&Path, &[u8])) {
    if std::env::var_os("WAYPOINT_WRITE_FUZZ_SEEDS").is_some() {
        let corpus = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&corpus).unwrap();
        for (name, bytes) in &seeds {
            std::fs::write(corpus.join(name), bytes).unwrap();
        }
    }
    let seed_count = seeds.len();
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = seeds
        .into_iter()
        .map(|(name, bytes)| (PathBuf::from(format!("seed {name}")), bytes))
        .collect();
    inputs.extend(committed_inputs(target));
    // More threads than cores: most of the time is spent waiting on fsync.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(SCRATCH_WORKERS)
        .build()
        .unwrap();
    pool.install(|| {
        inputs.par_iter().for_each_init(
            || tempfile::tempdir().unwrap(),
            |scratch, (name, bytes)| {
                let run =
                    std::panic::catch_unwind(AssertUnwindSafe(|| body(scratch.path(), bytes)));
                if run.is_err() {
                    panic!("{target}: input {} fails (message above)", name.display());
                }
            },
        )
    });
    println!(
        "{target}: {seed_count} seeds, {} committed inputs",
        inputs.len() - seed_count
    );
}

#[test]
fn index_file_inputs_open_or_are_refused_cleanly() {
    let scratch = tempfile::tempdir().unwrap();
    replay(
        "index_file",
        index_fuzzing::seeds(scratch.path()),
        index_fuzzing::index_file,
    );
}

#[test]
fn wal_bytes_inputs_replay_or_are_refused_cleanly() {
    replay(
        "wal_bytes",
        wal_fuzzing::seeds(true),
        wal_fuzzing::wal_bytes,
    );
}

#[test]
fn wal_ops_inputs_replay_exactly_as_the_write_path_applies_them() {
    replay("wal_ops", wal_fuzzing::seeds(false), wal_fuzzing::wal_ops);
}
