//! Every kind of bad input the gRPC API can receive, each with the status
//! and message it must get; afterwards nothing has changed and the server
//! still serves. (Payload values and filters are flat in the schema, so
//! "deeply nested" input cannot be expressed; "huge" is covered below.)

mod grpc_support;

use grpc_support::{create, keyword, match_keyword, Server};
use tonic::{Code, Response, Status};
use waypoint_proto::v1 as pb;

/// Asserts `result` failed with `code` and a message containing `needle`.
#[track_caller]
fn fails<T>(case: &str, result: Result<Response<T>, Status>, code: Code, needle: &str) {
    match result {
        Ok(_) => panic!("{case}: expected {code:?}, got OK"),
        Err(s) => {
            assert_eq!(s.code(), code, "{case}: {}", s.message());
            assert!(
                s.message().contains(needle),
                "{case}: {:?} lacks {needle:?}",
                s.message()
            );
        }
    }
}

/// Asserts `result` is NOT_FOUND for the collection "zz".
#[track_caller]
fn not_found<T>(case: &str, result: Result<Response<T>, Status>) {
    fails(
        case,
        result,
        Code::NotFound,
        "collection \"zz\" does not exist",
    );
}

fn point(id: u64, vector: Vec<f32>) -> pb::Point {
    pb::Point {
        id,
        vector,
        payload: None,
    }
}

fn upsert(collection: &str, points: Vec<pb::Point>) -> pb::UpsertRequest {
    pb::UpsertRequest {
        collection: collection.into(),
        points,
    }
}

fn search(collection: &str, vector: Vec<f32>, k: u32, ef: u32) -> pb::SearchRequest {
    pb::SearchRequest {
        collection: collection.into(),
        vector,
        k,
        ef,
        ..Default::default()
    }
}

