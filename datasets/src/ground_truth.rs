//! Exact ground truth: the true `k` nearest base rows of every query, by
//! brute force with the engine's [`FlatIndex`] (SIMD kernels, parallel over
//! queries with rayon). Knows nothing of files.

use waypoint_index::{FlatIndex, Metric, SearchParams};

use crate::error::GroundTruthError;
use crate::matrix::Matrix;

/// The ids (base row indices) of the `k` nearest base vectors of each
/// query under `metric`, nearest first, ties broken by the smaller id.
///
/// Returns a `queries.rows() × k` matrix of `i32`, the layout of a
/// ground-truth `.ivecs`. Distances are the engine's (see
/// [`waypoint_index::Metric`]); under [`Metric::Cosine`] vectors are
/// normalised first, so the ranking is by cosine similarity. Runs on the
/// current rayon pool; `O(queries · base · dim)` time and one copy of the
/// base in memory.
///
/// ```
/// use waypoint_datasets::{ground_truth, Matrix};
/// use waypoint_index::Metric;
/// let base = Matrix::new(2, vec![0.0f32, 0.0, 3.0, 0.0, 1.0, 0.0]).unwrap();
/// let queries = Matrix::new(2, vec![2.5f32, 0.0]).unwrap();
/// let gt = ground_truth(&base, &queries, 2, Metric::L2Squared).unwrap();
/// assert_eq!(gt.row(0), &[1, 2]);
/// ```
///
/// # Errors
/// [`GroundTruthError::ZeroK`], [`GroundTruthError::KTooLarge`] (`k` above
/// the number of base rows), [`GroundTruthError::DimensionMismatch`],
/// [`GroundTruthError::TooManyBase`] (more than 2³¹ rows), and
/// [`GroundTruthError::Base`] / [`GroundTruthError::Query`] naming the first
/// row the metric rejects (a non-finite component, a zero vector under
/// cosine).
pub fn ground_truth(
    base: &Matrix<f32>,
    queries: &Matrix<f32>,
    k: usize,
    metric: Metric,
) -> Result<Matrix<i32>, GroundTruthError> {
    let dim = base.dim();
    if queries.dim() != dim {
        return Err(GroundTruthError::DimensionMismatch {
            base: dim,
            query: queries.dim(),
        });
    }
    if k == 0 {
        return Err(GroundTruthError::ZeroK);
    }
    if k > base.rows() {
        return Err(GroundTruthError::KTooLarge {
            k,
            rows: base.rows(),
        });
    }
    if base.rows() > 1 << 31 {
        return Err(GroundTruthError::TooManyBase { rows: base.rows() });
    }
    let mut flat = FlatIndex::new(dim, metric)?;
    for (record, row) in base.iter().enumerate() {
        flat.add(record as u64, row)
            .map_err(|source| GroundTruthError::Base { record, source })?;
    }
    for (record, query) in queries.iter().enumerate() {
        metric
            .prepare(query, dim)
            .map_err(|source| GroundTruthError::Query { record, source })?;
    }
    let queries: Vec<&[f32]> = queries.iter().collect();
    let hits = flat.search_batch(&queries, k, &SearchParams::default())?;
    // Ids are row indices below 2^31, so they fit i32.
    let ids = hits
        .iter()
        .flat_map(|row| row.iter().map(|hit| hit.id as i32))
        .collect();
    Ok(Matrix::new(k, ids).expect("an exact search returns k hits per query when k <= base rows"))
}
