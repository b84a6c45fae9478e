//! Save → mmap view gives identical answers; view → mutable → more inserts
//! → save → reopen keeps everything.

mod common;

use waypoint_index::{Filter, Hnsw, HnswParams, HnswView, Metric, RoaringTreemap, SearchParams};

fn build(metric: Metric, n: usize, dim: usize, seed: u64) -> (Hnsw, Vec<f32>) {
    let mut rng = common::Rng::new(seed);
    let data = rng.embedded(n, dim, 6, 8);
    let ids: Vec<u64> = (0..n as u64).map(|i| i * 10 + 3).collect();
    let index = Hnsw::build(dim, metric, HnswParams::default().with_m(8), &ids, &data).unwrap();
    (index, data)
}

#[test]
fn view_answers_exactly_like_the_index_it_was_saved_from() {
    for metric in [Metric::L2Squared, Metric::Cosine, Metric::InnerProduct] {
        let (index, data) = build(metric, 3_000, 16, 1);
        for id in [3u64, 503, 29_993] {
            index.delete(id).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.wpi");
        index.save(&path).unwrap();
        let view = HnswView::open(&path).unwrap();
        assert_eq!(view.len(), index.len());
        assert_eq!(view.deleted_count(), 3);
        let allowed: RoaringTreemap = (0..3_000u64)
            .map(|i| i * 10 + 3)
            .filter(|i| i % 7 == 0)
            .collect();
        let mut rng = common::Rng::new(2);
        let queries = rng.embedded(50, 16, 6, 8);
        for q in queries
            .chunks_exact(16)
            .chain(data.chunks_exact(16).take(20))
        {
            for params in [
                SearchParams::default().with_ef(40),
                SearchParams::default().with_exact(true),
                SearchParams::default().with_filter(Filter::AllowList(&allowed)),
            ] {
                let a = index.search(q, 10, &params).unwrap();
                let b = view.search(q, 10, &params).unwrap();
                assert_eq!(a, b, "{metric}: view and index disagree");
            }
        }
    }
}

#[test]
fn view_to_mutable_takes_inserts_and_deletes_and_saves_again() {
    let (index, data) = build(Metric::L2Squared, 2_000, 8, 3);
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.wpi");
    index.save(&first).unwrap();
    let view = HnswView::open(&first).unwrap();
    let mutable = view.to_index().unwrap();
    let mut rng = common::Rng::new(4);
    let extra = rng.vectors(500, 8);
    let extra_ids: Vec<u64> = (0..500u64).map(|i| 1_000_000 + i).collect();
    mutable.insert_many(&extra_ids, &extra).unwrap();
    mutable.delete(13).unwrap();
    assert_eq!(mutable.len(), 2_000 + 500 - 1);
    let second = dir.path().join("second.wpi");
    mutable.save(&second).unwrap();
    let reopened = HnswView::open(&second).unwrap();
    assert_eq!(reopened.len(), 2_499);
    assert!(!reopened.contains(13));
    // Every original and added point is found by its own vector.
    for (i, v) in extra.chunks_exact(8).enumerate() {
        let hit = reopened.search(v, 1, &SearchParams::default()).unwrap();
        assert_eq!(hit[0].id, extra_ids[i]);
    }
    for (i, v) in data.chunks_exact(8).enumerate().skip(2) {
        let hit = reopened.search(v, 1, &SearchParams::default()).unwrap();
        assert_eq!(hit[0].id, i as u64 * 10 + 3);
    }
    // The first file is untouched by the second save.
    assert_eq!(HnswView::open(&first).unwrap().len(), 2_000);
}

#[test]
fn saving_over_an_open_view_leaves_the_view_valid() {
    let (index, data) = build(Metric::Cosine, 1_000, 8, 5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.wpi");
    index.save(&path).unwrap();
    let view = HnswView::open(&path).unwrap();
    let before = view
        .search(&data[..8], 5, &SearchParams::default())
        .unwrap();
    index.insert(42_424_242, &data[8..16]).unwrap();
    index.save(&path).unwrap();
    assert_eq!(
        view.search(&data[..8], 5, &SearchParams::default())
            .unwrap(),
        before
    );
    assert_eq!(HnswView::open(&path).unwrap().len(), 1_001);
}

#[test]
fn save_to_an_unwritable_path_is_an_io_error_naming_it() {
    let index = Hnsw::new(2, Metric::L2Squared, HnswParams::default()).unwrap();
    let err = index.save("/nonexistent-dir/x.wpi").unwrap_err();
    assert!(err.to_string().contains("/nonexistent-dir/x.wpi"), "{err}");
}
