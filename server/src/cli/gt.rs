//! `waypoint gt`: exact ground truth for a query file by brute force over a
//! base file, written as `.ivecs` (or int32 `.npy`).

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use waypoint_datasets::{ground_truth, read_f32, write, Format, GroundTruthError, Matrix};
use waypoint_index::Metric;

use super::files::{check_same_dim, ensure_writable, read_ids};
use super::{parse_metric, CliError};

#[derive(Debug, Args)]
pub(crate) struct GtArgs {
    /// Base vectors: .fvecs, .bvecs or .npy (float32 or uint8). Ids are row
    /// numbers 0..n unless --ids is given.
    base: PathBuf,
    /// Query vectors, same formats and dimension.
    queries: PathBuf,
    /// Neighbours per query (the width of the output).
    #[arg(long, default_value = "100")]
    k: NonZeroUsize,
    /// Distance: l2, cosine or ip.
    #[arg(long, value_parser = parse_metric)]
    metric: Metric,
    /// Output: .ivecs or .npy, one row of k ids per query, nearest first,
    /// ties to the smaller id.
    #[arg(short, long)]
    output: PathBuf,
    /// The ids the base rows were loaded with (`waypoint load --ids`), so
    /// that the ground truth names the same ids as the index; same format
    /// as for load. Ties still go to the earlier row.
    #[arg(long)]
    ids: Option<PathBuf>,
}

pub(crate) fn run(args: GtArgs, out: &mut impl Write) -> Result<(), CliError> {
    if !matches!(
        Format::from_path(&args.output)?,
        Format::Ivecs | Format::Npy
    ) {
        return Err(CliError::GroundTruthFormat { path: args.output });
    }
    ensure_writable(&args.output, &[&args.base, &args.queries])?;
    let base = read_f32(&args.base)?;
    let ids = args
        .ids
        .as_deref()
        .map(|path| read_ids(path, &args.base, base.rows()))
        .transpose()?;
    let queries = read_f32(&args.queries)?;
    check_same_dim(&args.queries, queries.dim(), &args.base, base.dim())?;
    let start = Instant::now();
    let mut gt = ground_truth(&base, &queries, args.k.get(), args.metric)
        .map_err(|e| attribute(e, &args.base, &args.queries))?;
    if let Some(ids) = &ids {
        // `read_ids` accepts only int32 ids, so every id fits back.
        let (width, rows) = (gt.dim(), gt.into_vec());
        let named = rows
            .into_iter()
            .map(|row| ids[row as usize] as i32)
            .collect();
        gt = Matrix::new(width, named)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    write(&args.output, &gt)?;
    writeln!(
        out,
        "wrote {}: {} queries × k {} ({}, {} base vectors of dim {}) in {seconds:.2} s",
        args.output.display(),
        gt.rows(),
        gt.dim(),
        args.metric,
        base.rows(),
        base.dim()
    )?;
    Ok(())
}

/// Names the file a ground-truth error is about.
fn attribute(e: GroundTruthError, base: &Path, queries: &Path) -> CliError {
    match e {
        GroundTruthError::Base { record, source } => CliError::BadRow {
            path: base.into(),
            record,
            source,
        },
        GroundTruthError::Query { record, source } => CliError::BadRow {
            path: queries.into(),
            record,
            source,
        },
        GroundTruthError::KTooLarge { k, rows } => CliError::KAboveBase {
            path: base.into(),
            k,
            rows,
        },
        other => CliError::GroundTruth {
            path: base.into(),
            source: other,
        },
    }
}
