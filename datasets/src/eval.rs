//! Measuring a search against ground truth: recall@k, QPS and per-query
//! latency percentiles, over a list of `ef` values. Shared by
//! `waypoint search`, the quickstart and the benchmark sweep, so every
//! number Waypoint prints is measured the same way.

use std::time::{Duration, Instant};

use rayon::prelude::*;
use rayon::ThreadPool;
use waypoint_index::Neighbor;

use crate::Matrix;

/// The measurements at one `ef`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepRow {
    /// The `ef` searched with.
    pub ef: usize,
    /// recall@k in [0, 1], when ground truth was given.
    pub recall: Option<f64>,
    /// Queries per second over the whole query set (wall clock).
    pub qps: f64,
    /// Median latency of one query, in microseconds.
    pub p50_us: f64,
    /// 95th-percentile latency, in microseconds.
    pub p95_us: f64,
    /// 99th-percentile latency, in microseconds.
    pub p99_us: f64,
}

/// Runs every query at each `ef` through `search(query, k, ef)` and measures
/// it. One untimed pass at the largest `ef` runs first (it warms caches and
/// the pages of a freshly mapped file). With `pool == None` the queries run
/// one at a time on this thread (ann-benchmarks' "single" mode); otherwise
/// in parallel on the pool, and QPS is the pool's aggregate.
///
/// `gt` holds a row of ids per query, nearest first, at least `k` wide.
///
/// # Errors
/// The first error `search` returns.
pub fn sweep<S, E>(
    search: S,
    queries: &Matrix<f32>,
    gt: Option<&Matrix<i32>>,
    k: usize,
    efs: &[usize],
    pool: Option<&ThreadPool>,
) -> Result<Vec<SweepRow>, E>
where
    S: Fn(&[f32], usize, usize) -> Result<Vec<Neighbor>, E> + Sync,
    E: Send,
{
    let queries: Vec<&[f32]> = queries.iter().collect();
    if let Some(&max_ef) = efs.iter().max() {
        run_queries(&search, &queries, k, max_ef, pool)?;
    }
    let mut rows = Vec::with_capacity(efs.len());
    for &ef in efs {
        let start = Instant::now();
        let (results, mut latencies) = run_queries(&search, &queries, k, ef, pool)?;
        let wall = start.elapsed();
        latencies.sort_unstable();
        rows.push(SweepRow {
            ef,
            recall: gt.map(|gt| recall_at_k(&results, gt, k)),
            qps: queries.len() as f64 / wall.as_secs_f64(),
            p50_us: percentile_us(&latencies, 50.0),
            p95_us: percentile_us(&latencies, 95.0),
            p99_us: percentile_us(&latencies, 99.0),
        });
    }
    Ok(rows)
}

/// Searches every query; returns the hits and each query's latency.
fn run_queries<S, E>(
    search: &S,
    queries: &[&[f32]],
    k: usize,
    ef: usize,
    pool: Option<&ThreadPool>,
) -> Result<(Vec<Vec<Neighbor>>, Vec<Duration>), E>
where
    S: Fn(&[f32], usize, usize) -> Result<Vec<Neighbor>, E> + Sync,
    E: Send,
{
    let timed = |query: &&[f32]| {
        let start = Instant::now();
        search(query, k, ef).map(|hits| (hits, start.elapsed()))
    };
    let timings: Vec<(Vec<Neighbor>, Duration)> = match pool {
        None => queries.iter().map(timed).collect::<Result<_, _>>()?,
        Some(pool) => pool.install(|| queries.par_iter().map(timed).collect::<Result<_, _>>())?,
    };
    Ok(timings.into_iter().unzip())
}

/// recall@k: |returned ∩ first k ground-truth ids| / k, averaged over
/// queries (`results[i]` against row `i` of `gt`).
pub fn recall_at_k(results: &[Vec<Neighbor>], gt: &Matrix<i32>, k: usize) -> f64 {
    if results.is_empty() {
        return 0.0;
    }
    let found: usize = results
        .iter()
        .zip(gt.iter())
        .map(|(hits, truth)| {
            let truth = &truth[..k.min(truth.len())];
            hits.iter()
                .take(k)
                .filter(|hit| truth.iter().any(|&id| u64::try_from(id) == Ok(hit.id)))
                .count()
        })
        .sum();
    found as f64 / (k * results.len()) as f64
}

/// The `p`-th percentile (nearest rank) of sorted latencies, in µs; 0 for
/// no samples.
pub fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e6
}
