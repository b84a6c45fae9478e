//! [`FlatIndex`]: exact (brute-force) search with the same API as the HNSW
//! index. For ground truth, tiny collections, and checking the graph.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::exact;
use crate::metric::Metric;
use crate::params::check_dim;
use crate::search::{Neighbor, SearchParams};

/// An in-memory list of points searched by SIMD brute force.
///
/// Vectors are `dim` f32 components; under [`Metric::Cosine`] they are stored
/// normalised. Adding an id that already exists replaces its vector.
///
/// ```
/// use waypoint_index::{FlatIndex, Metric, SearchParams};
/// let mut flat = FlatIndex::new(2, Metric::L2Squared).unwrap();
/// flat.add(7, &[0.0, 1.0]).unwrap();
/// flat.add(9, &[5.0, 5.0]).unwrap();
/// let hits = flat.search(&[0.0, 0.0], 1, &SearchParams::default()).unwrap();
/// assert_eq!(hits[0].id, 7);
/// assert_eq!(hits[0].distance, 1.0);
/// ```
#[derive(Debug, Clone)]
pub struct FlatIndex {
    dim: usize,
    metric: Metric,
    vectors: Vec<f32>,
    ids: Vec<u64>,
    positions: HashMap<u64, u32>,
}

impl FlatIndex {
    /// An empty index of `dim`-dimensional vectors.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `dim` is 0 or above [`crate::MAX_DIM`].
    pub fn new(dim: usize, metric: Metric) -> Result<Self> {
        check_dim(dim)?;
        Ok(FlatIndex {
            dim,
            metric,
            vectors: Vec::new(),
            ids: Vec::new(),
            positions: HashMap::new(),
        })
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index holds no points.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds point `id`, replacing its vector if `id` already exists.
    ///
    /// # Errors
    /// The vector errors of [`Metric::prepare`]; [`Error::CapacityExceeded`]
    /// past `u32::MAX` points. On error nothing changes.
    pub fn add(&mut self, id: u64, vector: &[f32]) -> Result<()> {
        let stored = self.metric.prepare(vector, self.dim)?;
        if let Some(&pos) = self.positions.get(&id) {
            let start = pos as usize * self.dim;
            self.vectors[start..start + self.dim].copy_from_slice(&stored);
            return Ok(());
        }
        let pos = u32::try_from(self.ids.len())
            .ok()
            .filter(|&p| p < u32::MAX)
            .ok_or(Error::CapacityExceeded {
                max: u32::MAX as usize,
            })?;
        self.vectors.extend_from_slice(&stored);
        self.ids.push(id);
        self.positions.insert(id, pos);
        Ok(())
    }

    /// Removes point `id`.
    ///
    /// # Errors
    /// [`Error::UnknownId`] if `id` is not in the index.
    pub fn delete(&mut self, id: u64) -> Result<()> {
        let pos = self.positions.remove(&id).ok_or(Error::UnknownId(id))? as usize;
        let last = self.ids.len() - 1;
        if pos != last {
            let moved = self.ids[last];
            self.ids[pos] = moved;
            self.positions.insert(moved, pos as u32);
            self.vectors
                .copy_within(last * self.dim..(last + 1) * self.dim, pos * self.dim);
        }
        self.ids.pop();
        self.vectors.truncate(last * self.dim);
        Ok(())
    }

    /// The stored vector of `id` (normalised under cosine), if present.
    pub fn get(&self, id: u64) -> Option<&[f32]> {
        self.positions.get(&id).map(|&p| self.row(p))
    }

    fn row(&self, pos: u32) -> &[f32] {
        let start = pos as usize * self.dim;
        &self.vectors[start..start + self.dim]
    }

    /// The exact `k` nearest points to `query`, closest first (ties: smaller
    /// id first, also for which of several points tied at the `k`-th
    /// distance make the cut, so the answer for `k` is a prefix of the
    /// answer for any larger `k`). `params.ef` and `params.exact` are ignored;
    /// `params.filter` restricts the results. Returns
    /// `min(k, matching points)` hits.
    ///
    /// # Errors
    /// [`Error::ZeroK`] if `k == 0`; the vector errors of [`Metric::prepare`]
    /// for the query.
    pub fn search(&self, query: &[f32], k: usize, params: &SearchParams) -> Result<Vec<Neighbor>> {
        if k == 0 {
            return Err(Error::ZeroK);
        }
        let query = self.metric.prepare_query(query, self.dim)?;
        let row = |p| self.row(p);
        let id = |p: u32| self.ids[p as usize];
        let (n, m) = (self.len(), self.metric);
        Ok(match params.filter {
            None => exact::top_k(true, n, row, id, &query, m, k, |_| true),
            Some(f) => exact::top_k(true, n, row, id, &query, m, k, |p| f.allows(id(p))),
        })
    }

    /// [`FlatIndex::search`] for many queries, in parallel with rayon.
    /// Results are in query order.
    ///
    /// # Errors
    /// The first error of any query.
    pub fn search_batch<Q>(
        &self,
        queries: &[Q],
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Vec<Neighbor>>>
    where
        Q: AsRef<[f32]> + Sync,
    {
        crate::search::in_parallel(queries, |q| self.search(q, k, params))
    }
}
