//! `waypoint check` and `waypoint repair` against the real binary, on a
//! data directory with a healthy collection, one whose WAL holds a record
//! the write path refuses, and one with a damaged segment file.

mod common;

use std::path::{Path, PathBuf};

use common::{fails_with, waypoint};
use waypoint_index::Metric;
use waypoint_server::storage::catalog::Catalog;
use waypoint_server::storage::collection::{Collection, Config, Health, WalSync};
use waypoint_server::storage::payload::Payload;
use waypoint_server::storage::wal::{self, Operation, PointWrite};

fn point(id: u64, vector: Vec<f32>) -> PointWrite {
    PointWrite {
        id,
        vector,
        payload: Payload::new(),
    }
}

/// `data/collections/name`, a 2-d L2 collection with 25 points in
/// segments of 10 (two sealed, five points in the WAL).
fn collection(data: &Path, name: &str) -> PathBuf {
    let dir = data.join("collections").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = Config {
        name: name.into(),
        dim: 2,
        metric: Metric::L2Squared,
        m: 8,
        ef_construction: 32,
        segment_max_points: 10,
        wal_sync: WalSync::Always,
        wal_sync_interval_ms: 0,
    };
    Collection::create(&dir, &config).unwrap();
    let c = Collection::open(&dir).unwrap();
    for id in 0..25u64 {
        c.upsert(vec![point(id, vec![id as f32, 1.0])]).unwrap();
    }
    dir
}

/// Runs `waypoint <args>`: (exit code, stdout).
fn run(args: &[&str]) -> (i32, String) {
    let output = waypoint().args(args).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (output.status.code().unwrap(), stdout)
}

#[test]
fn check_names_each_damaged_file_and_repair_cuts_the_wal_keeping_the_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let data_arg = data.to_str().unwrap();
    collection(data, "good");
    let badwal = collection(data, "badwal");
    let badseg = collection(data, "badseg");

    // A checksummed record no write could have logged (3 components in a
    // 2-d collection), then a good one.
    let wal_path = badwal.join("wal.log");
    let mut log = std::fs::read(&wal_path).unwrap();
    let bad_at = log.len();
    log.extend_from_slice(&wal::encode(
        26,
        &Operation::Upsert(vec![point(100, vec![1.0; 3])]),
    ));
    log.extend_from_slice(&wal::encode(
        27,
        &Operation::Upsert(vec![point(101, vec![1.0; 2])]),
    ));
    std::fs::write(&wal_path, &log).unwrap();
    // A flipped byte inside segment 0's index file.
    let seg = badseg.join("seg-000000.wpi");
    let mut bytes = std::fs::read(&seg).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&seg, &bytes).unwrap();

    let (code, out) = run(&["check", data_arg]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("good: OK (2 sealed segments, 5 WAL records)"),
        "{out}"
    );
    let wal_line = format!(
        "{}: at byte {bad_at}: record LSN 26: not a valid write",
        wal_path.display()
    );
    assert!(out.contains(&wal_line), "{out}");
    assert!(out.contains("dimension"), "{out}");
    assert!(
        out.contains(&format!("{}: section", seg.display())),
        "{out}"
    );
    // Only one collection; check changed nothing.
    let (code, out) = run(&["check", data_arg, "--collection", "good"]);
    assert_eq!((code, out.lines().count()), (0, 1), "{out}");
    assert_eq!(std::fs::read(&wal_path).unwrap(), log);
    fails_with(
        waypoint().args(["check", data_arg, "--collection", "nope"]),
        &["\"nope\" does not exist"],
    );

    // Repair refuses while a server holds the data directory.
    let catalog = Catalog::open(data, 1000).unwrap();
    fails_with(
        waypoint().args(["repair", data_arg]),
        &["in use by another waypoint process"],
    );
    drop(catalog);

    let (code, out) = run(&["repair", data_arg]);
    assert_eq!(code, 1, "the segment cannot be repaired: {out}");
    let saved = badwal.join(format!("wal.log.cut-at-{bad_at}"));
    assert!(
        out.contains(&format!(
            "badwal: cut {}: record at byte {bad_at} (LSN 26)",
            wal_path.display()
        )),
        "{out}"
    );
    assert!(out.contains(&saved.display().to_string()), "{out}");
    assert!(
        out.contains("badwal: opens read-write with 25 points"),
        "{out}"
    );
    assert!(
        out.contains("good: OK, nothing to repair (25 points)"),
        "{out}"
    );
    assert!(
        out.contains("badseg: cannot repair") && out.contains(&seg.display().to_string()),
        "{out}"
    );
    // Nothing was thrown away: the cut-off records are beside the log.
    assert_eq!(std::fs::read(&saved).unwrap(), &log[bad_at..]);
    assert_eq!(std::fs::read(&wal_path).unwrap(), &log[..bad_at]);

    let c = Collection::open(&badwal).unwrap();
    assert_eq!(c.health(), Health::ReadWrite);
    assert_eq!(c.count(None), 25);
    c.upsert(vec![point(200, vec![0.5, 0.5])]).unwrap();
    let (code, out) = run(&["check", data_arg, "--collection", "badwal"]);
    assert_eq!(code, 0, "{out}");
}
