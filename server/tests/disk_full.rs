//! A full disk through the real server: with the data directory on a small
//! file system, upserts go on until the disk fills; then writes fail with
//! `RESOURCE_EXHAUSTED` saying the disk is full and naming the file, and
//! change nothing; reads answer with every acknowledged point; once space
//! is freed writes succeed again; after a `kill -9` and a restart
//! everything acknowledged is there.
//!
//! Needs `WAYPOINT_SMALL_DISK`: a directory on a small file system of its
//! own (`.ci/run` mounts a 16 MiB tmpfs there). Unset: the test says it is
//! skipped and passes; set but not a directory: it fails.

mod grpc_support;

use std::path::PathBuf;

use grpc_support::{random_f32, Server};
use waypoint_client::{pb, Client, ClientError, Code};

const COLLECTION: &str = "full";
const DIM: usize = 64;
const BATCH: u64 = 250;
/// Bytes set aside on the small disk before the server fills the rest;
/// deleting them is the "space is freed" step (room for the pending seal
/// and more writes).
const BALLAST_BYTES: usize = 4 << 20;
/// Upsert batches after which a 16 MiB disk must have filled.
const MAX_BATCHES: u64 = 2000;

fn small_disk() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("WAYPOINT_SMALL_DISK") else {
        waypoint_datasets::skip::notice(
            "WAYPOINT_SMALL_DISK is not set (a directory on a small file system of its own; .ci/run mounts a tmpfs)",
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    assert!(
        dir.is_dir(),
        "WAYPOINT_SMALL_DISK={} is not a directory",
        dir.display()
    );
    Some(dir)
}

fn batch(b: u64) -> Vec<pb::Point> {
    let ids = b * BATCH..(b + 1) * BATCH;
    let values = random_f32(BATCH as usize * DIM, b);
    ids.zip(values.chunks(DIM))
        .map(|(id, v)| pb::Point {
            id,
            vector: v.to_vec(),
            payload: Some(pb::Payload {
                fields: [("batch".to_string(), grpc_support::integer(b as i64))].into(),
            }),
        })
        .collect()
}

/// Writes `path` until the disk is full.
fn fill(path: &std::path::Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = [7u8; 4096];
    loop {
        if let Err(e) = file.write_all(&chunk).and_then(|()| file.sync_all()) {
            assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
            return;
        }
    }
}

async fn upsert(client: &Client, b: u64) -> Result<(), ClientError> {
    client
        .upsert(pb::UpsertRequest {
            collection: COLLECTION.into(),
            points: batch(b),
        })
        .await
        .map(|_| ())
}

/// Every point of batches `0..batches` is there with its vector and
/// payload, nothing else is, and an exact search for a few finds them.
async fn check_acknowledged(client: &Client, batches: u64, when: &str) {
    let count = client
        .count(pb::CountRequest {
            collection: COLLECTION.into(),
            filter: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{when}: count failed: {e}"))
        .count;
    assert_eq!(count, batches * BATCH, "{when}: count");
    for b in 0..batches {
        let got = client
            .get_points(pb::GetPointsRequest {
                collection: COLLECTION.into(),
                ids: (b * BATCH..(b + 1) * BATCH).collect(),
                with_vectors: true,
                with_payload: false,
            })
            .await
            .unwrap_or_else(|e| panic!("{when}: get failed: {e}"))
            .points;
        let expected = batch(b);
        assert_eq!(got.len(), expected.len(), "{when}: batch {b}");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(
                (g.id, &g.vector.as_ref().unwrap().values),
                (e.id, &e.vector),
                "{when}: batch {b}"
            );
        }
        let probe = &expected[(b as usize * 7) % expected.len()];
        let hits = client
            .search(pb::SearchRequest {
                collection: COLLECTION.into(),
                vector: probe.vector.clone(),
                k: 1,
                exact: true,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{when}: search failed: {e}"))
            .hits;
        assert_eq!(hits[0].id, probe.id, "{when}: batch {b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_clearly_keeps_reads_and_recovers_when_space_is_freed() {
    let Some(disk) = small_disk() else { return };
    let scratch = tempfile::tempdir_in(&disk).unwrap();
    let ballast = scratch.path().join("ballast");
    std::fs::write(&ballast, vec![1u8; BALLAST_BYTES]).unwrap();
    let data_dir = scratch.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();

    let server = Server::start(&data_dir);
    let client = server.client().await;
    client
        .create_collection(pb::CreateCollectionRequest {
            name: COLLECTION.into(),
            dim: DIM as u32,
            metric: pb::Metric::L2 as i32,
            segment_max_points: 4 * BATCH,
            ..Default::default()
        })
        .await
        .unwrap();

    // Fill the disk.
    let mut acked = 0;
    let refusal = loop {
        assert!(
            acked < MAX_BATCHES,
            "{acked} batches fitted: is WAYPOINT_SMALL_DISK on a small file system?"
        );
        match upsert(&client, acked).await {
            Ok(()) => acked += 1,
            Err(e) => break e,
        }
    };
    println!("disk_full: {acked} batches of {BATCH} points fitted; then: {refusal}");
    assert!(
        matches!(refusal.code(), Code::ResourceExhausted | Code::Unavailable),
        "{refusal}"
    );
    let message = refusal.to_string();
    let collection_dir = data_dir.join("collections").join(COLLECTION);
    assert!(message.contains("disk full"), "{message}");
    assert!(
        message.contains(&collection_dir.display().to_string()),
        "the message names the file: {message}"
    );

    // Take the last free pages too, so that every write that needs a new
    // page must fail (the WAL's last page may still have room for a few
    // bytes): the same upsert, a delete of many ids and a create are
    // refused alike and change nothing; reads answer with every
    // acknowledged point.
    let filler = scratch.path().join("filler");
    fill(&filler);
    let again = upsert(&client, acked).await.unwrap_err();
    assert_eq!(again.code(), Code::ResourceExhausted, "{again}");
    let delete = client
        .delete_points(pb::DeletePointsRequest {
            collection: COLLECTION.into(),
            selector: Some(pb::delete_points_request::Selector::Ids(pb::PointIds {
                ids: (0..20 * BATCH).collect(),
            })),
        })
        .await
        .unwrap_err();
    assert_eq!(delete.code(), Code::ResourceExhausted, "{delete}");
    assert!(delete.to_string().contains("disk full"), "{delete}");
    let create = client
        .create_collection(pb::CreateCollectionRequest {
            name: "other".into(),
            dim: 4,
            metric: pb::Metric::L2 as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(create.code(), Code::ResourceExhausted, "{create}");
    let entries: Vec<_> = std::fs::read_dir(data_dir.join("collections"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        entries,
        [COLLECTION],
        "a failed create leaves nothing behind"
    );
    check_acknowledged(&client, acked, "while the disk is full").await;

    // Free space: writes succeed again (and the seal that failed is done).
    std::fs::remove_file(&ballast).unwrap();
    std::fs::remove_file(&filler).unwrap();
    for _ in 0..3 {
        upsert(&client, acked)
            .await
            .unwrap_or_else(|e| panic!("a write after space was freed: {e}"));
        acked += 1;
    }
    check_acknowledged(&client, acked, "after space was freed").await;

    // A crash, then a restart on the same (small) disk.
    server.kill9();
    let server = Server::start(&data_dir);
    let client = server.client().await;
    check_acknowledged(&client, acked, "after kill -9 and restart").await;
    upsert(&client, acked)
        .await
        .unwrap_or_else(|e| panic!("a write after the restart: {e}"));
    assert!(server.stop(), "graceful shutdown");
}
