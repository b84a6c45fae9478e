//! HNSW search through gRPC on the shared wordnet set (55,000 × 384,
//! cosine), imported over loopback into several sealed segments: recall@10
//! ≥ 0.95 against the set's ground truth. Prints the import rate and the
//! search QPS / p50 / p99 (one query at a time, and batched) next to the
//! embedded engine's QPS at the same `ef`.
//!
//! Reads `WAYPOINT_SHARED_DATA`: unset → skipped; set with files missing →
//! fails.

mod grpc_support;

use std::path::PathBuf;
use std::time::Instant;

use grpc_support::{create, Server};
use waypoint_datasets::{read, read_f32};
use waypoint_index::{Hnsw, HnswParams, Metric, SearchParams};
use waypoint_proto::v1 as pb;

const K: usize = 10;
const EF: u32 = 64;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wordnet_recall_at_10_through_grpc_across_sealed_segments() {
    let Some(shared) = std::env::var_os("WAYPOINT_SHARED_DATA") else {
        waypoint_datasets::skip::notice(
            "WAYPOINT_SHARED_DATA is not set (the shared datasets directory)",
        );
        return;
    };
    let shared = PathBuf::from(shared);
    let base =
        read_f32(shared.join("wordnet-minilm-384-angular_base.fvecs")).expect("wordnet base");
    let queries =
        read_f32(shared.join("wordnet-minilm-384-angular_query.fvecs")).expect("wordnet queries");
    let gt = read::<i32>(shared.join("wordnet-minilm-384-angular_groundtruth.ivecs"))
        .expect("wordnet ground truth");
    let dim = base.dim();

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    collections
        .create(create("wordnet", dim as u32, pb::Metric::Cosine, 20_000))
        .await
        .unwrap();
    let start = Instant::now();
    let batches: Vec<pb::UpsertRequest> = (0..base.rows())
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(|rows| pb::UpsertRequest {
            collection: "wordnet".into(),
            points: rows
                .iter()
                .map(|&r| pb::Point {
                    id: r as u64,
                    vector: base.row(r).to_vec(),
                    payload: None,
                })
                .collect(),
        })
        .collect();
    let done = pts
        .upsert_stream(tokio_stream::iter(batches))
        .await
        .unwrap()
        .into_inner();
    let import_s = start.elapsed().as_secs_f64();
    assert_eq!(done.points, base.rows() as u64);
    let stats = collections
        .get(pb::GetCollectionRequest {
            name: "wordnet".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap()
        .stats
        .unwrap();
    assert!(stats.segments >= 3, "several sealed segments: {stats:?}");

    let request = |q: usize| pb::SearchRequest {
        collection: "wordnet".into(),
        vector: queries.row(q).to_vec(),
        k: K as u32,
        ef: EF,
        ..Default::default()
    };
    let mut hits_found = 0usize;
    let mut latencies = Vec::with_capacity(queries.rows());
    let start = Instant::now();
    for q in 0..queries.rows() {
        let t = Instant::now();
        let hits = pts.search(request(q)).await.unwrap().into_inner().hits;
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        let truth: Vec<u64> = gt.row(q)[..K].iter().map(|&i| i as u64).collect();
        hits_found += hits.iter().filter(|h| truth.contains(&h.id)).count();
    }
    let single_qps = queries.rows() as f64 / start.elapsed().as_secs_f64();
    let recall = hits_found as f64 / (queries.rows() * K) as f64;
    latencies.sort_by(f64::total_cmp);

    let start = Instant::now();
    for chunk in (0..queries.rows()).collect::<Vec<_>>().chunks(100) {
        let searches = chunk.iter().map(|&q| request(q)).collect();
        pts.search_batch(pb::SearchBatchRequest {
            collection: "wordnet".into(),
            searches,
        })
        .await
        .unwrap();
    }
    let batch_qps = queries.rows() as f64 / start.elapsed().as_secs_f64();
    assert!(server.stop());

    let ids: Vec<u64> = (0..base.rows() as u64).collect();
    let engine = Hnsw::build(
        dim,
        Metric::Cosine,
        HnswParams::default(),
        &ids,
        base.as_slice(),
    )
    .unwrap();
    let start = Instant::now();
    for q in 0..queries.rows() {
        engine
            .search(
                queries.row(q),
                K,
                &SearchParams::default().with_ef(EF as usize),
            )
            .unwrap();
    }
    let embedded_qps = queries.rows() as f64 / start.elapsed().as_secs_f64();

    println!(
        "wordnet 55k x 384 cosine, M=16 ef_construction=200, segment_max_points=20000 ({} segments), ef={EF}, k={K}, loopback:\n  \
         import: {:.0} points/s (UpsertStream, batches of 1000, WAL fsync always)\n  \
         gRPC search one at a time: recall@10 {recall:.4}, {single_qps:.0} QPS, p50 {:.2} ms, p99 {:.2} ms\n  \
         gRPC SearchBatch (100 per call): {batch_qps:.0} QPS\n  \
         embedded single index, one thread one at a time: {embedded_qps:.0} QPS",
        stats.segments,
        base.rows() as f64 / import_s,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    );
    assert!(recall >= 0.95, "recall@10 = {recall}");
}
