//! One k-NN search (k = 10) on a built index at several `ef`: 20,000 points
//! of 128-d synthetic data, the in-memory index and its mmap view.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use waypoint_datasets::synthetic::uniform;
use waypoint_index::{Hnsw, HnswParams, HnswView, Metric, SearchParams};

fn search(c: &mut Criterion) {
    let (n, dim) = (20_000, 128);
    let base = uniform(n, dim, 7);
    let queries = uniform(100, dim, 8);
    let ids: Vec<u64> = (0..n as u64).collect();
    let index = Hnsw::build(
        dim,
        Metric::L2Squared,
        HnswParams::default(),
        &ids,
        base.as_slice(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.wpi");
    index.save(&path).unwrap();
    let view = HnswView::open(&path).unwrap();
    let mut group = c.benchmark_group("search/uniform-20k-128d");
    for ef in [16, 64, 256] {
        let params = SearchParams::default().with_ef(ef);
        let mut next = queries.iter().cycle();
        group.bench_with_input(BenchmarkId::new("hnsw", ef), &ef, |b, _| {
            b.iter(|| {
                index
                    .search(black_box(next.next().unwrap()), 10, &params)
                    .unwrap()
            })
        });
        let mut next = queries.iter().cycle();
        group.bench_with_input(BenchmarkId::new("view", ef), &ef, |b, _| {
            b.iter(|| {
                view.search(black_box(next.next().unwrap()), 10, &params)
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
