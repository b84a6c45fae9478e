//! The files a command names: loading query, id and ground-truth files and
//! checking them against each other and the metric, and checking that an
//! output path can be written. Everything here runs before any long
//! computation, so a bad input fails fast with its file (and row) named.

use std::collections::hash_map::{Entry, HashMap};
use std::fs::OpenOptions;
use std::path::Path;

use rayon::prelude::*;
use waypoint_datasets::{read, read_f32, Matrix};
use waypoint_index::Metric;

use super::CliError;

/// Checks that the metric accepts every row of `vectors` (read from `path`):
/// finite components, and no zero vector under cosine. Parallel on the
/// current rayon pool; reports the first bad row.
///
/// # Errors
/// [`CliError::BadRow`] naming the file and the row.
pub(crate) fn check_rows(
    path: &Path,
    metric: Metric,
    vectors: &Matrix<f32>,
) -> Result<(), CliError> {
    let dim = vectors.dim();
    let bad = vectors
        .as_slice()
        .par_chunks(dim)
        .position_first(|row| metric.check(row, dim).is_err());
    let Some(record) = bad else {
        return Ok(());
    };
    metric
        .check(vectors.row(record), dim)
        .err()
        .map_or(Ok(()), |source| {
            Err(CliError::BadRow {
                path: path.into(),
                record,
                source,
            })
        })
}

/// Loads query vectors that must match an index (or base file) `reference`
/// of dimension `dim`, and checks their rows for `metric`.
///
/// # Errors
/// The file errors of [`read_f32`], [`CliError::DimensionMismatch`],
/// [`CliError::BadRow`].
pub(crate) fn read_queries(
    path: &Path,
    reference: &Path,
    dim: usize,
    metric: Metric,
) -> Result<Matrix<f32>, CliError> {
    let queries = read_f32(path)?;
    check_same_dim(path, queries.dim(), reference, dim)?;
    check_rows(path, metric, &queries)?;
    Ok(queries)
}

/// Checks that `path`'s vectors have the dimension of `reference`'s.
///
/// # Errors
/// [`CliError::DimensionMismatch`].
pub(crate) fn check_same_dim(
    path: &Path,
    got: usize,
    reference: &Path,
    expected: usize,
) -> Result<(), CliError> {
    if got != expected {
        return Err(CliError::DimensionMismatch {
            path: path.into(),
            got,
            reference: reference.into(),
            expected,
        });
    }
    Ok(())
}

/// Loads ground truth for the `queries` rows of `queries_path` and checks
/// that it has a row per query and at least `k` ids per row.
///
/// # Errors
/// The file errors of [`read`], [`CliError::GroundTruthRows`],
/// [`CliError::KAboveGroundTruth`].
pub(crate) fn read_ground_truth(
    path: &Path,
    queries_path: &Path,
    queries: usize,
    k: usize,
) -> Result<Matrix<i32>, CliError> {
    let gt = read::<i32>(path)?;
    if gt.rows() != queries {
        return Err(CliError::GroundTruthRows {
            path: path.into(),
            rows: gt.rows(),
            queries_path: queries_path.into(),
            queries,
        });
    }
    if k > gt.dim() {
        return Err(CliError::KAboveGroundTruth {
            path: path.into(),
            k,
            width: gt.dim(),
        });
    }
    Ok(gt)
}

/// Loads external ids for the `rows` vectors of `vectors`: an `n × 1`
/// int32 file of distinct, non-negative ids.
///
/// # Errors
/// The file errors of [`read`], [`CliError::IdsShape`],
/// [`CliError::IdsCount`], [`CliError::NegativeId`],
/// [`CliError::DuplicateId`].
pub(crate) fn read_ids(path: &Path, vectors: &Path, rows: usize) -> Result<Vec<u64>, CliError> {
    let ids = read::<i32>(path)?;
    if ids.dim() != 1 {
        return Err(CliError::IdsShape {
            path: path.into(),
            dim: ids.dim(),
        });
    }
    if ids.rows() != rows {
        return Err(CliError::IdsCount {
            path: path.into(),
            ids: ids.rows(),
            rows,
            vectors: vectors.into(),
        });
    }
    let mut first_seen = HashMap::with_capacity(rows);
    let mut out = Vec::with_capacity(rows);
    for (record, &id) in ids.as_slice().iter().enumerate() {
        let Ok(unsigned) = u64::try_from(id) else {
            return Err(CliError::NegativeId {
                path: path.into(),
                record,
                id,
            });
        };
        match first_seen.entry(id) {
            Entry::Occupied(first) => {
                return Err(CliError::DuplicateId {
                    path: path.into(),
                    record,
                    first: *first.get(),
                    id,
                })
            }
            Entry::Vacant(slot) => slot.insert(record),
        };
        out.push(unsigned);
    }
    Ok(out)
}

/// Checks, before any work, that a file can be written at `path`: it is not
/// one of the command's `inputs`, not a directory or other special file, its
/// directory exists and accepts a new file, and an existing file there can
/// be opened for writing.
///
/// # Errors
/// [`CliError::Unwritable`] with the reason.
pub(crate) fn ensure_writable(path: &Path, inputs: &[&Path]) -> Result<(), CliError> {
    let unwritable = |reason: String| CliError::Unwritable {
        path: path.into(),
        reason,
    };
    if let Ok(out) = path.canonicalize() {
        if let Some(input) = inputs
            .iter()
            .find(|i| i.canonicalize().is_ok_and(|i| i == out))
        {
            return Err(unwritable(format!(
                "it is the input {}; writing there would destroy it",
                input.display()
            )));
        }
    }
    if path.is_dir() {
        return Err(unwritable("it is a directory".into()));
    }
    if path.exists() && !path.is_file() {
        return Err(unwritable("it is not a regular file".into()));
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(unwritable(format!(
            "directory {} does not exist",
            dir.display()
        )));
    }
    if path.exists() {
        OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| unwritable(e.to_string()))?;
    }
    let probe = dir.join(format!(".waypoint-write-probe-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| unwritable(e.to_string()))?;
    std::fs::remove_file(&probe).map_err(|e| unwritable(e.to_string()))
}
