//! The bodies of the WAL fuzz targets (`fuzz/` at the repository root),
//! kept here so that the nightly fuzzer and the stable test that replays
//! their corpus (`server/tests/fuzz_corpus.rs`) run the same code. Not
//! part of the supported API.
//!
//! Both targets build a collection in a scratch directory whose config is
//! picked by the input's first byte ([`config_for`]), then:
//! - [`wal_bytes`]: the rest of the input is the collection's `wal.log`.
//!   Opening must give a collection (read-only, naming the log and a
//!   record's offset, if the log is damaged) or [`StorageError::Corrupt`]
//!   naming the log; an open collection must answer count, search and get
//!   consistently, take a write unless read-only (then refuse it), and
//!   reopen to the same points.
//! - [`wal_ops`]: the rest is decoded as a sequence of postcard
//!   [`Operation`]s, which are framed with correct checksums (so the fuzzer
//!   explores the operations, not the CRC). The same operations also go
//!   through the live write path of a second collection. Replay must open
//!   the log read-write only if every operation was one the write path
//!   takes, and then hold exactly what the live collection holds (else
//!   read-only, stopped at a record's offset); the live collection must
//!   reopen to what it acknowledged.
//!
//! A violated property panics, which the fuzzer reports.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use waypoint_index::Metric;

use crate::storage::collection::{Collection, Config, Query, Record, WalSync};
use crate::storage::payload::Payload;
use crate::storage::wal::{self, Operation, PointWrite};
use crate::storage::StorageError;

/// The log's file name inside a collection directory.
const WAL_FILE: &str = "wal.log";

/// The config of the scratch collection: dimension 1–4, each metric, and a
/// segment limit of 1–8 points so that writes seal often.
pub fn config_for(selector: u8) -> Config {
    let metrics = [Metric::L2Squared, Metric::Cosine, Metric::InnerProduct];
    Config {
        name: "fuzz".into(),
        dim: 1 + usize::from(selector % 4),
        metric: metrics[usize::from(selector / 4 % 3)],
        m: 4,
        ef_construction: 16,
        segment_max_points: 1 + u64::from(selector / 12 % 8),
        wal_sync: WalSync::Never,
        wal_sync_interval_ms: 0,
    }
}

/// Runs one `wal_bytes` input in `scratch` (an existing directory the
/// caller owns).
///
/// # Panics
/// When a property in the module docs is violated.
pub fn wal_bytes(scratch: &Path, data: &[u8]) {
    let Some((&selector, log)) = data.split_first() else {
        return;
    };
    let dir = fresh_collection(scratch, "replayed", &config_for(selector));
    std::fs::write(dir.join(WAL_FILE), log).expect("scratch is writable");
    let collection = match Collection::open(&dir) {
        Ok(collection) => collection,
        Err(e) => return assert_names_the_log(&e, &dir),
    };
    check_answers(&collection);
    let point = PointWrite {
        id: u64::MAX,
        vector: vec![0.25; collection.config().dim],
        payload: Payload::new(),
    };
    if let Some(damage) = collection.wal_damage() {
        assert_eq!(damage.path, dir.join(WAL_FILE), "{damage}");
        let refused = collection.upsert(vec![point]);
        assert!(
            matches!(refused, Err(StorageError::ReadOnly { .. })),
            "a read-only collection took a write: {refused:?}"
        );
    } else {
        collection
            .upsert(vec![point])
            .expect("a valid point is taken");
    }
    reopen_holds_the_same(&dir, collection);
}

/// Runs one `wal_ops` input in `scratch` (an existing directory the caller
/// owns).
///
/// # Panics
/// When a property in the module docs is violated.
pub fn wal_ops(scratch: &Path, data: &[u8]) {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let mut ops = Vec::new();
    while let Ok((op, tail)) = postcard::take_from_bytes::<Operation>(rest) {
        ops.push(op);
        rest = tail;
    }
    let config = config_for(selector);

    // The log as a writer that skipped validation would have left it.
    let crafted = fresh_collection(scratch, "replayed", &config);
    let mut log = Vec::new();
    let mut offsets = Vec::new();
    for (lsn, op) in (1..).zip(&ops) {
        offsets.push(log.len() as u64);
        log.extend_from_slice(&wal::encode(lsn, op));
    }
    std::fs::write(crafted.join(WAL_FILE), &log).expect("scratch is writable");

    // The same operations through the write path.
    let live_dir = fresh_collection(scratch, "live", &config);
    let live = Collection::open(&live_dir).expect("a new collection opens");
    let mut all_taken = true;
    let mut repeats_an_id = false;
    for op in &ops {
        let taken = match op {
            Operation::Upsert(points) => live.upsert(points.clone()).is_ok(),
            Operation::Delete(ids) => live.delete_ids(ids).is_ok(),
        };
        all_taken &= taken;
        repeats_an_id |= has_repeated_id(op);
    }

    let replayed = Collection::open(&crafted).expect("a log of whole records opens");
    match replayed.wal_damage() {
        None => {
            assert!(
                all_taken,
                "replay applied an operation the write path refuses"
            );
            assert!(
                !repeats_an_id,
                "replay applied an operation with a repeated id"
            );
            assert_eq!(
                snapshot(&replayed),
                snapshot(&live),
                "replay and the write path disagree"
            );
        }
        Some(damage) => {
            assert!(
                !all_taken || repeats_an_id,
                "replay refused operations the write path takes: {damage}"
            );
            assert_eq!(damage.path, crafted.join(WAL_FILE), "{damage}");
            assert!(
                offsets.contains(&damage.offset),
                "{damage}: not a record's offset"
            );
        }
    }
    reopen_holds_the_same(&live_dir, live);
}

