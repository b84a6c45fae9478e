//! Concurrent inserts and searches: no panics, sorted unique results, and
//! afterwards every inserted point is reachable through the graph.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use waypoint_index::{Hnsw, HnswParams, Metric, SearchParams};

#[test]
fn four_writers_and_four_readers_then_every_point_is_found() {
    const WRITERS: u64 = 4;
    const PER_WRITER: u64 = 2_500;
    const DIM: usize = 16;
    let index = Hnsw::new(
        DIM,
        Metric::L2Squared,
        HnswParams::default().with_m(8).with_ef_construction(100),
    )
    .unwrap();
    let mut rng = common::Rng::new(77);
    let data = rng.vectors((WRITERS * PER_WRITER) as usize, DIM);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (index, data) = (&index, &data);
                s.spawn(move || {
                    for i in 0..PER_WRITER {
                        let id = w * PER_WRITER + i;
                        let row = id as usize * DIM;
                        index.insert(id, &data[row..row + DIM]).unwrap();
                    }
                })
            })
            .collect();
        for r in 0..4u64 {
            let (index, data, done) = (&index, &data, &done);
            s.spawn(move || {
                let mut rng = common::Rng::new(100 + r);
                let mut searches = 0;
                while !done.load(Ordering::Relaxed) || searches < 100 {
                    let q = rng.vectors(1, DIM);
                    let hits = index
                        .search(&q, 10, &SearchParams::default().with_ef(32))
                        .unwrap();
                    assert!(
                        hits.windows(2).all(|w| w[0].distance <= w[1].distance),
                        "unsorted results"
                    );
                    let mut ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    assert_eq!(ids.len(), hits.len(), "duplicate ids in results");
                    assert!(ids.iter().all(|&id| id < WRITERS * PER_WRITER));
                    let _ = data;
                    searches += 1;
                }
            });
        }
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    assert_eq!(index.len(), (WRITERS * PER_WRITER) as usize);
    let missing: Vec<u64> = (0..WRITERS * PER_WRITER)
        .filter(|&id| {
            let row = id as usize * DIM;
            // A wide beam: the property is reachability, not recall at a small ef.
            let hits = index
                .search(
                    &data[row..row + DIM],
                    1,
                    &SearchParams::default().with_ef(500),
                )
                .unwrap();
            hits[0].id != id
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{} points not found by their own vector: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

#[test]
fn concurrent_deletes_and_searches_never_return_a_deleted_id() {
    const DIM: usize = 8;
    let mut rng = common::Rng::new(5);
    let data = rng.vectors(4_000, DIM);
    let ids: Vec<u64> = (0..4_000).collect();
    let index = Hnsw::build(
        DIM,
        Metric::L2Squared,
        HnswParams::default().with_m(8),
        &ids,
        &data,
    )
    .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            for id in (0..4_000u64).filter(|id| id % 2 == 0) {
                index.delete(id).unwrap();
            }
        });
        s.spawn(|| {
            for q in data.chunks_exact(DIM).take(500) {
                let hits = index.search(q, 10, &SearchParams::default()).unwrap();
                assert_eq!(hits.len(), 10);
            }
        });
    });
    for q in data.chunks_exact(DIM).take(300) {
        let hits = index.search(q, 10, &SearchParams::default()).unwrap();
        assert_eq!(hits.len(), 10);
        assert!(
            hits.iter().all(|h| h.id % 2 == 1),
            "a deleted id was returned"
        );
    }
}
