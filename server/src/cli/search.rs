//! `waypoint search`: run a query file against an index file (searched in
//! place through its mmap view) for each `ef`, and report recall@k against
//! ground truth, QPS and latency percentiles. [`sweep`] is shared with
//! `quickstart`.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::Args;
use waypoint_datasets::eval::{self, SweepRow};
use waypoint_datasets::Matrix;
use waypoint_index::{HnswView, SearchParams};

use super::files::{read_ground_truth, read_queries};
use super::report::{self, OutputFormat};
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
    // The engine raises ef to k; report the ef that actually ran.
    let efs: Vec<usize> = args.ef.iter().map(|ef| ef.get().max(k)).collect();
    let raised = args.ef.iter().any(|ef| ef.get() < k);
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
        if raised {
            writeln!(out, "note     ef below k = {k} was raised to {k}")?;
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

/// Measures `view` on `queries` at each `ef` (see [`eval::sweep`]): one
/// query at a time with `threads == 1`, else on a pool of `threads`.
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
    let search = |q: &[f32], k, ef| view.search(q, k, &SearchParams::default().with_ef(ef));
    Ok(eval::sweep(search, queries, gt, k, efs, pool.as_ref())?)
}
