//! Small cases with exactly known answers.

mod common;

use waypoint_index::{
    Error, Filter, FlatIndex, Hnsw, HnswParams, HnswView, Metric, RoaringTreemap, SearchParams,
};

fn ids(hits: &[waypoint_index::Neighbor]) -> Vec<u64> {
    hits.iter().map(|n| n.id).collect()
}

#[test]
fn empty_index_returns_nothing_and_saves_and_reopens() {
    let index = Hnsw::new(4, Metric::L2Squared, HnswParams::default()).unwrap();
    assert!(index
        .search(&[1.0, 0.0, 0.0, 0.0], 5, &SearchParams::default())
        .unwrap()
        .is_empty());
    assert!(index
        .search(
            &[1.0, 0.0, 0.0, 0.0],
            5,
            &SearchParams::default().with_exact(true)
        )
        .unwrap()
        .is_empty());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.wpi");
    index.save(&path).unwrap();
    let view = HnswView::open(&path).unwrap();
    assert_eq!(view.len(), 0);
    assert!(view
        .search(&[1.0, 0.0, 0.0, 0.0], 5, &SearchParams::default())
        .unwrap()
        .is_empty());
    let back = view.to_index().unwrap();
    back.insert(1, &[1.0, 0.0, 0.0, 0.0]).unwrap();
    assert_eq!(
        ids(&back
            .search(&[1.0, 0.0, 0.0, 0.0], 5, &SearchParams::default())
            .unwrap()),
        vec![1]
    );
}

#[test]
fn one_point_with_k_4_returns_that_point() {
    let index = Hnsw::new(2, Metric::L2Squared, HnswParams::default()).unwrap();
    index.insert(99, &[3.0, 4.0]).unwrap();
    let hits = index
        .search(&[0.0, 0.0], 4, &SearchParams::default())
        .unwrap();
    assert_eq!(ids(&hits), vec![99]);
    assert_eq!(hits[0].distance, 25.0);
}

#[test]
fn eight_points_k_100_returns_all_eight_in_distance_order() {
    let points: [(u64, [f32; 4]); 8] = [
        (1, [1.0, 0.0, 0.0, 0.0]),
        (2, [0.0, 1.0, 0.0, 0.0]),
        (3, [0.0, 0.0, 1.0, 0.0]),
        (4, [0.0, 0.0, 0.0, 1.0]),
        (5, [1.0, 1.0, 0.0, 0.0]),
        (6, [0.0, 1.0, 1.0, 0.0]),
        (7, [0.0, 0.0, 1.0, 1.0]),
        (8, [1.0, 0.0, 0.0, 1.0]),
    ];
    let index = Hnsw::new(4, Metric::L2Squared, HnswParams::default()).unwrap();
    for (id, v) in &points {
        index.insert(*id, v).unwrap();
    }
    let hits = index
        .search(&[0.0, 0.0, 0.0, 1.0], 100, &SearchParams::default())
        .unwrap();
    // Distances: 4 → 0; 7, 8 → 1; 1, 2, 3 → 2; 5, 6 → 3. Ties by smaller id.
    assert_eq!(ids(&hits), vec![4, 7, 8, 1, 2, 3, 5, 6]);
    let d: Vec<f32> = hits.iter().map(|n| n.distance).collect();
    assert_eq!(d, vec![0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0]);
}

#[test]
fn ef_below_k_is_raised_to_k() {
    let mut rng = common::Rng::new(3);
    let data = rng.vectors(500, 8);
    let ids: Vec<u64> = (0..500).collect();
    let index = Hnsw::build(8, Metric::L2Squared, HnswParams::default(), &ids, &data).unwrap();
    let hits = index
        .search(&data[..8], 50, &SearchParams::default().with_ef(1))
        .unwrap();
    assert_eq!(hits.len(), 50);
    assert_eq!(hits[0].id, 0);
    assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));
}

#[test]
fn thousand_copies_of_one_vector_do_not_hide_a_different_one() {
    let index = Hnsw::new(3, Metric::L2Squared, HnswParams::default()).unwrap();
    for id in 0..1000 {
        index.insert(id, &[1.0, 1.0, 1.0]).unwrap();
    }
    index.insert(5000, &[-4.0, 2.0, 7.0]).unwrap();
    let hits = index
        .search(&[-4.0, 2.0, 7.0], 1, &SearchParams::default())
        .unwrap();
    assert_eq!(ids(&hits), vec![5000]);
    let hits = index
        .search(&[1.0, 1.0, 1.0], 10, &SearchParams::default())
        .unwrap();
    assert_eq!(
        ids(&hits),
        (0..10).collect::<Vec<_>>(),
        "ties go to the smaller ids"
    );
}