const MAX_MESSAGE: usize = 2 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_status_and_message_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("waypoint.toml");
    std::fs::write(
        &config,
        format!("[limits]\nmax_batch = 100\nmax_k = 200\nmax_dim = 4096\nmax_message_bytes = {MAX_MESSAGE}\n"),
    )
    .unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let (mut cols, mut pts) = server.clients().await;

    // The state that must survive every bad request unchanged.
    cols.create(create("c", 4, pb::Metric::Cosine, 0))
        .await
        .unwrap();
    let seed: Vec<pb::Point> = (0..20u64)
        .map(|i| point(i, vec![1.0, i as f32, (i % 3) as f32, 0.5]))
        .collect();
    pts.upsert(upsert("c", seed)).await.unwrap();
    cols.create(create("wide", 4096, pb::Metric::L2, 0))
        .await
        .unwrap();
    for b in 0..2u64 {
        let batch = (0..100)
            .map(|i| point(b * 100 + i, vec![(b * 100 + i) as f32; 4096]))
            .collect();
        pts.upsert(upsert("wide", batch)).await.unwrap();
    }
    let probe = search("c", vec![1.0, 3.0, 1.0, 0.5], 10, 0);
    let before = pts.search(probe.clone()).await.unwrap().into_inner();

    // Collections: dimension, M, names, unknown names.
    fails(
        "dim 0",
        cols.create(create("a", 0, pb::Metric::L2, 0)).await,
        Code::InvalidArgument,
        "dim must be 1..=4096 (the server's max dim), got 0",
    );
    fails(
        "dim 10^9",
        cols.create(create("a", 1_000_000_000, pb::Metric::L2, 0))
            .await,
        Code::InvalidArgument,
        "dim must be 1..=4096 (the server's max dim), got 1000000000",
    );
    for m in [1, 257, u32::MAX] {
        let mut r = create("a", 4, pb::Metric::L2, 0);
        r.m = m;
        fails(
            &format!("M {m}"),
            cols.create(r).await,
            Code::InvalidArgument,
            &format!("invalid parameter M: got {m}, expected 2..=256"),
        );
    }
    // proto3 cannot tell 0 from unset: M = 0 and ef_construction = 0 mean
    // the defaults (16 and 200). Negative values cannot be encoded (uint32).
    let made = cols
        .create(create("zeros", 4, pb::Metric::L2, 0))
        .await
        .unwrap()
        .into_inner();
    let made = made.info.unwrap().config.unwrap();
    assert_eq!((made.m, made.ef_construction), (16, 200));
    cols.delete(pb::DeleteCollectionRequest {
        name: "zeros".into(),
    })
    .await
    .unwrap();
    for name in [".", "..", "a/b", "../c", "tab\there", "nul\0", "é"] {
        fails(
            &format!("name {name:?}"),
            cols.create(create(name, 4, pb::Metric::L2, 0)).await,
            Code::InvalidArgument,
            &format!("collection name {name:?} has the character"),
        );
    }
    for name in [String::new(), "x".repeat(65)] {
        fails(
            "name length",
            cols.create(create(&name, 4, pb::Metric::L2, 0)).await,
            Code::InvalidArgument,
            "collection name must be 1 to 64 characters",
        );
    }
    not_found(
        "get unknown",
        cols.get(pb::GetCollectionRequest { name: "zz".into() })
            .await,
    );
    not_found(
        "delete unknown",
        cols.delete(pb::DeleteCollectionRequest { name: "zz".into() })
            .await,
    );
    not_found(
        "upsert unknown",
        pts.upsert(upsert("zz", vec![point(1, vec![1.0; 4])])).await,
    );
    not_found(
        "search unknown",
        pts.search(search("zz", vec![1.0; 4], 1, 0)).await,
    );
    not_found(
        "count unknown",
        pts.count(pb::CountRequest {
            collection: "zz".into(),
            filter: None,
        })
        .await,
    );
    fails(
        "delete '..'",
        cols.delete(pb::DeleteCollectionRequest { name: "..".into() })
            .await,
        Code::InvalidArgument,
        "collection name \"..\" has the character '.'",
    );

    // Vectors, in an upsert (one bad point rejects its whole batch) and as a query.
    for (case, vector, needle) in [
        (
            "wrong dim",
            vec![1.0; 3],
            "dimension mismatch: expected 4 components, got 3",
        ),
        (
            "empty",
            vec![],
            "dimension mismatch: expected 4 components, got 0",
        ),
        (
            "NaN",
            vec![1.0, f32::NAN, 0.0, 0.0],
            "vector component 1 is not finite (NaN); every component must be a finite f32",
        ),
        (
            "+inf",
            vec![f32::INFINITY, 0.0, 0.0, 0.0],
            "vector component 0 is not finite (inf)",
        ),
        (
            "-inf",
            vec![0.0, 0.0, 0.0, f32::NEG_INFINITY],
            "vector component 3 is not finite (-inf)",
        ),
        (
            "1e30",
            vec![1e30, 0.0, 0.0, 0.0],
            "vector too large: its squared norm 1.000e60 is above",
        ),
        (
            "zero under cosine",
            vec![0.0; 4],
            "zero vector under the cosine metric",
        ),
    ] {
        let batch = vec![
            point(100, vec![1.0; 4]),
            point(101, vector.clone()),
            point(102, vec![1.0; 4]),
        ];
        let err = pts.upsert(upsert("c", batch)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{case}");
        assert!(
            err.message().starts_with("point 1 (id 101): ") && err.message().contains(needle),
            "{case}: {}",
            err.message()
        );
        fails(
            case,
            pts.upsert(upsert("c", vec![point(101, vector.clone())]))
                .await,
            Code::InvalidArgument,
            needle,
        );
        fails(
            case,
            pts.search(search("c", vector.clone(), 5, 0)).await,
            Code::InvalidArgument,
            needle,
        );
        let batch = pb::SearchBatchRequest {
            collection: "c".into(),
            searches: vec![search("c", vec![1.0; 4], 5, 0), search("c", vector, 5, 0)],
        };
        fails(
            case,
            pts.search_batch(batch).await,
            Code::InvalidArgument,
            &format!("search 1: {needle}"),
        );
    }

    // k and ef.
    fails(
        "k 0",
        pts.search(search("c", vec![1.0; 4], 0, 0)).await,
        Code::InvalidArgument,
        "k must be at least 1",
    );
    fails(
        "k above the limit",
        pts.search(search("c", vec![1.0; 4], 201, 0)).await,
        Code::InvalidArgument,
        "k = 201 is above the server's max k of 200",
    );
    fails(
        "k u32::MAX",
        pts.search(search("c", vec![1.0; 4], u32::MAX, 0)).await,
        Code::InvalidArgument,
        "is above the server's max k of 200",
    );
    // ef = 0 is proto3's "unset": the collection default. A huge ef is
    // allowed and is exact (it visits everything), not an allocation of ef.
    let exact = pts
        .search(pb::SearchRequest {
            exact: true,
            ..probe.clone()
        })
        .await
        .unwrap()
        .into_inner();
    for ef in [0, u32::MAX] {
        let got = pts
            .search(search("c", vec![1.0, 3.0, 1.0, 0.5], 10, ef))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ids(&got), ids(&exact), "ef {ef}");
    }

    // Payloads: a huge value; filters: on a key no point has.
    for (case, key, value, says) in [
        (
            "huge payload",
            "text".to_string(),
            "x".repeat(1_500_000),
            "point 0 (id 300): payload is 1500020 bytes; the limit is 1048576 bytes per point",
        ),
        (
            "long key",
            "k".repeat(257),
            "v".into(),
            "must be 1 to 256 bytes long",
        ),
    ] {
        let mut payload = pb::Payload::default();
        payload.fields.insert(key, keyword(&value));
        let batch = vec![pb::Point {
            id: 300,
            vector: vec![1.0; 4],
            payload: Some(payload),
        }];
        fails(
            case,
            pts.upsert(upsert("c", batch)).await,
            Code::InvalidArgument,
            says,
        );
    }
    // A condition on a missing key matches nothing: `must` keeps no point,
    // `must_not` keeps every point.
    let mut filtered = probe.clone();
    filtered.filter = Some(pb::Filter {
        must: vec![match_keyword("no-such-key", "x")],
        ..Default::default()
    });
    assert!(pts
        .search(filtered.clone())
        .await
        .unwrap()
        .into_inner()
        .hits
        .is_empty());
    filtered.filter = Some(pb::Filter {
        must_not: vec![match_keyword("no-such-key", "x")],
        ..Default::default()
    });
    assert_eq!(
        ids(&pts.search(filtered).await.unwrap().into_inner()),
        ids(&before)
    );

    // Message size: a request over the limit is refused by the transport
    // before it is read; a response that would be over it, before it is sent.
    let oversized = (0..140).map(|i| point(1000 + i, vec![1.0; 4096])).collect();
    fails(
        "oversized request",
        pts.upsert(upsert("wide", oversized)).await,
        Code::OutOfRange,
        "decoded message length too large: found 2295",
    );
    let wide = pb::SearchRequest {
        with_vectors: true,
        ..search("wide", vec![0.0; 4096], 200, 0)
    };
    fails(
        "oversized response",
        pts.search(wide).await,
        Code::ResourceExhausted,
        &format!("above the server's max_message_bytes of {MAX_MESSAGE}; ask for fewer results"),
    );
    let two = pb::SearchBatchRequest {
        collection: "wide".into(),
        searches: vec![
            pb::SearchRequest {
                with_vectors: true,
                ..search("wide", vec![0.0; 4096], 100, 0)
            };
            2
        ],
    };
    fails(
        "oversized batch response",
        pts.search_batch(two).await,
        Code::ResourceExhausted,
        "the response would be",
    );

    // Nothing changed, and the server still serves.
    assert_eq!(pts.search(probe).await.unwrap().into_inner(), before);
    for (name, n) in [("c", 20), ("wide", 200)] {
        let count = pts
            .count(pb::CountRequest {
                collection: name.into(),
                filter: None,
            })
            .await
            .unwrap();
        assert_eq!(count.into_inner().count, n, "{name}");
    }
    let names = grpc_support::list_names(&mut cols).await;
    assert_eq!(names, ["c", "wide"]);
    assert!(server.stop());
}

