//! Ties at the k boundary: every search path ranks by (distance, external
//! id), so the answer for k is a prefix of the answer for any larger k.
//! Points sit on a small integer grid, so most distances tie.

use proptest::prelude::*;
use waypoint_index::{
    Filter, FlatIndex, Hnsw, HnswParams, HnswView, Metric, Neighbor, RoaringTreemap, SearchParams,
};

const DIM: usize = 2;
/// At least every k the tests ask for: graph searches for different k run
/// the same walk.
const EF: usize = 64;

/// The reported case: ids 10, 5, 7 inserted in that order.
#[test]
fn k_1_answer_is_the_first_of_k_3_for_two_points_at_the_same_distance() {
    let idx = Hnsw::new(2, Metric::L2Squared, HnswParams::default()).unwrap();
    idx.insert(10, &[1.0, 0.0]).unwrap();
    idx.insert(5, &[-1.0, 0.0]).unwrap();
    idx.insert(7, &[0.0, 5.0]).unwrap();
    for exact in [false, true] {
        let p = SearchParams::default().with_exact(exact);
        let one = idx.search(&[0.0, 0.0], 1, &p).unwrap();
        let three = idx.search(&[0.0, 0.0], 3, &p).unwrap();
        assert_eq!(ids(&one), [5], "exact = {exact}");
        assert_eq!(ids(&three), [5, 10, 7], "exact = {exact}");
    }
}

fn ids(hits: &[Neighbor]) -> Vec<u64> {
    hits.iter().map(|n| n.id).collect()
}

/// The exact answer, by the engine's own distance: live points sorted by
/// (distance, id), cut to k.
fn reference(
    metric: Metric,
    points: &[(u64, [f32; DIM])],
    query: &[f32],
    k: usize,
    keep: impl Fn(u64) -> bool,
) -> Vec<Neighbor> {
    let q = metric.prepare(query, DIM).unwrap();
    let mut all: Vec<Neighbor> = points
        .iter()
        .filter(|(id, _)| keep(*id))
        .map(|(id, v)| Neighbor {
            id: *id,
            distance: metric.distance(&q, &metric.prepare(v, DIM).unwrap()),
        })
        .collect();
    all.sort_by(Neighbor::cmp_rank);
    all.truncate(k);
    all
}

fn assert_ranked(hits: &[Neighbor], what: &str) {
    assert!(
        hits.windows(2).all(|w| w[0].cmp_rank(&w[1]).is_lt()),
        "{what}: not in (distance, id) order: {hits:?}"
    );
}

/// Grid points (many exact duplicates) under distinct ids in shuffled order,
/// some deleted and some re-inserted, and a grid query.
#[derive(Debug, Clone)]
struct Case {
    metric: Metric,
    /// Live points after the edits below, id → vector.
    live: Vec<(u64, [f32; DIM])>,
    /// Insertion order (id, vector), with re-inserts of earlier ids.
    inserts: Vec<(u64, [f32; DIM])>,
    deletes: Vec<u64>,
    query: [f32; DIM],
}

fn grid() -> impl Strategy<Value = [f32; DIM]> {
    [-2i8..=2, -2i8..=2].prop_map(|v| v.map(f32::from))
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(Metric::L2Squared), Just(Metric::Cosine)],
        prop::collection::vec(grid(), 1..40),
        prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        any::<u64>(),
        grid(),
    )
        .prop_map(|(metric, vectors, deletes, reinserts, salt, query)| {
            let fix = |v: [f32; DIM]| if v == [0.0; DIM] { [1.0, 2.0] } else { v };
            // Distinct ids, not in insertion order.
            let id = |i: usize| (i as u64).wrapping_mul(0x9E37_79B9).wrapping_add(salt) % 1_000_003;
            let mut inserts: Vec<(u64, [f32; DIM])> = vectors
                .iter()
                .enumerate()
                .map(|(i, &v)| (id(i), fix(v)))
                .collect();
            inserts.sort_by_key(|p| p.0);
            inserts.dedup_by_key(|p| p.0);
            let base = inserts.clone();
            for r in &reinserts {
                let (rid, v) = base[r.index(base.len())];
                inserts.push((rid, [v[1], v[0]]));
            }
            let mut deletes: Vec<u64> = deletes
                .iter()
                .map(|d| base[d.index(base.len())].0)
                .collect();
            deletes.sort_unstable();
            deletes.dedup();
            let mut live: std::collections::BTreeMap<u64, [f32; DIM]> = Default::default();
            for &(i, v) in &inserts {
                live.insert(i, v);
            }
            for d in &deletes {
                live.remove(d);
            }
            Case {
                metric,
                live: live.into_iter().collect(),
                inserts,
                deletes,
                query: fix(query),
            }
        })
}

