//! `waypoint load`: build an HNSW index file from a vector file, with a
//! progress bar, and print a summary. [`build`] is shared with `quickstart`.

use std::io::{IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::ThreadPool;
use waypoint_datasets::{read_f32, Matrix};
use waypoint_index::{Hnsw, HnswParams, Metric};

use super::files::{ensure_writable, read_ids};
use super::{parse_metric, thread_pool, CliError};

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// Vectors to index: .fvecs, .bvecs or .npy (float32 or uint8), one row
    /// per point.
    vectors: PathBuf,
    /// Distance: l2 (squared Euclidean), cosine (1 − cos) or ip (1 − dot).
    #[arg(long, value_parser = parse_metric)]
    metric: Metric,
    /// Index file to write (replaced atomically if it exists).
    #[arg(short, long)]
    output: PathBuf,
    /// External ids, one per row: an n × 1 int32 .ivecs or .npy of distinct,
    /// non-negative ids. Default: 0..n in file order.
    #[arg(long)]
    ids: Option<PathBuf>,
    /// Links per node on layers ≥ 1 (layer 0 keeps M0 = 2·M).
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// Candidate list size while inserting.
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// Build threads [default: all cores].
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// Seed of the layer-assignment generator (a 1-thread build is
    /// deterministic given the seed).
    #[arg(long)]
    seed: Option<u64>,
}

pub(crate) fn run(args: LoadArgs, out: &mut impl Write) -> Result<(), CliError> {
    let mut params = HnswParams::default()
        .with_m(args.m)
        .with_ef_construction(args.ef_construction);
    if let Some(seed) = args.seed {
        params = params.with_seed(seed);
    }
    params.validate()?;
    ensure_writable(&args.output, &[&args.vectors])?;
    let pool = thread_pool(args.threads.map(NonZeroUsize::get))?;

    let vectors = read_f32(&args.vectors)?;
    let ids = match &args.ids {
        Some(path) => read_ids(path, &args.vectors, vectors.rows())?,
        None => (0..vectors.rows() as u64).collect(),
    };
    let index = Hnsw::with_capacity(vectors.dim(), args.metric, params, vectors.rows()).map_err(
        |source| CliError::Vectors {
            path: args.vectors.clone(),
            source,
        },
    )?;
    let build_time = build(&index, &args.vectors, &vectors, &ids, &pool)?;

    let saving = Instant::now();
    index.save(&args.output)?;
    let save_time = saving.elapsed();
    let size = std::fs::metadata(&args.output)
        .map_err(|source| CliError::Stat {
            path: args.output.clone(),
            source,
        })?
        .len();

    let points = index.len();
    writeln!(out, "points           {points}")?;
    writeln!(out, "dim              {}", index.dim())?;
    writeln!(out, "metric           {}", index.metric())?;
    writeln!(out, "M                {}", params.m)?;
    writeln!(out, "ef_construction  {}", params.ef_construction)?;
    writeln!(out, "threads          {}", pool.current_num_threads())?;
    writeln!(
        out,
        "build seconds    {:.2} ({:.0} points/s)",
        build_time.as_secs_f64(),
        points as f64 / build_time.as_secs_f64()
    )?;
    writeln!(out, "save seconds     {:.2}", save_time.as_secs_f64())?;
    writeln!(out, "file             {}", args.output.display())?;
    writeln!(
        out,
        "file size        {size} bytes ({:.1} MiB)",
        size as f64 / (1 << 20) as f64
    )?;
    Ok(())
}

/// Inserts every row of `vectors` under `ids` into `index` on `pool`, with a
/// progress bar on stderr when it is a terminal. Returns the build time.
///
/// # Errors
/// [`CliError::BadRow`] naming `path` and the first row the metric
/// rejects (the engine checks every row before inserting any); the
/// engine's other insert errors.
pub(crate) fn build(
    index: &Hnsw,
    path: &Path,
    vectors: &Matrix<f32>,
    ids: &[u64],
    pool: &ThreadPool,
) -> Result<Duration, CliError> {
    let bar = progress_bar(ids.len() as u64);
    let start = Instant::now();
    pool.install(|| {
        index.insert_many_with_progress(ids, vectors.as_slice(), |n| bar.inc(n as u64))
    })
    .map_err(|e| match e {
        waypoint_index::Error::Row { row, source } => CliError::BadRow {
            path: path.into(),
            record: row,
            source: *source,
        },
        other => other.into(),
    })?;
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    Ok(elapsed)
}

/// A points bar with rate and ETA on stderr; hidden when stderr is not a
/// terminal, so logs and pipes stay clean.
pub(crate) fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{bar:40} {human_pos}/{human_len} points  {per_sec:0}  ETA {eta}",
    )
    .expect("the template is valid");
    ProgressBar::new(total).with_style(style)
}