/// Edge cases that are valid input, with their documented outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_ids_extreme_ids_and_empty_batches_behave_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let (mut cols, mut pts) = server.clients().await;
    cols.create(create("c", 2, pb::Metric::L2, 0))
        .await
        .unwrap();

    // Duplicate ids inside one batch: the last occurrence wins.
    let r = pts
        .upsert(upsert(
            "c",
            vec![point(7, vec![1.0, 0.0]), point(7, vec![0.0, 5.0])],
        ))
        .await
        .unwrap();
    assert_eq!(r.into_inner().upserted, 2);
    let got = pts
        .get(pb::GetPointsRequest {
            collection: "c".into(),
            ids: vec![7],
            with_vectors: true,
            with_payload: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.points.len(), 1);
    assert_eq!(got.points[0].vector.as_ref().unwrap().values, [0.0, 5.0]);

    // Ids at the top of the u64 range are ordinary ids.
    let top = [u64::MAX, u64::MAX - 1];
    pts.upsert(upsert(
        "c",
        vec![point(top[0], vec![9.0, 9.0]), point(top[1], vec![9.0, 8.0])],
    ))
    .await
    .unwrap();
    let hits = pts
        .search(search("c", vec![9.0, 9.0], 2, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&hits), top);
    let deleted = pts
        .delete(pb::DeletePointsRequest {
            collection: "c".into(),
            selector: Some(pb::delete_points_request::Selector::Ids(pb::PointIds {
                ids: vec![u64::MAX],
            })),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.deleted, 1);
    let hits = pts
        .search(search("c", vec![9.0, 9.0], 3, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&hits), [u64::MAX - 1, 7]);

    // An empty batch writes nothing: no WAL record, LSN 0.
    let r = pts.upsert(upsert("c", vec![])).await.unwrap().into_inner();
    assert_eq!((r.upserted, r.lsn), (0, 0));
    assert!(server.stop());
    // The same state after a restart (nothing half-written by the above).
    let server = Server::start(&dir.path().join("data"));
    let (_, mut pts) = server.clients().await;
    let hits = pts
        .search(search("c", vec![9.0, 9.0], 3, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&hits), [u64::MAX - 1, 7]);
    assert!(server.stop());
}

fn ids(r: &pb::SearchResponse) -> Vec<u64> {
    r.hits.iter().map(|h| h.id).collect()
}