fn build(case: &Case) -> Hnsw {
    let idx = Hnsw::new(DIM, case.metric, HnswParams::default()).unwrap();
    for (id, v) in &case.inserts {
        idx.insert(*id, v).unwrap();
    }
    for id in &case.deletes {
        idx.delete(*id).unwrap();
    }
    idx
}

/// The k-prefix rule for one search function, over every k up to n + 1;
/// exact paths must also equal the reference.
fn check_prefixes(
    what: &str,
    n: usize,
    search: impl Fn(usize) -> Vec<Neighbor>,
    exact_answer: Option<&dyn Fn(usize) -> Vec<Neighbor>>,
) {
    let largest = search(n + 1);
    assert_ranked(&largest, what);
    for k in 1..=n + 1 {
        let hits = search(k);
        assert_eq!(
            hits[..],
            largest[..k.min(largest.len())],
            "{what}: top-{k} is not a prefix of top-{}",
            n + 1
        );
        if let Some(answer) = exact_answer {
            assert_eq!(
                hits,
                answer(k),
                "{what}: top-{k} differs from the reference"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_search_path_ranks_by_distance_then_id_and_top_k_is_a_prefix(case in case()) {
        let idx = build(&case);
        let n = case.live.len();
        let q = &case.query[..];
        let reference = |k: usize| reference(case.metric, &case.live, q, k, |_| true);
        let graph = SearchParams::default().with_ef(EF);
        let exact = SearchParams::default().with_exact(true);

        check_prefixes("hnsw graph", n, |k| idx.search(q, k, &graph).unwrap(), None);
        check_prefixes("hnsw exact", n, |k| idx.search(q, k, &exact).unwrap(), Some(&reference));
        check_prefixes(
            "hnsw batch",
            n,
            |k| {
                let batch = idx.search_batch(&[q, q], k, &exact).unwrap();
                assert_eq!(batch[0], batch[1]);
                batch[0].clone()
            },
            Some(&reference),
        );

        // Filters: every other live id, as an allow-list and as a predicate.
        let kept: RoaringTreemap = case.live.iter().map(|p| p.0).step_by(2).collect();
        let kept_ref = |k: usize| self::reference(case.metric, &case.live, q, k, |id| kept.contains(id));
        let pred = |id: u64| kept.contains(id);
        for (what, filter) in [
            ("allow-list", Filter::AllowList(&kept)),
            ("predicate", Filter::Predicate(&pred)),
        ] {
            let g = graph.with_filter(filter);
            let e = exact.with_filter(filter);
            check_prefixes(&format!("hnsw graph {what}"), n, |k| idx.search(q, k, &g).unwrap(), None);
            check_prefixes(&format!("hnsw exact {what}"), n, |k| idx.search(q, k, &e).unwrap(), Some(&kept_ref));
        }

        // The saved file, searched in place: the same answers.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ties.wpi");
        idx.save(&path).unwrap();
        let view = HnswView::open(&path).unwrap();
        check_prefixes("view graph", n, |k| view.search(q, k, &graph).unwrap(), None);
        check_prefixes("view exact", n, |k| view.search(q, k, &exact).unwrap(), Some(&reference));
        for k in 1..=n + 1 {
            prop_assert_eq!(view.search(q, k, &graph).unwrap(), idx.search(q, k, &graph).unwrap());
        }

        // Brute force, with deletes (which move positions) applied.
        let mut flat = FlatIndex::new(DIM, case.metric).unwrap();
        for (id, v) in &case.inserts {
            flat.add(*id, v).unwrap();
        }
        for id in &case.deletes {
            flat.delete(*id).unwrap();
        }
        let p = SearchParams::default();
        check_prefixes("flat", n, |k| flat.search(q, k, &p).unwrap(), Some(&reference));
        let fp = p.with_filter(Filter::AllowList(&kept));
        check_prefixes("flat filtered", n, |k| flat.search(q, k, &fp).unwrap(), Some(&kept_ref));
    }
}
