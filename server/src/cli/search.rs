//! `waypoint search`: run a query file against an index file (searched in
//! place through its mmap view) for each `ef`, and report recall@k against
//! ground truth, QPS and latency percentiles. [`sweep`] is shared with
//! `quickstart`.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use rayon::prelude::*;
use rayon::ThreadPool;
use waypoint_datasets::Matrix;
use waypoint_index::{HnswView, Neighbor, SearchParams};

use super::files::{read_ground_truth, read_queries};
use super::report::{self, OutputFormat, SweepRow};
use super::{thread_pool, CliError};

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Index file written by `waypoint load`.
    index: PathBuf,
    /// Query vectors: .fvecs, .bvecs or .npy (float32 or uint8).
    queries: PathBuf,
    /// Neighbours per query.
    #[arg(long, default_value = "10")]
    k: NonZeroUsize,
    /// Comma-separated list of ef values (candidate list size on layer 0;
    /// raised to k if smaller).
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128")]
    ef: Vec<NonZeroUsize>,
    /// Ground truth (.ivecs or int32 .npy, a row of ids per query, nearest
    /// first) for recall@k.
    #[arg(long)]
    gt: Option<PathBuf>,
    /// Search threads. 1 times queries one at a time in a loop
    /// (ann-benchmarks' "single" mode); more runs them in parallel in a pool
    /// of that size and reports overall QPS.
    #[arg(long, default_value = "1")]
    threads: NonZeroUsize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub(crate) fn run(args: SearchArgs, out: &mut impl Write) -> Result<(), CliError> {
    let view = HnswView::open(&args.index)?;
    let k = args.k.get();
    let queries = read_queries(&args.queries, &args.index, view.dim(), view.metric())?;
    let gt = args
        .gt
        .as_deref()
        .map(|path| read_ground_truth(path, &args.queries, queries.rows(), k))
        .transpose()?;
    let efs: Vec<usize> = args.ef.iter().map(|ef| ef.get()).collect();
    let threads = args.threads.get();
    if args.format == OutputFormat::Table {
        let params = view.params();
        writeln!(
            out,
            "index    {}: {} points, dim {}, {}, M {}, ef_construction {}",
            args.index.display(),
            view.len(),
            view.dim(),
            view.metric(),
            params.m,
            params.ef_construction
        )?;
        writeln!(
            out,
            "queries  {}: {} queries, k {k}, {}",
            args.queries.display(),
            queries.rows(),
            threads_label(threads)
        )?;
        if let Some(path) = &args.gt {
            writeln!(out, "ground truth  {}", path.display())?;
        }
        out.flush()?;
    }
    let rows = sweep(&view, &queries, gt.as_ref(), k, &efs, threads)?;
    out.write_all(report::render(args.format, k, threads, &rows).as_bytes())?;
    Ok(())
}

/// How the queries were run, for humans.
pub(crate) fn threads_label(threads: usize) -> String {
    match threads {
        1 => "1 thread, one query at a time".into(),
        n => format!("{n} threads in parallel"),
    }
}

/// Runs every query at each `ef` and measures it. One untimed pass at the
/// largest `ef` runs first, so that page faults of the freshly mapped file
/// are not charged to the first row. With `threads == 1` the queries run one
/// at a time on this thread; otherwise in parallel on a pool of `threads`.
///
/// # Errors
/// [`CliError::ThreadPool`]; the engine's search errors (queries are
/// checked beforehand).
pub(crate) fn sweep(
    view: &HnswView,
    queries: &Matrix<f32>,
    gt: Option<&Matrix<i32>>,
    k: usize,
    efs: &[usize],
    threads: usize,
) -> Result<Vec<SweepRow>, CliError> {
    let pool = if threads > 1 {
        Some(thread_pool(Some(threads))?)
    } else {
        None
    };
    let queries: Vec<&[f32]> = queries.iter().collect();
    if let Some(&max_ef) = efs.iter().max() {
        run_queries(view, &queries, k, max_ef, pool.as_ref())?;
    }
    let mut rows = Vec::with_capacity(efs.len());
    for &ef in efs {
        let start = Instant::now();
        let (results, mut latencies) = run_queries(view, &queries, k, ef, pool.as_ref())?;
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
fn run_queries(
    view: &HnswView,
    queries: &[&[f32]],
    k: usize,
    ef: usize,
    pool: Option<&ThreadPool>,
) -> Result<(Vec<Vec<Neighbor>>, Vec<Duration>), CliError> {
    let params = SearchParams::default().with_ef(ef);
    let timed = |query: &&[f32]| {
        let start = Instant::now();
        view.search(query, k, &params)
            .map(|hits| (hits, start.elapsed()))
    };
    let timings: Vec<(Vec<Neighbor>, Duration)> = match pool {
        None => queries.iter().map(timed).collect::<Result<_, _>>()?,
        Some(pool) => pool.install(|| queries.par_iter().map(timed).collect::<Result<_, _>>())?,
    };
    Ok(timings.into_iter().unzip())
}

/// recall@k: |returned ∩ first k ground-truth ids| / k, averaged over
/// queries.
fn recall_at_k(results: &[Vec<Neighbor>], gt: &Matrix<i32>, k: usize) -> f64 {
    let found: usize = results
        .iter()
        .zip(gt.iter())
        .map(|(hits, truth)| {
            let truth = &truth[..k];
            hits.iter()
                .filter(|hit| truth.iter().any(|&id| u64::try_from(id) == Ok(hit.id)))
                .count()
        })
        .sum();
    found as f64 / (k * results.len()) as f64
}

/// The `p`-th percentile (nearest rank) of sorted latencies, in µs.
fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e6
}