#[test]
fn deleted_then_reinserted_id_is_found_again() {
    let index = Hnsw::new(2, Metric::L2Squared, HnswParams::default()).unwrap();
    for id in 0..50u64 {
        index.insert(id, &[id as f32, 0.0]).unwrap();
    }
    index.delete(7).unwrap();
    assert!(!index.contains(7));
    let hits = index
        .search(&[7.0, 0.0], 3, &SearchParams::default())
        .unwrap();
    assert!(!ids(&hits).contains(&7));
    assert_eq!(index.len(), 49);
    index.insert(7, &[100.0, 0.0]).unwrap();
    assert_eq!(index.len(), 50);
    assert_eq!(
        ids(&index
            .search(&[100.0, 0.0], 1, &SearchParams::default())
            .unwrap()),
        vec![7]
    );
    assert_eq!(index.get_vector(7).unwrap(), vec![100.0, 0.0]);
}

#[test]
fn upsert_replaces_and_only_the_newest_version_is_returned() {
    let index = Hnsw::new(2, Metric::L2Squared, HnswParams::default()).unwrap();
    index.insert(1, &[0.0, 0.0]).unwrap();
    index.insert(2, &[10.0, 0.0]).unwrap();
    index.insert(1, &[20.0, 0.0]).unwrap();
    assert_eq!(index.len(), 2);
    let hits = index
        .search(&[0.0, 0.0], 10, &SearchParams::default())
        .unwrap();
    assert_eq!(ids(&hits), vec![2, 1]);
    assert_eq!(hits[1].distance, 400.0);
}

#[test]
fn deleting_the_first_inserted_point_keeps_the_other_99_findable() {
    let mut rng = common::Rng::new(5);
    let data = rng.vectors(100, 6);
    let index = Hnsw::new(6, Metric::L2Squared, HnswParams::default().with_m(4)).unwrap();
    for (i, v) in data.chunks_exact(6).enumerate() {
        index.insert(i as u64, v).unwrap();
    }
    index.delete(0).unwrap();
    let hits = index
        .search(&data[..6], 100, &SearchParams::default())
        .unwrap();
    let mut found = ids(&hits);
    found.sort_unstable();
    assert_eq!(found, (1..100).collect::<Vec<_>>());
    // And each is reached by the graph walk itself (k = 1 never falls back).
    for (i, v) in data.chunks_exact(6).enumerate().skip(1) {
        let hit = index.search(v, 1, &SearchParams::default()).unwrap();
        assert_eq!(ids(&hit), vec![i as u64]);
    }
}

#[test]
fn deleting_every_point_leaves_an_empty_result_and_reinsert_works() {
    let index = Hnsw::new(2, Metric::L2Squared, HnswParams::default()).unwrap();
    for id in 0..20u64 {
        index.insert(id, &[id as f32, 1.0]).unwrap();
    }
    for id in 0..20u64 {
        index.delete(id).unwrap();
    }
    assert!(index
        .search(&[3.0, 1.0], 5, &SearchParams::default())
        .unwrap()
        .is_empty());
    index.insert(3, &[3.0, 1.0]).unwrap();
    assert_eq!(
        ids(&index
            .search(&[0.0, 0.0], 5, &SearchParams::default())
            .unwrap()),
        vec![3]
    );
}

#[test]
fn filter_matching_3_of_10000_returns_exactly_those_3() {
    let mut rng = common::Rng::new(9);
    let data = rng.vectors(10_000, 16);
    let ids: Vec<u64> = (0..10_000).collect();
    let index = Hnsw::build(16, Metric::L2Squared, HnswParams::default(), &ids, &data).unwrap();
    let allowed: RoaringTreemap = [17u64, 4242, 9999].into_iter().collect();
    let query = &data[..16];
    let hits = index
        .search(
            query,
            10,
            &SearchParams::default().with_filter(Filter::AllowList(&allowed)),
        )
        .unwrap();
    let mut got = ids_of(&hits);
    got.sort_unstable();
    assert_eq!(got, vec![17, 4242, 9999]);
    // The same through a predicate.
    let pred = |id: u64| id == 17 || id == 4242 || id == 9999;
    let hits = index
        .search(
            query,
            10,
            &SearchParams::default().with_filter(Filter::Predicate(&pred)),
        )
        .unwrap();
    let mut got = ids_of(&hits);
    got.sort_unstable();
    assert_eq!(got, vec![17, 4242, 9999]);
}

