//! Durability through the real server: a graceful restart keeps every
//! point, delete and payload with identical search results; `kill -9` in
//! the middle of an import never loses an acknowledged batch nor shows a
//! partial one; a damaged WAL stops only its own collection; a second
//! server on the same data directory is refused.

mod grpc_support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grpc_support::{create, integer, keyword, match_keyword, random_f32, Server};
use tonic::transport::Channel;
use tonic::Code;
use waypoint_proto::v1 as pb;
use waypoint_proto::v1::points_client::PointsClient;

const DIM: usize = 16;

fn points(ids: std::ops::Range<u64>, seed: u64) -> Vec<pb::Point> {
    let values = random_f32(ids.clone().count() * DIM, seed);
    ids.zip(values.chunks(DIM))
        .map(|(id, v)| pb::Point {
            id,
            vector: v.to_vec(),
            payload: Some(pb::Payload {
                fields: [
                    (
                        "parity".to_string(),
                        keyword(if id % 2 == 0 { "even" } else { "odd" }),
                    ),
                    ("n".to_string(), integer(id as i64)),
                ]
                .into(),
            }),
        })
        .collect()
}

fn search(vector: Vec<f32>, exact: bool, filter: Option<pb::Filter>) -> pb::SearchRequest {
    pb::SearchRequest {
        collection: "c".into(),
        vector,
        k: 10,
        ef: 64,
        exact,
        filter,
        with_payload: true,
        with_vectors: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_points_deletes_payloads_and_search_results() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    collections
        .create(create("c", DIM as u32, pb::Metric::L2, 250))
        .await
        .unwrap();
    for b in 0..7u64 {
        pts.upsert(pb::UpsertRequest {
            collection: "c".into(),
            points: points(b * 100..(b + 1) * 100, b),
        })
        .await
        .unwrap();
    }
    // Replace some points of sealed segments, delete others (ids and filter).
    pts.upsert(pb::UpsertRequest {
        collection: "c".into(),
        points: points(0..40, 99),
    })
    .await
    .unwrap();
    let deleted = pts
        .delete(pb::DeletePointsRequest {
            collection: "c".into(),
            selector: Some(pb::delete_points_request::Selector::Ids(pb::PointIds {
                ids: (100..130).collect(),
            })),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.deleted, 30);
    let odd_above_600 = pb::Filter {
        must: vec![match_keyword("parity", "odd")],
        must_not: vec![pb::Condition {
            condition: Some(pb::condition::Condition::HasId(pb::HasId {
                ids: (0..600).collect(),
            })),
        }],
        ..Default::default()
    };
    let deleted = pts
        .delete(pb::DeletePointsRequest {
            collection: "c".into(),
            selector: Some(pb::delete_points_request::Selector::Filter(odd_above_600)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.deleted, 50);

    let info = collections
        .get(pb::GetCollectionRequest { name: "c".into() })
        .await
        .unwrap()
        .into_inner();
    let stats = info.info.unwrap().stats.unwrap();
    assert_eq!(stats.points, 700 - 30 - 50);
    assert!(
        stats.segments >= 3,
        "expected sealed segments, got {stats:?}"
    );

    let snapshot = |mut pts: waypoint_proto::v1::points_client::PointsClient<
        tonic::transport::Channel,
    >| async move {
        let all = pts
            .get(pb::GetPointsRequest {
                collection: "c".into(),
                ids: (0..700).collect(),
                with_vectors: true,
                with_payload: true,
            })
            .await
            .unwrap()
            .into_inner();
        let mut results = Vec::new();
        for (i, q) in random_f32(20 * DIM, 7).chunks(DIM).enumerate() {
            let filter = (i % 2 == 0).then(|| pb::Filter {
                must: vec![match_keyword("parity", "even")],
                ..Default::default()
            });
            for exact in [true, false] {
                results.push(
                    pts.search(search(q.to_vec(), exact, filter.clone()))
                        .await
                        .unwrap()
                        .into_inner(),
                );
            }
        }
        let count = pts
            .count(pb::CountRequest {
                collection: "c".into(),
                filter: Some(pb::Filter {
                    must: vec![match_keyword("parity", "even")],
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner();
        (all, results, count)
    };
    let before = snapshot(pts.clone()).await;
    assert_eq!(before.0.points.len(), 620);
    // The replaced points carry their new vectors.
    assert_eq!(
        before.0.points[0].vector.as_ref().unwrap().values,
        points(0..1, 99)[0].vector
    );
    assert!(server.stop(), "graceful shutdown exits 0");

    let server = Server::start(dir.path());
    let (_, pts) = server.clients().await;
    let after = snapshot(pts).await;
    assert_eq!(
        before.0, after.0,
        "points, vectors and payloads survive a restart"
    );
    assert_eq!(
        before.1, after.1,
        "search results are identical after a restart"
    );
    assert_eq!(before.2, after.2);
    assert!(server.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_import_keeps_every_acknowledged_batch_and_no_partial_one() {
    const BATCH: u64 = 50;
    let dir = tempfile::tempdir().unwrap();
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut next_batch = 0u64; // every batch below this was sent at least once
    for round in 0..6u64 {
        let server = Server::start(dir.path());
        let (mut collections, pts) = server.clients().await;
        if round == 0 {
            collections
                .create(create("c", DIM as u32, pb::Metric::Cosine, 400))
                .await
                .unwrap();
        }
        let done = Arc::new(Mutex::new(Vec::new()));
        let first = next_batch;
        let writer = {
            let done = Arc::clone(&done);
            let mut pts = pts.clone();
            tokio::spawn(async move {
                for b in first..first + 400 {
                    let req = pb::UpsertRequest {
                        collection: "c".into(),
                        points: points(b * BATCH..(b + 1) * BATCH, b),
                    };
                    if pts.upsert(req).await.is_err() {
                        return b; // in flight when the server died
                    }
                    done.lock().unwrap().push(b);
                }
                first + 400
            })
        };
        // Kill at a different moment each round (0.1 s to 1.1 s in), which
        // lands before, during and after segment seals.
        tokio::time::sleep(Duration::from_millis(100 + 200 * round)).await;
        server.kill9();
        let in_flight = tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .unwrap()
            .unwrap();
        acked.extend(done.lock().unwrap().iter());
        next_batch = in_flight + 1;

        let server = Server::start(dir.path());
        let (_, mut pts) = server.clients().await;
        let mut present = 0u64;
        for b in 0..next_batch {
            let got = pts
                .get(pb::GetPointsRequest {
                    collection: "c".into(),
                    ids: (b * BATCH..(b + 1) * BATCH).collect(),
                    with_vectors: false,
                    with_payload: true,
                })
                .await
                .unwrap()
                .into_inner()
                .points;
            if acked.contains(&b) {
                assert_eq!(
                    got.len() as u64,
                    BATCH,
                    "round {round}: acknowledged batch {b} lost points"
                );
            }
            assert!(
                got.is_empty() || got.len() as u64 == BATCH,
                "round {round}: batch {b} is partial ({} points)",
                got.len()
            );
            if let Some(p) = got.first() {
                assert_eq!(
                    p.payload.as_ref().unwrap().fields["n"],
                    integer((b * BATCH) as i64)
                );
            }
            present += got.len() as u64;
        }
        let count = grpc_support::count_all(&mut pts, "c").await;
        assert_eq!(
            count, present,
            "round {round}: no point outside the batches sent"
        );
        drop(server);
    }
    assert!(
        acked.len() > 20,
        "the rounds wrote something: {} batches acknowledged",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_wal_record_makes_only_its_collection_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    for name in ["bad", "good", "blocked"] {
        collections
            .create(create(name, DIM as u32, pb::Metric::L2, 100_000))
            .await
            .unwrap();
        for b in 0..3u64 {
            pts.upsert(pb::UpsertRequest {
                collection: name.into(),
                points: points(b * 10..(b + 1) * 10, b),
            })
            .await
            .unwrap();
        }
    }
    assert!(server.stop());
    let wal = dir.path().join("collections/bad/wal.log");
    let mut bytes = std::fs::read(&wal).unwrap();
    // Inside the second record; one more follows.
    let second = 8 + u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    bytes[second + 20] ^= 0x40;
    std::fs::write(&wal, &bytes).unwrap();
    // A WAL that cannot be opened (here a directory in its place) is not
    // damaged data: UNAVAILABLE, not DATA_LOSS.
    let blocked = dir.path().join("collections/blocked/wal.log");
    std::fs::remove_file(&blocked).unwrap();
    std::fs::create_dir(&blocked).unwrap();

    let server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    // Read-only with the first batch, saying where and why.
    let info = collections
        .get(pb::GetCollectionRequest { name: "bad".into() })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    assert_eq!(info.state(), pb::CollectionState::ReadOnly);
    let at = format!("at byte {second}");
    for fact in ["bad/wal.log", &at, "after LSN 1", "checksum"] {
        assert!(
            info.state_reason.contains(fact),
            "{fact:?}: {}",
            info.state_reason
        );
    }
    let count = |name: &str| pb::CountRequest {
        collection: name.into(),
        filter: None,
    };
    assert_eq!(
        pts.count(count("bad")).await.unwrap().into_inner().count,
        10
    );
    let err = pts
        .upsert(pb::UpsertRequest {
            collection: "bad".into(),
            points: points(100..101, 9),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("bad/wal.log")
            && err.message().contains(&at)
            && err.message().contains("waypoint repair"),
        "{}",
        err.message()
    );
    let err = pts.count(count("blocked")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(
        err.message()
            .starts_with("collection \"blocked\" failed to open: I/O error on")
            && err.message().contains("blocked/wal.log"),
        "{}",
        err.message()
    );
    assert_eq!(
        pts.count(count("good")).await.unwrap().into_inner().count,
        30
    );
    let info = collections
        .get(pb::GetCollectionRequest {
            name: "good".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    assert_eq!(info.state(), pb::CollectionState::ReadWrite);
    assert!(server.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_dir_is_refused_and_the_first_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Server::start(&data);
    let (mut collections, mut pts) = first.clients().await;
    collections
        .create(create("c", DIM as u32, pb::Metric::L2, 0))
        .await
        .unwrap();
    pts.upsert(pb::UpsertRequest {
        collection: "c".into(),
        points: points(0..10, 1),
    })
    .await
    .unwrap();

    let second = std::process::Command::new(env!("CARGO_BIN_EXE_waypoint"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "data directory {} is in use by another waypoint process",
            data.display()
        )),
        "{stderr}"
    );

    // The first server was not disturbed; after it stops, the lock is free.
    assert_eq!(count(&mut pts).await, 10);
    first.kill9();
    let again = Server::start(&data);
    let (_, mut pts) = again.clients().await;
    assert_eq!(count(&mut pts).await, 10);
    assert!(again.stop());
}

async fn count(pts: &mut PointsClient<Channel>) -> u64 {
    let request = pb::CountRequest {
        collection: "c".into(),
        filter: None,
    };
    pts.count(request).await.unwrap().into_inner().count
}
