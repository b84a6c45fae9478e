//! What a client can make the storage side spend without sending much,
//! through the real server (issue 17): memory for empty collections, a
//! thread per collection, a file descriptor per collection, another
//! collection's searches stalled by create/delete churn, and a grouped
//! search over a key no point has. Each test runs its own server on
//! loopback, with bounded counts; figures are printed for the record,
//! assertions use generous bounds.

mod grpc_support;

use std::time::{Duration, Instant};

use grpc_support::{count_all, create, keyword, list_names, random_f32, Server};
use tonic::Code;
use waypoint_proto::v1 as pb;

const MIB: u64 = 1024;

fn create_m(name: &str, dim: u32, m: u32) -> pb::CreateCollectionRequest {
    pb::CreateCollectionRequest {
        m,
        ..create(name, dim, pb::Metric::L2, 0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_collections_cost_little_memory_and_their_number_is_limited() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("waypoint.toml");
    std::fs::write(&config, "[limits]\nmax_collections = 28\n").unwrap();
    let data = dir.path().join("data");
    let config_arg = config.to_str().unwrap();
    let server = Server::start_with(&data, &["--config", config_arg]);
    let (mut collections, _) = server.clients().await;
    let base = server.status_field("VmRSS");
    // 28 creates of m = 256 cost 3.7 GiB when each preallocated its graph;
    // stop at the first one over the bound rather than spend that.
    for i in 0..28 {
        collections
            .create(create_m(&format!("e{i}"), 128, 256))
            .await
            .unwrap();
        let grown = server.status_field("VmRSS").saturating_sub(base);
        assert!(
            grown < 64 * MIB,
            "after {} empty collections RSS grew by {} MiB",
            i + 1,
            grown / MIB
        );
    }
    println!(
        "28 empty m=256 collections: RSS {} -> {} MiB",
        base / MIB,
        server.status_field("VmRSS") / MIB
    );
    let refused = collections
        .create(create_m("one-too-many", 8, 16))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("limits.max_collections = 28"),
        "{}",
        refused.message()
    );
    assert!(server.stop());

    // After a restart: the same 28 open (also beyond a lowered limit) and
    // still cost little.
    std::fs::write(&config, "[limits]\nmax_collections = 10\n").unwrap();
    let server = Server::start_with(&data, &["--config", config_arg]);
    let (mut collections, _) = server.clients().await;
    assert_eq!(list_names(&mut collections).await.len(), 28);
    let rss = server.status_field("VmRSS");
    println!("after a restart: RSS {} MiB", rss / MIB);
    assert!(
        rss < base + 64 * MIB,
        "RSS {} MiB after a restart",
        rss / MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_wal_sync_of_many_collections_uses_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    let base = server.status_field("Threads");
    for i in 0..200 {
        collections
            .create(pb::CreateCollectionRequest {
                wal_sync: pb::WalSync::Periodic as i32,
                wal_sync_interval_ms: 20,
                ..create(&format!("p{i}"), 4, pb::Metric::L2, 0)
            })
            .await
            .unwrap();
    }
    let threads = server.status_field("Threads");
    println!("200 periodic collections: {base} -> {threads} threads");
    assert!(threads < base + 20, "{base} -> {threads} threads");
    // The collections still take writes, and keep them across a kill -9.
    pts.upsert(pb::UpsertRequest {
        collection: "p199".into(),
        points: vec![pb::Point {
            id: 1,
            vector: vec![1.0; 4],
            payload: None,
        }],
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.kill9();
    let server = Server::start(dir.path());
    let (_, mut pts) = server.clients().await;
    assert_eq!(count_all(&mut pts, "p199").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_collections_reopen_under_a_small_descriptor_limit() {
    const LIMIT: u64 = 128;
    const COLLECTIONS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_fd_limit(dir.path(), &[], LIMIT);
    let (mut collections, mut pts) = server.clients().await;
    for i in 0..COLLECTIONS {
        let name = format!("f{i}");
        collections
            .create(create(&name, 4, pb::Metric::L2, 2))
            .await
            .unwrap();
        // Three points: a seal, so a segment file is mapped too.
        pts.upsert(pb::UpsertRequest {
            collection: name,
            points: (0..3)
                .map(|id| pb::Point {
                    id,
                    vector: vec![id as f32, 1.0, 2.0, 3.0],
                    payload: None,
                })
                .collect(),
        })
        .await
        .unwrap();
    }
    assert!(server.stop());
    // Every seal went through: a descriptor shortage would have left the
    // points in the WAL only (a seal that fails is retried, not reported).
    for i in 0..COLLECTIONS {
        let segment = dir.path().join(format!("collections/f{i}/seg-000000.wpi"));
        assert!(
            segment.is_file(),
            "f{i} was not sealed: {}",
            segment.display()
        );
    }
    let server = Server::start_with_fd_limit(dir.path(), &[], LIMIT);
    let fds = std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
        .unwrap()
        .count();
    println!("{COLLECTIONS} collections reopened: {fds} open descriptors (limit {LIMIT})");
    assert!(
        fds < 64,
        "{fds} descriptors open for {COLLECTIONS} idle collections"
    );
    let (mut collections, mut pts) = server.clients().await;
    assert_eq!(list_names(&mut collections).await.len(), COLLECTIONS);
    for i in [0, COLLECTIONS / 2, COLLECTIONS - 1] {
        assert_eq!(count_all(&mut pts, &format!("f{i}")).await, 3, "f{i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_delete_churn_does_not_stall_search_on_another_collection() {
    const DIM: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    collections
        .create(create("steady", DIM as u32, pb::Metric::L2, 0))
        .await
        .unwrap();
    let values = random_f32(2000 * DIM, 3);
    pts.upsert(pb::UpsertRequest {
        collection: "steady".into(),
        points: values
            .chunks(DIM)
            .enumerate()
            .map(|(id, v)| pb::Point {
                id: id as u64,
                vector: v.to_vec(),
                payload: None,
            })
            .collect(),
    })
    .await
    .unwrap();

    let churn = {
        let (mut collections, mut pts) = server.clients().await;
        tokio::spawn(async move {
            let mut rounds = 0;
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                collections
                    .create(create_m("churn", 128, 256))
                    .await
                    .unwrap();
                pts.upsert(pb::UpsertRequest {
                    collection: "churn".into(),
                    points: vec![pb::Point {
                        id: 1,
                        vector: vec![0.5; 128],
                        payload: None,
                    }],
                })
                .await
                .unwrap();
                collections
                    .delete(pb::DeleteCollectionRequest {
                        name: "churn".into(),
                    })
                    .await
                    .unwrap();
                rounds += 1;
            }
            rounds
        })
    };
    let mut latencies = Vec::new();
    while !churn.is_finished() {
        let started = Instant::now();
        let hits = pts
            .search(pb::SearchRequest {
                collection: "steady".into(),
                vector: values[..DIM].to_vec(),
                k: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .hits;
        latencies.push(started.elapsed());
        assert_eq!(hits[0].id, 0);
    }
    let rounds = churn.await.unwrap();
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let max = *latencies.last().unwrap();
    println!(
        "{rounds} create/upsert/delete rounds (m=256, dim 128); {} searches on another \
         collection: p50 {p50:?}, max {max:?}",
        latencies.len()
    );
    assert!(max < Duration::from_secs(1), "a search stalled for {max:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_search_looks_only_at_points_holding_the_key() {
    const DIM: usize = 16;
    const N: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    collections
        .create(create("g", DIM as u32, pb::Metric::L2, 0))
        .await
        .unwrap();
    let values = random_f32(N as usize * DIM, 5);
    let vector = |id: u64| values[id as usize * DIM..(id as usize + 1) * DIM].to_vec();
    for chunk in (0..N).collect::<Vec<_>>().chunks(5000) {
        pts.upsert(pb::UpsertRequest {
            collection: "g".into(),
            points: chunk
                .iter()
                .map(|&id| pb::Point {
                    id,
                    vector: vector(id),
                    // One point in 500 has the key, in one of two groups.
                    payload: (id % 500 == 0).then(|| pb::Payload {
                        fields: [("team".to_string(), keyword(&format!("t{}", id % 1000)))].into(),
                    }),
                })
                .collect(),
        })
        .await
        .unwrap();
    }
    let query = vector(1);
    let groups = |group_by: &str| {
        let mut pts = pts.clone();
        let request = pb::SearchGroupsRequest {
            collection: "g".into(),
            vector: query.clone(),
            group_by: group_by.into(),
            k: 5,
            group_size: 3,
            ..Default::default()
        };
        async move {
            let started = Instant::now();
            let groups = pts
                .search_groups(request)
                .await
                .unwrap()
                .into_inner()
                .groups;
            (groups, started.elapsed())
        }
    };
    let (none, took) = groups("no-such-key").await;
    println!("groups on a key no point has ({N} points): {took:?}");
    assert!(none.is_empty());

    // The rare key: both groups, each with its 3 nearest holders (exact).
    let (found, took) = groups("team").await;
    println!("groups on a key 1 point in 500 has: {took:?}");
    let distance = |id: u64| -> f32 {
        vector(id)
            .iter()
            .zip(&query)
            .map(|(a, b)| (a - b) * (a - b))
            .sum()
    };
    let mut expected: Vec<(String, Vec<u64>)> = ["t0", "t500"]
        .iter()
        .map(|team| {
            let mut ids: Vec<u64> = (0..N)
                .filter(|id| id % 500 == 0 && format!("t{}", id % 1000) == *team)
                .collect();
            ids.sort_by(|&a, &b| distance(a).total_cmp(&distance(b)));
            ids.truncate(3);
            (team.to_string(), ids)
        })
        .collect();
    expected.sort_by(|a, b| distance(a.1[0]).total_cmp(&distance(b.1[0])));
    let got: Vec<(String, Vec<u64>)> = found
        .iter()
        .map(|g| {
            let Some(pb::value::Kind::Keyword(team)) = g.key.clone().unwrap().kind else {
                panic!("a keyword group key");
            };
            (team, g.hits.iter().map(|h| h.id).collect())
        })
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_keywords_count_against_the_payload_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    collections
        .create(create("p", 4, pb::Metric::L2, 0))
        .await
        .unwrap();
    // 140,000 empty keywords: 280 KB on the wire, 1.12 MB counted (few
    // enough that the decoder's amplification bound, 4 MiB, lets it in).
    let keywords = pb::Value {
        kind: Some(pb::value::Kind::Keywords(pb::Keywords {
            values: vec![String::new(); 140_000],
        })),
    };
    let refused = pts
        .upsert(pb::UpsertRequest {
            collection: "p".into(),
            points: vec![pb::Point {
                id: 1,
                vector: vec![1.0; 4],
                payload: Some(pb::Payload {
                    fields: [("tags".to_string(), keywords)].into(),
                }),
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused
            .message()
            .contains("payload is 1120020 bytes; the limit is 1048576 bytes per point"),
        "{}",
        refused.message()
    );
    assert_eq!(count_all(&mut pts, "p").await, 0);
}
