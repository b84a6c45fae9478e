//! Distance kernels: simsimd (runtime-dispatched SIMD) against the scalar
//! f64 reference, per metric, at the dimensions of common embedding models.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use waypoint_datasets::synthetic::uniform_values;
use waypoint_index::{scalar, Metric};

const DIMS: [usize; 5] = [96, 128, 384, 768, 1536];

fn kernels(c: &mut Criterion) {
    for metric in [Metric::L2Squared, Metric::Cosine, Metric::InnerProduct] {
        let mut group = c.benchmark_group(format!("distance/{metric}"));
        for dim in DIMS {
            let a = metric.prepare(&uniform_values(dim, 1), dim).unwrap();
            let b = metric.prepare(&uniform_values(dim, 2), dim).unwrap();
            group.throughput(Throughput::Elements(dim as u64));
            group.bench_with_input(BenchmarkId::new("simsimd", dim), &dim, |bench, _| {
                bench.iter(|| metric.distance(black_box(&a), black_box(&b)))
            });
            group.bench_with_input(BenchmarkId::new("scalar", dim), &dim, |bench, _| {
                bench.iter(|| scalar::distance(metric, black_box(&a), black_box(&b)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