/// Creates `scratch/name` afresh (removing what a previous input left)
/// with `config`, and returns it.
fn fresh_collection(scratch: &Path, name: &str, config: &Config) -> PathBuf {
    let dir = scratch.join(name);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("clearing scratch: {e}"),
        _ => {}
    }
    std::fs::create_dir(&dir).expect("scratch is writable");
    Collection::create(&dir, config).expect("the fuzz configs are valid");
    dir
}

/// Whether an operation names one id twice (the write path folds those).
fn has_repeated_id(op: &Operation) -> bool {
    let mut seen = HashSet::new();
    match op {
        Operation::Upsert(points) => !points.iter().all(|p| seen.insert(p.id)),
        Operation::Delete(ids) => !ids.iter().all(|&id| seen.insert(id)),
    }
}

/// A log that fails to open is [`StorageError::Corrupt`] naming `dir`'s log.
fn assert_names_the_log(e: &StorageError, dir: &Path) {
    let StorageError::Corrupt { path, .. } = e else {
        panic!("a damaged log must be Corrupt, got: {e}");
    };
    assert_eq!(path, &dir.join(WAL_FILE), "{e}");
}

/// Every live point, by exact search (which must find them all).
fn all_points(collection: &Collection) -> Vec<u64> {
    let count = collection.count(None);
    let query = Query {
        vector: vec![1.0; collection.config().dim],
        k: count.max(1) as usize,
        ef: None,
        exact: true,
        filter: None,
        with_payload: false,
        with_vectors: false,
        cancel: Default::default(),
    };
    let hits = collection.search(&query).expect("a valid query");
    assert_eq!(
        hits.len() as u64,
        count,
        "exact search finds every live point"
    );
    let mut ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
    ids.sort_unstable();
    ids
}

/// Every live point with its vector and payload, in id order, as text:
/// payload floats may be NaN, which `==` would call unequal to itself.
fn snapshot(collection: &Collection) -> String {
    let ids = all_points(collection);
    let records: Vec<Record> = collection.get(&ids, true, true).expect("readable");
    assert_eq!(records.len(), ids.len(), "get returns every live point");
    format!("{records:?}")
}

/// Graph searches return live, unique hits, at most `k`, closest first.
fn check_answers(collection: &Collection) {
    let ids: HashSet<u64> = all_points(collection).into_iter().collect();
    for (k, ef) in [(1, None), (3, Some(1)), (ids.len() + 1, Some(64))] {
        let query = Query {
            vector: (0..collection.config().dim)
                .map(|i| i as f32 - 0.5)
                .collect(),
            k,
            ef,
            exact: false,
            filter: None,
            with_payload: true,
            with_vectors: true,
            cancel: Default::default(),
        };
        let hits = collection.search(&query).expect("a valid query");
        assert!(hits.len() <= k);
        let unique: HashSet<u64> = hits.iter().map(|h| h.id).collect();
        assert_eq!(unique.len(), hits.len(), "a hit is returned twice");
        assert!(unique.is_subset(&ids), "a hit is not live");
        assert!(hits
            .windows(2)
            .all(|w| w[0].distance.total_cmp(&w[1].distance).is_le()));
    }
}

/// Closes `collection` and opens `dir` again: it must hold the same points.
fn reopen_holds_the_same(dir: &Path, collection: Collection) {
    let before = snapshot(&collection);
    drop(collection);
    let reopened = Collection::open(dir).expect("a collection reopens after its own writes");
    assert_eq!(
        snapshot(&reopened),
        before,
        "points changed across a reopen"
    );
}

/// Hand-made seeds, as `(name, input)`: logs the write path produces for
/// several configs (upserts with every payload kind, a delete, a replace).
/// With `framed` the operations are framed as `wal.log` records (the
/// `wal_bytes` input), else postcard-encoded back to back (`wal_ops`).
pub fn seeds(framed: bool) -> Vec<(String, Vec<u8>)> {
    // Selectors: 1-d l2 (limit 1), 2-d cosine, 3-d ip, 4-d l2 (limit 8).
    [0u8, 5, 10, 87]
        .into_iter()
        .map(|selector| {
            let dim = config_for(selector).dim;
            let mut input = vec![selector];
            for (lsn, op) in (1..).zip(seed_ops(dim)) {
                if framed {
                    input.extend_from_slice(&wal::encode(lsn, &op));
                } else {
                    input.extend_from_slice(&postcard::to_stdvec(&op).expect("encodes"));
                }
            }
            let config = config_for(selector);
            (format!("seed-{}d-{}", config.dim, config.metric), input)
        })
        .collect()
}

fn seed_ops(dim: usize) -> Vec<Operation> {
    use crate::storage::payload::Value;
    let point = |id: u64, payload: Payload| PointWrite {
        id,
        vector: (0..dim).map(|i| (id as f32) + i as f32 * 0.5).collect(),
        payload,
    };
    let tagged: Payload = [
        ("tag".to_string(), Value::Keyword("a".into())),
        ("n".to_string(), Value::Integer(-3)),
        ("f".to_string(), Value::Float(0.5)),
        ("ok".to_string(), Value::Bool(true)),
        (
            "tags".to_string(),
            Value::Keywords(vec!["x".into(), "y".into()]),
        ),
    ]
    .into_iter()
    .collect();
    vec![
        Operation::Upsert(vec![point(1, tagged.clone()), point(2, Payload::new())]),
        Operation::Upsert(vec![point(3, tagged)]),
        Operation::Delete(vec![1]),
        Operation::Upsert(vec![point(2, Payload::new())]),
    ]
}
