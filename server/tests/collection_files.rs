//! A collection's own files, damaged, crafted or from a future Waypoint,
//! are refused at open with an error naming the file (and the offset where
//! it knows one), and are left as they were; a WAL record that cannot be
//! replayed opens the collection read-only with everything before it.

use std::path::{Path, PathBuf};

use waypoint_index::Metric;
use waypoint_server::storage::collection::{Collection, Config, Health, Query, WalSync};
use waypoint_server::storage::payload::Payload;
use waypoint_server::storage::wal::{self, Operation, PointWrite};
use waypoint_server::storage::StorageError;

/// A new 2-d cosine collection in a fresh directory.
fn new_collection() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    std::fs::create_dir(&dir).unwrap();
    let config = Config {
        name: "c".into(),
        dim: 2,
        metric: Metric::Cosine,
        m: 8,
        ef_construction: 32,
        segment_max_points: 100,
        wal_sync: WalSync::Always,
        wal_sync_interval_ms: 0,
    };
    Collection::create(&dir, &config).unwrap();
    (tmp, dir)
}

/// Opens `dir`, expecting a refusal naming `file`; returns (offset, reason)
/// and checks `file` was not changed.
fn refused(dir: &Path, file: &str) -> (u64, String) {
    let path = dir.join(file);
    let before = std::fs::read(&path).unwrap();
    let err = Collection::open(dir).unwrap_err();
    let message = err.to_string();
    let StorageError::Corrupt {
        path: named,
        offset,
        reason,
    } = err
    else {
        panic!("expected a Corrupt error, got {message}");
    };
    assert_eq!(named, path, "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "{file} was changed");
    (offset, reason)
}

fn point(id: u64, vector: Vec<f32>) -> PointWrite {
    PointWrite {
        id,
        vector,
        payload: Payload::new(),
    }
}

#[test]
fn a_manifest_from_a_future_version_is_refused_naming_found_and_expected() {
    let (_tmp, dir) = new_collection();
    std::fs::write(
        dir.join("manifest.toml"),
        "version = 2\ncheckpoint_lsn = 0\nnext_segment = 0\nsegments = []\nshards = 4\n",
    )
    .unwrap();
    let (_, reason) = refused(&dir, "manifest.toml");
    assert!(
        reason.contains("version 2")
            && reason.contains("reads version 1")
            && reason.contains("newer"),
        "{reason}"
    );
}

#[test]
fn a_garbage_or_unknown_keyed_manifest_is_refused() {
    let (_tmp, dir) = new_collection();
    let path = dir.join("manifest.toml");
    std::fs::write(&path, [0x57, 0x50, 0xff, 0xfe, 0x00, 0x01]).unwrap();
    let (offset, reason) = refused(&dir, "manifest.toml");
    assert_eq!((offset, reason.as_str()), (2, "not UTF-8 text"));
    std::fs::write(&path, "version = 1\n[[[ not toml").unwrap();
    refused(&dir, "manifest.toml");
    std::fs::write(
        &path,
        "version = 1\ncheckpoint_lsn = 0\nnext_segment = 0\nsegments = []\nshards = 4\n",
    )
    .unwrap();
    let (_, reason) = refused(&dir, "manifest.toml");
    assert!(reason.contains("unknown field `shards`"), "{reason}");
}

#[test]
fn a_garbage_or_future_config_is_refused_naming_the_file() {
    let (_tmp, dir) = new_collection();
    let path = dir.join("collection.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, b"\x00\x9f garbage").unwrap();
    let (_, reason) = refused(&dir, "collection.toml");
    assert_eq!(reason, "not UTF-8 text");
    std::fs::write(&path, "dim = \"two\"").unwrap();
    refused(&dir, "collection.toml");
    // A key this build does not know: a newer config is not half read.
    std::fs::write(&path, format!("{good}quantization = \"pq8\"\n")).unwrap();
    let (offset, reason) = refused(&dir, "collection.toml");
    assert!(reason.contains("unknown field `quantization`"), "{reason}");
    assert_eq!(offset, good.len() as u64, "the offset points at the key");
    // Restored, it opens.
    std::fs::write(&path, good).unwrap();
    Collection::open(&dir).unwrap();
}

/// Every kind of operation the write path refuses, framed with a valid
/// checksum as record 2 of a log: the collection opens read-only with
/// record 1, says why (file, offset, LSN), refuses writes saying the same,
/// and leaves the log as it was; `wal::cut` (what `waypoint repair` runs)
/// then cuts it there, keeping records 2 and 3 beside it, and the
/// collection opens read-write.
#[test]
fn checksummed_wal_records_the_write_path_refuses_make_the_collection_read_only() {
    let mut long_key = Payload::new();
    long_key.insert(
        "k".repeat(257),
        waypoint_server::storage::payload::Value::Bool(true),
    );
    let cases: Vec<(Operation, &str)> = vec![
        (
            Operation::Upsert(vec![point(7, vec![1.0, 2.0, 3.0])]),
            "dimension",
        ),
        (
            Operation::Upsert(vec![point(7, vec![1.0, f32::NAN])]),
            "finite",
        ),
        (Operation::Upsert(vec![point(7, vec![0.0, 0.0])]), "zero"),
        (
            Operation::Upsert(vec![point(7, vec![1.0, 0.0]), point(7, vec![0.0, 1.0])]),
            "id 7 appears twice",
        ),
        (Operation::Delete(vec![1, 1]), "id 1 appears twice"),
        (
            Operation::Upsert(vec![PointWrite {
                id: 8,
                vector: vec![1.0, 0.0],
                payload: long_key,
            }]),
            "payload key",
        ),
    ];
    for (bad, expected) in cases {
        let (_tmp, dir) = new_collection();
        let path = dir.join("wal.log");
        let first = wal::encode(1, &Operation::Upsert(vec![point(1, vec![1.0, 1.0])]));
        let mut log = first.clone();
        log.extend_from_slice(&wal::encode(2, &bad));
        log.extend_from_slice(&wal::encode(
            3,
            &Operation::Upsert(vec![point(3, vec![1.0, 0.0])]),
        ));
        std::fs::write(&path, &log).unwrap();

        let c = Collection::open(&dir).unwrap();
        let Health::ReadOnly { reason } = c.health() else {
            panic!("expected read-only, got {:?}", c.health());
        };
        let at = format!("at byte {}", first.len());
        for fact in [&path.display().to_string(), &at, "LSN 2", expected] {
            assert!(reason.contains(fact), "{fact:?} missing from: {reason}");
        }
        // Reads serve record 1, and only it.
        assert_eq!(c.count(None), 1);
        assert_eq!(c.get(&[1, 3], false, false).unwrap().len(), 1);
        let hits = c
            .search(&Query {
                vector: vec![1.0, 1.0],
                k: 5,
                ef: None,
                exact: true,
                filter: None,
                with_payload: false,
                with_vectors: false,
                cancel: Default::default(),
            })
            .unwrap();
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [1]);
        // Writes are refused, naming the file, offset and LSN.
        let err = c.upsert(vec![point(9, vec![1.0, 0.0])]).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StorageError::ReadOnly { .. }), "{message}");
        assert!(
            message.contains(&at)
                && message.contains("LSN 2")
                && message.contains("waypoint repair"),
            "{message}"
        );
        assert!(c.delete_ids(&[1]).is_err());
        drop(c);
        assert_eq!(std::fs::read(&path).unwrap(), log, "the log was changed");

        let saved = wal::cut(&path, first.len() as u64).unwrap();
        assert_eq!(
            std::fs::read(&saved).unwrap(),
            &log[first.len()..],
            "the cut-off tail is kept"
        );
        let c = Collection::open(&dir).unwrap();
        assert_eq!(c.health(), Health::ReadWrite);
        assert_eq!(c.count(None), 1);
        c.upsert(vec![point(9, vec![1.0, 0.0])]).unwrap();
        drop(c);
        assert_eq!(Collection::open(&dir).unwrap().count(None), 2);
    }
}
