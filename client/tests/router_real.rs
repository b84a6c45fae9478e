//! The embedded router on the bundled routing set (`datasets/data/routing_*`):
//! exact routing reproduces the stored brute-force top-3 lists for every
//! query, HNSW routing stays within half a point of their accuracy, filters
//! hold, and a saved library reopens with the same answers.

mod support;

use support::routing::{self, RoutingSet};
use waypoint_client::router::{
    Aggregation, Embedding, Expert, ExpertFilter, ExpertLibrary, LibrarySpec, RouteOptions,
    EXACT_MAX_EXPERTS, EXACT_MAX_KEYS,
};

async fn library(set: &RoutingSet) -> ExpertLibrary {
    let mut library = ExpertLibrary::in_memory(LibrarySpec::new(routing::MODEL, set.dim)).unwrap();
    set.register(&mut library).await;
    library
}

async fn route_all(
    library: &ExpertLibrary,
    set: &RoutingSet,
    options: &RouteOptions,
) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    for i in 0..set.n_queries() {
        let routed = library.route(set.query(i), options).await.unwrap();
        out.push(routed.iter().map(|r| r.expert.id).collect());
    }
    out
}

fn exact(aggregation: Aggregation) -> RouteOptions {
    RouteOptions::default()
        .with_top_k(3)
        .with_aggregation(aggregation)
        .with_exact(true)
}

#[tokio::test]
async fn exact_routing_reproduces_the_baseline_top3_of_every_query() {
    let set = routing::load();
    let library = library(&set).await;
    assert_eq!(library.len().await.unwrap(), 197);
    for (aggregation, expected, top1, top3) in [
        (Aggregation::MaxOverKeys, &set.top3_max, 0.5967, 0.7590),
        (Aggregation::MeanOfKeys, &set.top3_mean, 0.6164, 0.7705),
    ] {
        let routed = route_all(&library, &set, &exact(aggregation)).await;
        for (i, (got, want)) in routed.iter().zip(expected).enumerate() {
            assert_eq!(got, want, "{aggregation:?}: query {i}");
        }
        let (a1, a3) = set.accuracy(&routed);
        assert!((a1 - top1).abs() < 5e-5, "{aggregation:?} top-1 {a1}");
        assert!((a3 - top3).abs() < 5e-5, "{aggregation:?} top-3 {a3}");
    }
}

#[tokio::test]
async fn hnsw_routing_stays_within_half_a_point_of_exact_accuracy() {
    let set = routing::load();
    let library = library(&set).await;
    for aggregation in [Aggregation::MaxOverKeys, Aggregation::MeanOfKeys] {
        let exact_acc = set.accuracy(&route_all(&library, &set, &exact(aggregation)).await);
        let hnsw = RouteOptions::default()
            .with_top_k(3)
            .with_aggregation(aggregation)
            .with_exact(false);
        let hnsw_acc = set.accuracy(&route_all(&library, &set, &hnsw).await);
        println!("{aggregation:?}: exact {exact_acc:?}, hnsw {hnsw_acc:?}");
        assert!(exact_acc.0 - hnsw_acc.0 <= 0.005, "{aggregation:?} top-1");
        assert!(exact_acc.1 - hnsw_acc.1 <= 0.005, "{aggregation:?} top-3");
    }
}

#[tokio::test]
async fn the_router_scores_exactly_below_the_crossover_and_searches_the_graph_above() {
    // The bundled set is below both sizes: left unset, `exact` gives the
    // brute-force baseline for every query.
    let set = routing::load();
    assert!(set.key_expert.len() <= EXACT_MAX_KEYS && set.experts.len() <= EXACT_MAX_EXPERTS);
    let library = library(&set).await;
    for (aggregation, expected) in [
        (Aggregation::MaxOverKeys, &set.top3_max),
        (Aggregation::MeanOfKeys, &set.top3_mean),
    ] {
        let auto = RouteOptions::default()
            .with_top_k(3)
            .with_aggregation(aggregation);
        assert_eq!(
            &route_all(&library, &set, &auto).await,
            expected,
            "{aggregation:?}"
        );
    }

    // 400 random experts × 4 keys is above both: the graph answers.
    let (experts, dim) = (400, set.dim);
    let values = waypoint_datasets::synthetic::uniform_values(experts * 4 * dim, 3);
    let mut big = ExpertLibrary::in_memory(LibrarySpec::new(routing::MODEL, dim)).unwrap();
    let batch = (0..experts)
        .map(|e| {
            let keys = values[e * 4 * dim..(e + 1) * 4 * dim]
                .chunks_exact(dim)
                .map(|k| Embedding::new(routing::MODEL, k))
                .collect();
            (Expert::new(e as u64, format!("e{e}")), keys)
        })
        .collect();
    big.add_many(batch).await.unwrap();
    for aggregation in [Aggregation::MaxOverKeys, Aggregation::MeanOfKeys] {
        let auto = RouteOptions::default()
            .with_top_k(3)
            .with_aggregation(aggregation);
        let hnsw = auto.clone().with_exact(false);
        for i in 0..50 {
            let q = set.query(i);
            assert_eq!(
                big.route(q, &auto).await.unwrap(),
                big.route(q, &hnsw).await.unwrap(),
                "{aggregation:?}: query {i}"
            );
        }
    }
}

#[tokio::test]
async fn filtered_routing_returns_only_the_base_model_and_matches_brute_force() {
    let set = routing::load();
    let library = library(&set).await;
    let model = RoutingSet::base_model(0);
    for aggregation in [Aggregation::MaxOverKeys, Aggregation::MeanOfKeys] {
        for i in 0..set.n_queries() {
            let filter = ExpertFilter::base_model(model);
            let bias = library
                .global_scores(set.query(i), aggregation, &filter)
                .await
                .unwrap();
            let mut want: Vec<(f64, u64)> = bias
                .scores
                .iter()
                .copied()
                .zip(bias.expert_ids.iter().copied())
                .collect();
            want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let want: Vec<u64> = want.iter().take(3).map(|w| w.1).collect();
            for exact_mode in [true, false] {
                let options = exact(aggregation)
                    .with_exact(exact_mode)
                    .with_filter(filter.clone());
                let routed = library.route(set.query(i), &options).await.unwrap();
                assert_eq!(routed.len(), 3);
                assert!(routed.iter().all(|r| r.expert.base_model == model));
                if exact_mode {
                    let got: Vec<u64> = routed.iter().map(|r| r.expert.id).collect();
                    assert_eq!(got, want, "{aggregation:?} query {i}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_saved_library_reopens_with_the_same_routes() {
    let set = routing::load();
    let dir = tempfile::tempdir().unwrap();
    let mut library =
        ExpertLibrary::create_embedded(dir.path(), LibrarySpec::new(routing::MODEL, set.dim))
            .unwrap();
    set.register(&mut library).await;
    library.save().unwrap();
    let reopened = ExpertLibrary::open_embedded(dir.path()).unwrap();
    assert_eq!(reopened.spec(), library.spec());
    for aggregation in [Aggregation::MaxOverKeys, Aggregation::MeanOfKeys] {
        let options = exact(aggregation);
        assert_eq!(
            route_all(&reopened, &set, &options).await,
            route_all(&library, &set, &options).await
        );
    }
    let first = reopened
        .route(set.query(0), &exact(Aggregation::MaxOverKeys))
        .await
        .unwrap();
    assert!(first[0].expert.adapter_uri.ends_with("adapter.safetensors"));
}
