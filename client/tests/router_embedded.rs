//! The router's contract on generated data (embedded backend): exact scores
//! and their ranking, softmax weights, ties, filters, GLIDER's `combine`,
//! add / update / remove, and the documented error of every bad input.

use waypoint_client::router::{
    combine, Aggregation, Embedding, Expert, ExpertFilter, ExpertLibrary, GlobalScores,
    LibrarySpec, RouteOptions, RoutedExpert, RouterError,
};

const MODEL: &str = "toy-encoder";
const DIM: usize = 16;

fn unit(v: &[f32]) -> Vec<f64> {
    let n = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    v.iter().map(|&x| f64::from(x) / n).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `n` experts with `keys` random keys each (ids 100, 101, …), even ids on
/// base model "a", odd on "b"; every third expert tagged "code".
fn generated(n: usize, keys: usize, seed: u64) -> Vec<(Expert, Vec<Vec<f32>>)> {
    let values = waypoint_datasets::synthetic::uniform_values(n * keys * DIM, seed);
    (0..n)
        .map(|e| {
            let id = 100 + e as u64;
            let mut expert = Expert::new(id, format!("task-{e}"))
                .with_base_model(if id.is_multiple_of(2) { "a" } else { "b" });
            if e % 3 == 0 {
                expert = expert.with_tag("code");
            }
            let rows = (0..keys)
                .map(|j| values[(e * keys + j) * DIM..(e * keys + j + 1) * DIM].to_vec())
                .collect();
            (expert, rows)
        })
        .collect()
}

async fn library_of(experts: &[(Expert, Vec<Vec<f32>>)]) -> ExpertLibrary {
    let mut library = ExpertLibrary::in_memory(LibrarySpec::new(MODEL, DIM)).unwrap();
    let batch = experts
        .iter()
        .map(|(e, keys)| {
            (
                e.clone(),
                keys.iter().map(|k| Embedding::new(MODEL, k)).collect(),
            )
        })
        .collect();
    library.add_many(batch).await.unwrap();
    library
}

/// Brute-force scores in f64, straight from the definitions.
fn brute_force(
    experts: &[(Expert, Vec<Vec<f32>>)],
    query: &[f32],
    aggregation: Aggregation,
) -> Vec<(u64, f64)> {
    let q = unit(query);
    experts
        .iter()
        .map(|(e, keys)| {
            let units: Vec<Vec<f64>> = keys.iter().map(|k| unit(k)).collect();
            let score = match aggregation {
                Aggregation::MaxOverKeys => {
                    units.iter().map(|k| dot(&q, k)).fold(f64::MIN, f64::max)
                }
                Aggregation::MeanOfKeys => {
                    let mut c = vec![0.0; DIM];
                    for k in &units {
                        for (ci, ki) in c.iter_mut().zip(k) {
                            *ci += ki / units.len() as f64;
                        }
                    }
                    dot(&q, &c) / dot(&c, &c).sqrt()
                }
            };
            (e.id, score)
        })
        .collect()
}

#[tokio::test]
async fn exact_route_and_global_scores_follow_the_score_definitions() {
    let experts = generated(60, 4, 1);
    let library = library_of(&experts).await;
    let queries = waypoint_datasets::synthetic::uniform_values(20 * DIM, 2);
    for query in queries.chunks_exact(DIM) {
        for aggregation in [Aggregation::MaxOverKeys, Aggregation::MeanOfKeys] {
            let want = brute_force(&experts, query, aggregation);
            let bias = library
                .global_scores(
                    Embedding::new(MODEL, query),
                    aggregation,
                    &ExpertFilter::default(),
                )
                .await
                .unwrap();
            assert_eq!(
                bias.expert_ids,
                want.iter().map(|w| w.0).collect::<Vec<_>>()
            );
            for (got, want) in bias.scores.iter().zip(&want) {
                assert!((got - want.1).abs() < 1e-6, "{got} vs {}", want.1);
            }
            let mut ranked = want.clone();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let options = RouteOptions::default()
                .with_top_k(5)
                .with_aggregation(aggregation)
                .with_exact(true);
            let routed = library
                .route(Embedding::new(MODEL, query), &options)
                .await
                .unwrap();
            let ids: Vec<u64> = routed.iter().map(|r| r.expert.id).collect();
            assert_eq!(ids, ranked.iter().take(5).map(|r| r.0).collect::<Vec<_>>());
            // HNSW routing rescored exactly: same scores for the experts it returns.
            let approx = library
                .route(
                    Embedding::new(MODEL, query),
                    &options.clone().with_exact(false),
                )
                .await
                .unwrap();
            for r in &approx {
                let want = want.iter().find(|w| w.0 == r.expert.id).unwrap().1;
                assert!((r.score - want).abs() < 1e-6);
            }
        }
    }
}

#[tokio::test]
async fn weights_are_the_softmax_of_score_over_temperature() {
    let experts = generated(30, 2, 3);
    let library = library_of(&experts).await;
    let query = &waypoint_datasets::synthetic::uniform_values(DIM, 4);
    for temperature in [0.01, 0.1, 1.0] {
        let options = RouteOptions::default()
            .with_top_k(4)
            .with_temperature(temperature);
        let routed = library
            .route(Embedding::new(MODEL, query), &options)
            .await
            .unwrap();
        assert_eq!(routed.len(), 4);
        let total: f64 = routed.iter().map(|r| (r.score / temperature).exp()).sum();
        for r in &routed {
            assert!((r.weight - (r.score / temperature).exp() / total).abs() < 1e-12);
            assert!((-1.0..=1.0).contains(&r.score));
        }
        assert!((routed.iter().map(|r| r.weight).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(routed.windows(2).all(|w| w[0].score >= w[1].score));
    }
}

#[tokio::test]
async fn equal_scores_go_to_the_smaller_expert_id() {
    let key = [
        1.0f32, 2.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0,
    ];
    let other = [
        0.0f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ];
    let mut library = ExpertLibrary::in_memory(LibrarySpec::new(MODEL, DIM)).unwrap();
    for id in [9u64, 4, 7] {
        library
            .add(Expert::new(id, "twin"), &[Embedding::new(MODEL, &key)])
            .await
            .unwrap();
    }
    library
        .add(Expert::new(1, "far"), &[Embedding::new(MODEL, &other)])
        .await
        .unwrap();
    for exact in [true, false] {
        for aggregation in [Aggregation::MaxOverKeys, Aggregation::MeanOfKeys] {
            let options = RouteOptions::default()
                .with_top_k(3)
                .with_exact(exact)
                .with_aggregation(aggregation);
            let routed = library
                .route(Embedding::new(MODEL, &key), &options)
                .await
                .unwrap();
            let ids: Vec<u64> = routed.iter().map(|r| r.expert.id).collect();
            assert_eq!(ids, vec![4, 7, 9]);
            assert!(routed.iter().all(|r| (r.weight - 1.0 / 3.0).abs() < 1e-12));
        }
    }
}

#[tokio::test]
async fn hnsw_routing_returns_top_k_distinct_experts_when_one_expert_owns_the_nearest_keys() {
    // Expert 0 has 40 keys tightly around the query; the 16 nearest keys all
    // belong to it, so the router must widen its search to find 3 experts.
    let noise = waypoint_datasets::synthetic::uniform_values(40 * DIM, 5);
    let centre: Vec<f32> = (0..DIM).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect();
    let own: Vec<Vec<f32>> = (0..40)
        .map(|j| {
            centre
                .iter()
                .zip(&noise[j * DIM..])
                .map(|(c, n)| c + 0.01 * n)
                .collect()
        })
        .collect();
    let mut experts = generated(20, 2, 6);
    experts.push((Expert::new(0, "dense"), own));
    let library = library_of(&experts).await;
    let routed = library
        .route(
            Embedding::new(MODEL, &centre),
            &RouteOptions::default().with_top_k(3),
        )
        .await
        .unwrap();
    let ids: Vec<u64> = routed.iter().map(|r| r.expert.id).collect();
    assert_eq!(routed.len(), 3, "{ids:?}");
    assert_eq!(ids[0], 0);
    let mut ranked = brute_force(&experts, &centre, Aggregation::MaxOverKeys);
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(ids, ranked.iter().take(3).map(|r| r.0).collect::<Vec<_>>());
}

#[tokio::test]
async fn filters_never_return_an_expert_of_another_base_model_or_without_the_tag() {
    let experts = generated(90, 3, 7);
    let library = library_of(&experts).await;
    let queries = waypoint_datasets::synthetic::uniform_values(30 * DIM, 8);
    let filters = [
        ExpertFilter::base_model("a"),
        ExpertFilter::base_model("b").with_tag("code"),
    ];
    for query in queries.chunks_exact(DIM) {
        for filter in &filters {
            for exact in [true, false] {
                for aggregation in [Aggregation::MaxOverKeys, Aggregation::MeanOfKeys] {
                    let options = RouteOptions::default()
                        .with_top_k(5)
                        .with_exact(exact)
                        .with_aggregation(aggregation)
                        .with_filter(filter.clone());
                    let routed = library
                        .route(Embedding::new(MODEL, query), &options)
                        .await
                        .unwrap();
                    assert_eq!(routed.len(), 5);
                    assert!(routed.iter().all(|r| filter.matches(&r.expert)));
                }
            }
            let bias = library
                .global_scores(
                    Embedding::new(MODEL, query),
                    Aggregation::MaxOverKeys,
                    filter,
                )
                .await
                .unwrap();
            let matching = experts.iter().filter(|(e, _)| filter.matches(e)).count();
            assert_eq!(bias.expert_ids.len(), matching);
        }
    }
    let none = RouteOptions::default().with_filter(ExpertFilter::base_model("gpt-2"));
    let query = &queries[..DIM];
    assert!(library
        .route(Embedding::new(MODEL, query), &none)
        .await
        .unwrap()
        .is_empty());
}

#[test]
fn combine_matches_a_hand_computed_example() {
    // local + 3 · global = [1 + 1.5, 2 + 0.6, 0 − 0.3] = [2.5, 2.6, −0.3]:
    // top-2 are experts 20 and 10; renormalised, w20 = e^2.6 / (e^2.6 + e^2.5)
    // = 1 / (1 + e^−0.1) ≈ 0.524979, w10 = 1 − w20.
    let global = GlobalScores {
        expert_ids: vec![10, 20, 30],
        scores: vec![0.5, 0.2, -0.1],
    };
    let chosen = combine(&[1.0, 2.0, 0.0], &global, 3.0, 2).unwrap();
    let w20 = 1.0 / (1.0 + (-0.1f64).exp());
    assert_eq!(chosen.len(), 2);
    assert_eq!((chosen[0].expert_id, chosen[1].expert_id), (20, 10));
    assert!((chosen[0].weight - w20).abs() < 1e-12);
    assert!((chosen[1].weight - (1.0 - w20)).abs() < 1e-12);
    assert!((w20 - 0.524979).abs() < 1e-6);
    // s = 100 (GLIDER, held-in): the global score dominates.
    let chosen = combine(&[1.0, 2.0, 0.0], &global, 100.0, 1).unwrap();
    assert_eq!((chosen[0].expert_id, chosen[0].weight), (10, 1.0));
    assert!(matches!(
        combine(&[1.0], &global, 3.0, 2),
        Err(RouterError::InvalidCombine(_))
    ));
    assert!(matches!(
        combine(&[0.0; 3], &global, 3.0, 0),
        Err(RouterError::ZeroTopK)
    ));
    assert!(matches!(
        combine(&[f64::NAN, 0.0, 0.0], &global, 3.0, 1),
        Err(RouterError::InvalidCombine(_))
    ));
}

async fn route1(library: &ExpertLibrary, target: &[f32], exact: bool) -> Vec<RoutedExpert> {
    let options = RouteOptions::default().with_top_k(1).with_exact(exact);
    library
        .route(Embedding::new(MODEL, target), &options)
        .await
        .unwrap()
}

#[tokio::test]
async fn update_and_remove_change_routing_and_an_emptied_library_routes_to_nothing() {
    let experts = generated(10, 2, 9);
    let mut library = library_of(&experts).await;
    let target: Vec<f32> = (0..DIM).map(|i| (i as f32).sin()).collect();
    let renamed = Expert::new(105, "retrained")
        .with_base_model("a")
        .with_metadata("rank", "16");
    library
        .update(renamed.clone(), &[Embedding::new(MODEL, &target)])
        .await
        .unwrap();
    for exact in [true, false] {
        let routed = route1(&library, &target, exact).await;
        assert_eq!(routed[0].expert, renamed);
        assert!((routed[0].score - 1.0).abs() < 1e-6);
    }
    library.remove(105).await.unwrap();
    for exact in [true, false] {
        assert_ne!(route1(&library, &target, exact).await[0].expert.id, 105);
    }
    assert!(matches!(
        library.remove(105).await,
        Err(RouterError::UnknownExpert(105))
    ));
    assert!(matches!(
        library
            .update(renamed.clone(), &[Embedding::new(MODEL, &target)])
            .await,
        Err(RouterError::UnknownExpert(105))
    ));
    assert!(matches!(
        library
            .add(Expert::new(100, "again"), &[Embedding::new(MODEL, &target)])
            .await,
        Err(RouterError::DuplicateExpert(100))
    ));
    for (expert, _) in &experts {
        if expert.id != 105 {
            library.remove(expert.id).await.unwrap();
        }
    }
    assert!(library.is_empty().await.unwrap());
    for exact in [true, false] {
        for aggregation in [Aggregation::MaxOverKeys, Aggregation::MeanOfKeys] {
            let options = RouteOptions::default()
                .with_exact(exact)
                .with_aggregation(aggregation);
            assert!(library
                .route(Embedding::new(MODEL, &target), &options)
                .await
                .unwrap()
                .is_empty());
            let bias = library
                .global_scores(
                    Embedding::new(MODEL, &target),
                    aggregation,
                    &ExpertFilter::default(),
                )
                .await
                .unwrap();
            assert!(bias.expert_ids.is_empty() && bias.scores.is_empty());
        }
    }
}

#[tokio::test]
async fn bad_inputs_give_the_documented_errors() {
    let mut library = library_of(&generated(5, 2, 10)).await;
    let good = vec![0.5f32; DIM];
    let route = |values: Vec<f32>, model: &'static str, options: RouteOptions| {
        let library = &library;
        async move {
            library
                .route(Embedding::new(model, &values), &options)
                .await
        }
    };
    let default = RouteOptions::default;
    assert!(matches!(
        route(vec![0.5; DIM + 1], MODEL, default()).await,
        Err(RouterError::DimensionMismatch {
            expected: DIM,
            got: 17
        })
    ));
    assert!(matches!(
        route(vec![], MODEL, default()).await,
        Err(RouterError::EmptyVector)
    ));
    let mut nan = good.clone();
    nan[3] = f32::NAN;
    assert!(matches!(
        route(nan, MODEL, default()).await,
        Err(RouterError::NonFinite { index: 3, .. })
    ));
    let mut inf = good.clone();
    inf[0] = f32::INFINITY;
    assert!(matches!(
        route(inf, MODEL, default()).await,
        Err(RouterError::NonFinite { index: 0, .. })
    ));
    assert!(matches!(
        route(vec![0.0; DIM], MODEL, default()).await,
        Err(RouterError::ZeroVector)
    ));
    assert!(matches!(
        route(good.clone(), "other-model", default()).await,
        Err(RouterError::ModelMismatch { .. })
    ));
    assert!(matches!(
        route(good.clone(), MODEL, default().with_top_k(0)).await,
        Err(RouterError::ZeroTopK)
    ));
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            route(good.clone(), MODEL, default().with_temperature(t)).await,
            Err(RouterError::InvalidTemperature(_))
        ));
    }
    let err = route(good.clone(), "other-model", default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("toy-encoder") && err.to_string().contains("other-model"));

    assert!(matches!(
        library.add(Expert::new(1, "no keys"), &[]).await,
        Err(RouterError::KeyCount {
            expert: 1,
            keys: 0,
            ..
        })
    ));
    assert!(matches!(
        library
            .add(
                Expert::new(u64::MAX, "big"),
                &[Embedding::new(MODEL, &good)]
            )
            .await,
        Err(RouterError::ExpertIdTooLarge(_))
    ));
    let short = vec![1.0f32; DIM - 1];
    assert!(matches!(
        library
            .add(Expert::new(2, "short"), &[Embedding::new(MODEL, &short)])
            .await,
        Err(RouterError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        library
            .add(Expert::new(2, "foreign"), &[Embedding::new("other", &good)])
            .await,
        Err(RouterError::ModelMismatch { .. })
    ));
    // Keys that cancel out have no mean direction.
    let neg: Vec<f32> = good.iter().map(|v| -v).collect();
    assert!(matches!(
        library
            .add(
                Expert::new(3, "opposite"),
                &[Embedding::new(MODEL, &good), Embedding::new(MODEL, &neg)]
            )
            .await,
        Err(RouterError::ZeroVector)
    ));
    // Nothing of a refused call was registered.
    assert_eq!(library.len().await.unwrap(), 5);
}
