//! The expert router's remote backend against a real `waypoint serve`:
//! the same calls give the same answers as the embedded backend, exact
//! routing reproduces the shared baseline, filters hold, and add / update /
//! remove / reopen work through the server.

#[path = "grpc_support/mod.rs"]
mod grpc_support;
#[path = "../../client/tests/support/routing.rs"]
mod routing;

use grpc_support::Server;
use routing::RoutingSet;
use waypoint_client::router::{
    Aggregation, Embedding, Expert, ExpertFilter, ExpertLibrary, LibrarySpec, RouteOptions,
    RoutedExpert, RouterError,
};
use waypoint_client::{Client, Code};

async fn client(server: &Server) -> Client {
    Client::connect(server.url.clone()).await.unwrap()
}

/// Same experts in the same order, scores equal to f32 precision, weights close.
fn assert_same(remote: &[RoutedExpert], embedded: &[RoutedExpert], context: &str) {
    let ids = |r: &[RoutedExpert]| r.iter().map(|x| x.expert.id).collect::<Vec<_>>();
    assert_eq!(ids(remote), ids(embedded), "{context}");
    for (r, e) in remote.iter().zip(embedded) {
        assert_eq!(r.expert, e.expert, "{context}");
        assert!(
            (r.score - e.score).abs() < 1e-5,
            "{context}: {} vs {}",
            r.score,
            e.score
        );
        assert!((r.weight - e.weight).abs() < 1e-4, "{context}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_routing_reproduces_the_baseline_and_answers_like_the_embedded_backend() {
    let set = routing::load();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let spec = LibrarySpec::new(routing::MODEL, set.dim);
    let mut remote = ExpertLibrary::create_remote(client(&server).await, "glider", spec.clone())
        .await
        .unwrap();
    set.register(&mut remote).await;
    let mut embedded = ExpertLibrary::in_memory(spec).unwrap();
    set.register(&mut embedded).await;
    assert_eq!(remote.len().await.unwrap(), 197);

    for (aggregation, expected) in [
        (Aggregation::MaxOverKeys, &set.top3_max),
        (Aggregation::MeanOfKeys, &set.top3_mean),
    ] {
        let exact = RouteOptions::default()
            .with_top_k(3)
            .with_aggregation(aggregation)
            .with_exact(true)
            .with_temperature(0.05);
        let filtered = exact
            .clone()
            .with_filter(ExpertFilter::base_model(RoutingSet::base_model(1)));
        let mut routed_hnsw = Vec::new();
        for (i, want) in expected.iter().enumerate() {
            let context = format!("{aggregation:?} query {i}");
            let r = remote.route(set.query(i), &exact).await.unwrap();
            let ids: Vec<u64> = r.iter().map(|x| x.expert.id).collect();
            assert_eq!(&ids, want, "{context}");
            assert_same(
                &r,
                &embedded.route(set.query(i), &exact).await.unwrap(),
                &context,
            );

            let r = remote.route(set.query(i), &filtered).await.unwrap();
            assert!(r
                .iter()
                .all(|x| x.expert.base_model == RoutingSet::base_model(1)));
            assert_same(
                &r,
                &embedded.route(set.query(i), &filtered).await.unwrap(),
                &context,
            );

            let hnsw = exact.clone().with_exact(false);
            let r = remote.route(set.query(i), &hnsw).await.unwrap();
            routed_hnsw.push(r.iter().map(|x| x.expert.id).collect::<Vec<u64>>());
        }
        let (top1, top3) = set.accuracy(&routed_hnsw);
        let (want1, want3) = set.accuracy(expected);
        assert!(
            want1 - top1 <= 0.005 && want3 - top3 <= 0.005,
            "{aggregation:?}: {top1} {top3}"
        );

        let filter = ExpertFilter::default();
        let r = remote
            .global_scores(set.query(0), aggregation, &filter)
            .await
            .unwrap();
        let e = embedded
            .global_scores(set.query(0), aggregation, &filter)
            .await
            .unwrap();
        assert_eq!(r.expert_ids, e.expert_ids);
        assert_eq!(r.expert_ids.len(), 197);
        assert!(r
            .scores
            .iter()
            .zip(&e.scores)
            .all(|(a, b)| (a - b).abs() < 1e-5));
    }
}

const MODEL: &str = "toy";
const DIM: usize = 8;

fn key(seed: u64) -> Vec<f32> {
    waypoint_datasets::synthetic::uniform_values(DIM, seed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_add_update_remove_and_reopen_behave_like_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let spec = LibrarySpec::new(MODEL, DIM);
    let mut remote = ExpertLibrary::create_remote(client(&server).await, "lib", spec.clone())
        .await
        .unwrap();
    let mut embedded = ExpertLibrary::in_memory(spec.clone()).unwrap();
    let keys: Vec<Vec<f32>> = (0..40).map(key).collect();
    for library in [&mut remote, &mut embedded] {
        for e in 0..20u64 {
            let expert = Expert::new(e, format!("task-{e}"))
                .with_adapter_uri(format!("s3://adapters/{e}"))
                .with_base_model(if e < 10 { "llama" } else { "t5" })
                .with_tag(if e % 2 == 0 { "even" } else { "odd" })
                .with_metadata("rank", "8");
            let own = [
                Embedding::new(MODEL, &keys[2 * e as usize]),
                Embedding::new(MODEL, &keys[2 * e as usize + 1]),
            ];
            library.add(expert, &own).await.unwrap();
        }
    }
    let queries: Vec<Vec<f32>> = (100..130).map(key).collect();
    async fn same(remote: &ExpertLibrary, embedded: &ExpertLibrary, queries: &[Vec<f32>]) {
        for q in queries {
            for aggregation in [Aggregation::MaxOverKeys, Aggregation::MeanOfKeys] {
                for filter in [
                    ExpertFilter::default(),
                    ExpertFilter::base_model("t5").with_tag("odd"),
                ] {
                    let options = RouteOptions::default()
                        .with_top_k(4)
                        .with_exact(true)
                        .with_aggregation(aggregation)
                        .with_filter(filter);
                    let r = remote
                        .route(Embedding::new(MODEL, q), &options)
                        .await
                        .unwrap();
                    let e = embedded
                        .route(Embedding::new(MODEL, q), &options)
                        .await
                        .unwrap();
                    assert_same(&r, &e, "synthetic");
                }
            }
        }
    }
    same(&remote, &embedded, &queries).await;

    // Update: expert 3 moves onto query 0; remove: expert 4 disappears.
    for library in [&mut remote, &mut embedded] {
        let moved = Expert::new(3, "retrained").with_base_model("t5");
        library
            .update(moved, &[Embedding::new(MODEL, &queries[0])])
            .await
            .unwrap();
        library.remove(4).await.unwrap();
        assert!(matches!(
            library.remove(4).await,
            Err(RouterError::UnknownExpert(4))
        ));
        assert!(matches!(
            library
                .update(Expert::new(99, "x"), &[Embedding::new(MODEL, &queries[0])])
                .await,
            Err(RouterError::UnknownExpert(99))
        ));
        assert!(matches!(
            library
                .add(Expert::new(5, "dup"), &[Embedding::new(MODEL, &queries[0])])
                .await,
            Err(RouterError::DuplicateExpert(5))
        ));
        let top = library
            .route(
                Embedding::new(MODEL, &queries[0]),
                &RouteOptions::default().with_top_k(1),
            )
            .await
            .unwrap();
        assert_eq!(top[0].expert.name, "retrained");
        assert_eq!(library.len().await.unwrap(), 19);
    }
    same(&remote, &embedded, &queries).await;

    // Reopen by name from a second client: same spec, same answers.
    let reopened = ExpertLibrary::open_remote(client(&server).await, "lib")
        .await
        .unwrap();
    assert_eq!(reopened.spec(), &spec);
    same(&reopened, &embedded, &queries).await;
    let wrong = vec![0.5f32; DIM + 1];
    assert!(matches!(
        reopened
            .route(Embedding::new(MODEL, &wrong), &RouteOptions::default())
            .await,
        Err(RouterError::DimensionMismatch {
            expected: DIM,
            got: 9
        })
    ));
    let missing = ExpertLibrary::open_remote(client(&server).await, "nope").await;
    assert!(matches!(missing, Err(RouterError::Client(ref e)) if e.code() == Code::NotFound));

    // Emptied: routes to nothing, without an error.
    for library in [&mut remote, &mut embedded] {
        for e in (0..20u64).filter(|&e| e != 4) {
            library.remove(e).await.unwrap();
        }
        let routed = library
            .route(Embedding::new(MODEL, &queries[0]), &RouteOptions::default())
            .await
            .unwrap();
        assert!(routed.is_empty());
        let bias = library
            .global_scores(
                Embedding::new(MODEL, &queries[0]),
                Aggregation::MeanOfKeys,
                &ExpertFilter::default(),
            )
            .await
            .unwrap();
        assert!(bias.expert_ids.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_wraps_every_rpc_and_keeps_status_codes() {
    use waypoint_client::pb;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = Client::builder(server.url.clone())
        .api_key("ignored-by-a-server-without-auth")
        .timeout(std::time::Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    let created = client
        .create_collection(grpc_support::create("c", 4, pb::Metric::L2, 0))
        .await
        .unwrap();
    assert_eq!(created.info.unwrap().config.unwrap().dim, 4);
    let err = client
        .create_collection(grpc_support::create("c", 4, pb::Metric::L2, 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let point = |id: u64, x: f32| pb::Point {
        id,
        vector: vec![x, 0.0, 0.0, 0.0],
        payload: None,
    };
    let up = client
        .upsert(pb::UpsertRequest {
            collection: "c".into(),
            points: vec![point(1, 1.0)],
        })
        .await
        .unwrap();
    assert_eq!(up.upserted, 1);
    let streamed = client
        .upsert_stream(vec![
            pb::UpsertRequest {
                collection: "c".into(),
                points: vec![point(2, 2.0)],
            },
            pb::UpsertRequest {
                collection: "c".into(),
                points: vec![point(3, 3.0)],
            },
        ])
        .await
        .unwrap();
    assert_eq!((streamed.batches, streamed.points), (2, 2));
    let count = client
        .count(pb::CountRequest {
            collection: "c".into(),
            filter: None,
        })
        .await
        .unwrap();
    assert_eq!(count.count, 3);
    let search = pb::SearchRequest {
        collection: "c".into(),
        vector: vec![2.1, 0.0, 0.0, 0.0],
        k: 2,
        ..Default::default()
    };
    let hits = client.search(search.clone()).await.unwrap().hits;
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![2, 3]);
    let batch = client
        .search_batch(pb::SearchBatchRequest {
            collection: "c".into(),
            searches: vec![search.clone(), search],
        })
        .await
        .unwrap();
    assert_eq!(batch.results.len(), 2);
    let got = client
        .get_points(pb::GetPointsRequest {
            collection: "c".into(),
            ids: vec![1, 9],
            with_vectors: true,
            with_payload: false,
        })
        .await
        .unwrap();
    assert_eq!(got.points.len(), 1);
    let deleted = client
        .delete_points(pb::DeletePointsRequest {
            collection: "c".into(),
            selector: Some(pb::delete_points_request::Selector::Ids(pb::PointIds {
                ids: vec![1],
            })),
        })
        .await
        .unwrap();
    assert_eq!(deleted.deleted, 1);
    assert_eq!(
        client.list_collections().await.unwrap().collections.len(),
        1
    );
    let info = client
        .get_collection(pb::GetCollectionRequest { name: "c".into() })
        .await
        .unwrap();
    assert_eq!(info.info.unwrap().stats.unwrap().points, 2);
    client
        .delete_collection(pb::DeleteCollectionRequest { name: "c".into() })
        .await
        .unwrap();
    let err = client
        .get_collection(pb::GetCollectionRequest { name: "c".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(!err.to_string().is_empty());
    let err = client
        .search_groups(pb::SearchGroupsRequest {
            collection: "c".into(),
            vector: vec![1.0; 4],
            group_by: "g".into(),
            k: 1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}
