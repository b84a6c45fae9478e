//! Every RPC through the real server: results equal the embedded engine's
//! on the same data (exact search: same ids, distances within 1e-5), and
//! bad requests get the right status with a message naming the fault.

mod grpc_support;

use std::collections::BTreeMap;

use grpc_support::{create, integer, keyword, match_keyword, random_f32, Server};
use tonic::Code;
use waypoint_index::{Filter, Hnsw, HnswParams, Metric, RoaringTreemap, SearchParams};
use waypoint_proto::v1 as pb;

const DIM: usize = 24;
const N: u64 = 1000;

fn point(id: u64, vector: &[f32]) -> pb::Point {
    pb::Point {
        id,
        vector: vector.to_vec(),
        payload: Some(pb::Payload {
            fields: [
                (
                    "colour".to_string(),
                    keyword(["red", "green", "blue"][(id % 3) as usize]),
                ),
                ("n".to_string(), integer(id as i64)),
            ]
            .into(),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_round_trips_and_exact_search_equals_the_embedded_engine() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    collections
        .create(create("c", DIM as u32, pb::Metric::Cosine, 300))
        .await
        .unwrap();

    // The same data in the embedded engine: final vector of every live id.
    let mut truth: BTreeMap<u64, Vec<f32>> = BTreeMap::new();
    let values = random_f32(N as usize * DIM, 1);
    let all: Vec<pb::Point> = (0..N)
        .map(|id| point(id, &values[id as usize * DIM..][..DIM]))
        .collect();
    // Half through unary batches, half through the client stream.
    for chunk in all[..500].chunks(100) {
        pts.upsert(pb::UpsertRequest {
            collection: "c".into(),
            points: chunk.to_vec(),
        })
        .await
        .unwrap();
    }
    let stream = tokio_stream::iter(
        all[500..]
            .chunks(100)
            .map(|c| pb::UpsertRequest {
                collection: "c".into(),
                points: c.to_vec(),
            })
            .collect::<Vec<_>>(),
    );
    let done = pts.upsert_stream(stream).await.unwrap().into_inner();
    assert_eq!((done.batches, done.points), (5, 500));
    for p in &all {
        truth.insert(p.id, p.vector.clone());
    }
    // Replace points that are in sealed segments, then delete some.
    let replaced = random_f32(50 * DIM, 2);
    let replacements: Vec<pb::Point> = (0..50)
        .map(|i| point(i * 7, &replaced[i as usize * DIM..][..DIM]))
        .collect();
    pts.upsert(pb::UpsertRequest {
        collection: "c".into(),
        points: replacements.clone(),
    })
    .await
    .unwrap();
    for p in &replacements {
        truth.insert(p.id, p.vector.clone());
    }
    let del = pts
        .delete(pb::DeletePointsRequest {
            collection: "c".into(),
            selector: Some(pb::delete_points_request::Selector::Ids(pb::PointIds {
                ids: (900..950).chain([5000]).collect(),
            })),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(del.deleted, 50);
    truth.retain(|&id, _| !(900..950).contains(&id));

    let ids: Vec<u64> = truth.keys().copied().collect();
    let flat: Vec<f32> = truth.values().flatten().copied().collect();
    let engine = Hnsw::build(DIM, Metric::Cosine, HnswParams::default(), &ids, &flat).unwrap();

    let info = collections
        .get(pb::GetCollectionRequest { name: "c".into() })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    let stats = info.stats.unwrap();
    assert_eq!(stats.points, truth.len() as u64);
    assert!(stats.segments >= 4, "several sealed segments: {stats:?}");
    assert!(stats.deleted >= 100 && stats.bytes > 0, "{stats:?}");
    assert_eq!(info.config.unwrap().segment_max_points, 300);
    let listed = collections
        .list(pb::ListCollectionsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.collections.len(), 1);

    // Exact search equals the engine, unfiltered and filtered.
    let red: RoaringTreemap = ids.iter().copied().filter(|id| id % 3 == 0).collect();
    let queries = random_f32(30 * DIM, 3);
    for (i, q) in queries.chunks(DIM).enumerate() {
        let filtered = i % 2 == 1;
        let req = pb::SearchRequest {
            collection: "c".into(),
            vector: q.to_vec(),
            k: 10,
            exact: true,
            filter: filtered.then(|| pb::Filter {
                must: vec![match_keyword("colour", "red")],
                ..Default::default()
            }),
            with_payload: true,
            ..Default::default()
        };
        let got = pts.search(req.clone()).await.unwrap().into_inner().hits;
        let mut params = SearchParams::default().with_exact(true);
        if filtered {
            params = params.with_filter(Filter::AllowList(&red));
        }
        let want = engine.search(q, 10, &params).unwrap();
        assert_eq!(
            got.iter().map(|h| h.id).collect::<Vec<_>>(),
            want.iter().map(|n| n.id).collect::<Vec<_>>(),
            "query {i}"
        );
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g.distance - w.distance).abs() <= 1e-5,
                "query {i}: {} vs {}",
                g.distance,
                w.distance
            );
            assert_eq!(
                g.payload.as_ref().unwrap().fields["n"],
                integer(g.id as i64)
            );
        }
        // SearchBatch answers the same as single searches.
        let batch = pts
            .search_batch(pb::SearchBatchRequest {
                collection: "c".into(),
                searches: vec![req.clone(), req],
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(batch.results[0].hits, got);
        assert_eq!(batch.results[1].hits, got);
    }

    // Get returns the newest version, in request order; missing ids left out.
    let got = pts
        .get(pb::GetPointsRequest {
            collection: "c".into(),
            ids: vec![7, 925, 1],
            with_vectors: true,
            with_payload: true,
        })
        .await
        .unwrap()
        .into_inner()
        .points;
    assert_eq!(got.iter().map(|p| p.id).collect::<Vec<_>>(), vec![7, 1]);
    let stored = &got[0].vector.as_ref().unwrap().values;
    let want = engine.get_vector(7).unwrap();
    assert!(stored.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6));

    // Count with and without filters.
    let counter = pts.clone();
    let count = |f: Option<pb::Filter>| {
        let mut pts = counter.clone();
        async move {
            pts.count(pb::CountRequest {
                collection: "c".into(),
                filter: f,
            })
            .await
            .unwrap()
            .into_inner()
            .count
        }
    };
    assert_eq!(count(None).await, truth.len() as u64);
    assert_eq!(
        count(Some(pb::Filter {
            must: vec![match_keyword("colour", "red")],
            ..Default::default()
        }))
        .await,
        red.len()
    );
    let not_red_or_small = pb::Filter {
        should: vec![
            match_keyword("colour", "green"),
            pb::Condition {
                condition: Some(pb::condition::Condition::HasId(pb::HasId {
                    ids: vec![0, 3],
                })),
            },
        ],
        must_not: vec![pb::Condition {
            condition: Some(pb::condition::Condition::Match(pb::Match {
                key: "n".into(),
                value: Some(pb::r#match::Value::AnyInteger(pb::Integers {
                    values: vec![1, 3],
                })),
            })),
        }],
        ..Default::default()
    };
    let want = ids
        .iter()
        .filter(|&&id| (id % 3 == 1 || id == 0) && id != 1)
        .count();
    assert_eq!(count(Some(not_red_or_small)).await, want as u64);

    // Grouped search: groups by colour, each hit really of its group, closest first.
    let groups = pts
        .search_groups(pb::SearchGroupsRequest {
            collection: "c".into(),
            vector: queries[..DIM].to_vec(),
            group_by: "colour".into(),
            k: 3,
            group_size: 4,
            exact: true,
            with_payload: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .groups;
    assert_eq!(groups.len(), 3);
    let best = engine
        .search(
            &queries[..DIM],
            1,
            &SearchParams::default().with_exact(true),
        )
        .unwrap()[0];
    assert_eq!(groups[0].hits[0].id, best.id);
    for g in &groups {
        assert_eq!(g.hits.len(), 4);
        for h in &g.hits {
            assert_eq!(
                h.payload.as_ref().unwrap().fields["colour"],
                g.key.clone().unwrap()
            );
        }
        assert!(g.hits.windows(2).all(|w| w[0].distance <= w[1].distance));
    }

    // Delete by filter, then the collection itself.
    let del = pts
        .delete(pb::DeletePointsRequest {
            collection: "c".into(),
            selector: Some(pb::delete_points_request::Selector::Filter(pb::Filter {
                must: vec![match_keyword("colour", "red")],
                ..Default::default()
            })),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(del.deleted, red.len());
    assert_eq!(count(None).await, truth.len() as u64 - red.len());
    collections
        .delete(pb::DeleteCollectionRequest { name: "c".into() })
        .await
        .unwrap();
    let err = collections
        .get(pb::GetCollectionRequest { name: "c".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(!dir.path().join("collections/c").exists());
    assert!(server.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_right_status_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("waypoint.toml");
    std::fs::write(
        &config,
        "[limits]\nmax_batch = 100\nmax_k = 50\nmax_dim = 64\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(&data, &["--config", config.to_str().unwrap()]);
    let (mut collections, mut pts) = server.clients().await;
    for bad in ["..", "a/b", "", &"x".repeat(65), "tab\there", "é"] {
        let err = collections
            .create(create(bad, 4, pb::Metric::L2, 0))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad:?}: {err:?}");
        assert!(
            err.message().contains("collection name"),
            "{}",
            err.message()
        );
    }
    let err = collections
        .create(create("big", 65, pb::Metric::L2, 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("max dim"), "{}", err.message());
    let err = collections
        .create(create("nometric", 4, pb::Metric::Unspecified, 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    collections
        .create(create("c", 4, pb::Metric::Cosine, 0))
        .await
        .unwrap();
    let err = collections
        .create(create("c", 4, pb::Metric::Cosine, 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = pts
        .count(pb::CountRequest {
            collection: "nope".into(),
            filter: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("nope"));

    // One bad point rejects the whole batch.
    let ok = |id| pb::Point {
        id,
        vector: vec![1.0, 0.0, 0.0, 0.5],
        payload: None,
    };
    for (bad, says) in [
        (
            pb::Point {
                id: 9,
                vector: vec![1.0; 3],
                payload: None,
            },
            "dimension mismatch",
        ),
        (
            pb::Point {
                id: 9,
                vector: vec![0.0; 4],
                payload: None,
            },
            "zero vector",
        ),
        (
            pb::Point {
                id: 9,
                vector: vec![1.0, f32::NAN, 0.0, 0.0],
                payload: None,
            },
            "not finite",
        ),
    ] {
        let err = pts
            .upsert(pb::UpsertRequest {
                collection: "c".into(),
                points: vec![ok(1), bad, ok(2)],
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(
            err.message().contains("point 1 (id 9)") && err.message().contains(says),
            "{}",
            err.message()
        );
    }
    assert_eq!(
        pts.count(pb::CountRequest {
            collection: "c".into(),
            filter: None
        })
        .await
        .unwrap()
        .into_inner()
        .count,
        0
    );

    let err = pts
        .upsert(pb::UpsertRequest {
            collection: "c".into(),
            points: (0..101).map(ok).collect(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(err.message().contains("limit is 100"), "{}", err.message());
    pts.upsert(pb::UpsertRequest {
        collection: "c".into(),
        points: (0..10).map(ok).collect(),
    })
    .await
    .unwrap();
    let search = |k, vector: Vec<f32>| pb::SearchRequest {
        collection: "c".into(),
        vector,
        k,
        ..Default::default()
    };
    let err = pts.search(search(51, vec![1.0; 4])).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("max k"), "{}", err.message());
    let err = pts.search(search(0, vec![1.0; 4])).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = pts.search(search(5, vec![1.0; 7])).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("expected 4"), "{}", err.message());
    let err = pts
        .delete(pb::DeletePointsRequest {
            collection: "c".into(),
            selector: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // Health reports serving.
    let channel = tonic::transport::Channel::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    grpc_support::assert_serving(channel).await;
    assert!(server.stop());
}