fn ids_of(hits: &[waypoint_index::Neighbor]) -> Vec<u64> {
    ids(hits)
}

#[test]
fn filtered_search_equals_brute_force_over_the_kept_points() {
    let mut rng = common::Rng::new(13);
    let (n, dim) = (5_000, 12);
    let data = rng.embedded(n, dim, 6, 10);
    let ids: Vec<u64> = (0..n as u64).collect();
    let index = Hnsw::build(dim, Metric::L2Squared, HnswParams::default(), &ids, &data).unwrap();
    let mut flat = FlatIndex::new(dim, Metric::L2Squared).unwrap();
    for (i, v) in data.chunks_exact(dim).enumerate() {
        flat.add(i as u64, v).unwrap();
    }
    // Every third id: a broad filter that takes the graph path.
    let pred = |id: u64| id.is_multiple_of(3);
    let params = SearchParams::default()
        .with_ef(200)
        .with_filter(Filter::Predicate(&pred));
    let mut hit = 0;
    for q in data.chunks_exact(dim).step_by(97) {
        let got = index.search(q, 10, &params).unwrap();
        assert!(
            got.iter().all(|n| n.id % 3 == 0),
            "a filtered-out id was returned"
        );
        let truth = flat.search(q, 10, &params).unwrap();
        hit += got
            .iter()
            .filter(|n| truth.iter().any(|t| t.id == n.id))
            .count();
    }
    let queries = n.div_ceil(97);
    assert!(
        hit as f64 / (queries * 10) as f64 >= 0.95,
        "filtered recall {}",
        hit as f64 / (queries * 10) as f64
    );
}

#[test]
fn flat_index_add_replace_delete() {
    let mut flat = FlatIndex::new(2, Metric::L2Squared).unwrap();
    flat.add(1, &[0.0, 0.0]).unwrap();
    flat.add(2, &[1.0, 0.0]).unwrap();
    flat.add(3, &[2.0, 0.0]).unwrap();
    flat.add(1, &[5.0, 0.0]).unwrap();
    flat.delete(2).unwrap();
    assert!(matches!(flat.delete(2), Err(Error::UnknownId(2))));
    let hits = flat
        .search(&[0.0, 0.0], 10, &SearchParams::default())
        .unwrap();
    assert_eq!(ids(&hits), vec![3, 1]);
    assert_eq!(hits[1].distance, 25.0);
}

#[test]
fn single_threaded_builds_with_one_seed_are_identical_files() {
    let mut rng = common::Rng::new(21);
    let data = rng.vectors(2_000, 8);
    let ids: Vec<u64> = (0..2_000).collect();
    let dir = tempfile::tempdir().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let build = |name: &str, seed: u64| {
        let path = dir.path().join(name);
        pool.install(|| {
            let params = HnswParams::default().with_seed(seed);
            Hnsw::build(8, Metric::L2Squared, params, &ids, &data)
                .unwrap()
                .save(&path)
                .unwrap();
        });
        std::fs::read(path).unwrap()
    };
    let a = build("a.wpi", 1);
    assert_eq!(a, build("b.wpi", 1));
    assert_ne!(
        a,
        build("c.wpi", 2),
        "a different seed should give a different graph"
    );
}

#[test]
fn deleting_any_single_point_including_the_entry_keeps_the_rest_findable() {
    // Every point in turn, so the entry point is certainly among them.
    let mut rng = common::Rng::new(17);
    let data = rng.vectors(60, 4);
    let index = Hnsw::new(4, Metric::L2Squared, HnswParams::default().with_m(4)).unwrap();
    for (i, v) in data.chunks_exact(4).enumerate() {
        index.insert(i as u64, v).unwrap();
    }
    // k = 1 by each point's own vector: the graph walk itself must reach
    // it (a short result would otherwise fall back to an exact scan), and
    // with ef above the point count the walk sees everything reachable.
    let params = SearchParams::default().with_ef(64);
    for gone in 0..60u64 {
        index.delete(gone).unwrap();
        for (i, v) in data
            .chunks_exact(4)
            .enumerate()
            .filter(|&(i, _)| i as u64 != gone)
        {
            let hit = index.search(v, 1, &params).unwrap();
            assert_eq!(ids(&hit), vec![i as u64], "after deleting {gone}");
        }
        let v = &data[gone as usize * 4..gone as usize * 4 + 4];
        index.insert(gone, v).unwrap();
    }
}
