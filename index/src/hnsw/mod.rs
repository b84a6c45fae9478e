//! [`Hnsw`]: the mutable, concurrent HNSW index (Malkov & Yashunin, 2018).
//!
//! Inserts and searches take `&self` and may run from many threads at once.
//! Deletes are tombstones: a deleted node keeps routing searches but is never
//! returned. Inserting an id that exists replaces it: the old node becomes a
//! tombstone and a new node is linked, so the graph only ever grows (save and
//! rebuild to reclaim space).

mod insert;
pub(crate) mod store;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;
use roaring::RoaringBitmap;

use crate::error::{Error, Result};
use crate::graph::{self, GraphRead, SearchState};
use crate::metric::Metric;
use crate::params::{check_dim, HnswParams};
use crate::search::{Neighbor, SearchParams};
use store::NodeStore;

/// At most this many node slots (`u32` internal ids; `u32::MAX` is reserved).
pub const MAX_NODES: usize = u32::MAX as usize - 1;

/// Levels above this are clamped (reached with probability ~`M^-64`).
const MAX_LEVEL: usize = 64;

/// `entry` value of an empty graph.
const NO_ENTRY: u64 = u64::MAX;

/// Which nodes are live: the external-id map and the tombstones, under one
/// lock so that a replace is seen atomically.
#[derive(Default)]
pub(crate) struct Liveness {
    pub ids: HashMap<u64, u32>,
    pub tombstones: RoaringBitmap,
}

/// A mutable HNSW index over `dim`-dimensional f32 vectors.
///
/// ```
/// use waypoint_index::{Hnsw, HnswParams, Metric, SearchParams};
/// let index = Hnsw::new(3, Metric::Cosine, HnswParams::default()).unwrap();
/// index.insert(10, &[1.0, 0.0, 0.0]).unwrap();
/// index.insert(11, &[0.0, 1.0, 0.0]).unwrap();
/// let hits = index.search(&[0.9, 0.1, 0.0], 1, &SearchParams::default()).unwrap();
/// assert_eq!(hits[0].id, 10);
/// ```
pub struct Hnsw {
    dim: usize,
    metric: Metric,
    params: HnswParams,
    store: RwLock<NodeStore>,
    /// `(level << 32) | node` of the entry point, or [`NO_ENTRY`].
    entry: AtomicU64,
    /// Held for the whole insert of a node that raises the top level.
    raise: Mutex<()>,
    live: RwLock<Liveness>,
    rng: Mutex<LevelRng>,
}

impl std::fmt::Debug for Hnsw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hnsw")
            .field("dim", &self.dim)
            .field("metric", &self.metric)
            .field("params", &self.params)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Hnsw {
    /// An empty index.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `dim` outside `1..=MAX_DIM` or
    /// parameters outside the ranges of [`HnswParams`].
    pub fn new(dim: usize, metric: Metric, params: HnswParams) -> Result<Self> {
        Self::with_capacity(dim, metric, params, 0)
    }

    /// An empty index with room for `capacity` nodes before it must grow.
    ///
    /// # Errors
    /// As [`Hnsw::new`].
    pub fn with_capacity(
        dim: usize,
        metric: Metric,
        params: HnswParams,
        capacity: usize,
    ) -> Result<Self> {
        check_dim(dim)?;
        params.validate()?;
        Ok(Hnsw {
            dim,
            metric,
            params,
            store: RwLock::new(NodeStore::new(
                dim,
                metric,
                params.m,
                capacity.min(MAX_NODES),
            )?),
            entry: AtomicU64::new(NO_ENTRY),
            raise: Mutex::new(()),
            live: RwLock::new(Liveness::default()),
            rng: Mutex::new(LevelRng(params.seed)),
        })
    }

    /// Builds an index from `vectors` (row-major, `ids.len() · dim` floats),
    /// inserting in parallel on the current rayon pool.
    ///
    /// # Errors
    /// As [`Hnsw::new`] and [`Hnsw::insert_many`].
    pub fn build(
        dim: usize,
        metric: Metric,
        params: HnswParams,
        ids: &[u64],
        vectors: &[f32],
    ) -> Result<Self> {
        let index = Self::with_capacity(dim, metric, params, ids.len())?;
        index.insert_many(ids, vectors)?;
        Ok(index)
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Build parameters.
    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Number of live points.
    pub fn len(&self) -> usize {
        self.live.read().ids.len()
    }

    /// Whether there are no live points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of graph nodes, including deleted and replaced ones.
    pub fn node_count(&self) -> usize {
        self.store.read().claimed()
    }

    /// Number of tombstoned nodes (deleted or replaced).
    pub fn deleted_count(&self) -> usize {
        self.live.read().tombstones.len() as usize
    }

    /// Whether `id` is live.
    pub fn contains(&self, id: u64) -> bool {
        self.live.read().ids.contains_key(&id)
    }

    /// The stored vector of `id` (unit length under cosine), if live.
    pub fn get_vector(&self, id: u64) -> Option<Vec<f32>> {
        let store = self.store.read();
        let node = *self.live.read().ids.get(&id)?;
        Some(store.vector(node).to_vec())
    }

    /// The live external ids, in no particular order.
    pub fn ids(&self) -> Vec<u64> {
        self.live.read().ids.keys().copied().collect()
    }

    /// Inserts point `id`, or replaces its vector if `id` is live.
    ///
    /// # Errors
    /// The vector errors of [`Metric::prepare`] ([`Error::DimensionMismatch`],
    /// [`Error::NonFinite`], [`Error::NormOverflow`], [`Error::ZeroVector`]),
    /// and [`Error::CapacityExceeded`]. On error the index is unchanged.
    pub fn insert(&self, id: u64, vector: &[f32]) -> Result<()> {
        let prepared = self.metric.prepare(vector, self.dim)?;
        let level = self.rng.lock().draw(self.params.ml());
        self.insert_prepared(id, &prepared, level)
    }

    /// Inserts many points in parallel (rayon). `vectors` is row-major with
    /// `ids.len() · dim` floats. Every vector is checked before anything is
    /// inserted, so an error leaves the index unchanged. If an id appears
    /// more than once, its last occurrence wins. With one rayon thread the
    /// result is the same as inserting one by one in order.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] if `vectors.len() != ids.len() · dim`
    /// (`got` is the row length implied), the vector errors of
    /// [`Metric::prepare`] (for the first bad row), [`Error::CapacityExceeded`].
    pub fn insert_many(&self, ids: &[u64], vectors: &[f32]) -> Result<()> {
        self.insert_many_with_progress(ids, vectors, |_| {})
    }

    /// As [`Hnsw::insert_many`], calling `progress(n)` after every `n`
    /// further points are linked (in steps of up to 1,024).
    ///
    /// # Errors
    /// As [`Hnsw::insert_many`].
    pub fn insert_many_with_progress(
        &self,
        ids: &[u64],
        vectors: &[f32],
        progress: impl Fn(usize) + Sync,
    ) -> Result<()> {
        if vectors.len() != ids.len() * self.dim {
            return Err(Error::DimensionMismatch {
                expected: self.dim,
                got: if ids.is_empty() {
                    vectors.len()
                } else {
                    vectors.len() / ids.len()
                },
            });
        }
        // Check every row before inserting any (all or nothing), reporting
        // the first bad one; rows are normalised one at a time on insert,
        // so the batch is never copied whole.
        let dim = self.dim;
        let first_bad = vectors
            .par_chunks(dim)
            .position_first(|row| self.metric.validate(row, dim).is_err());
        if let Some(row) = first_bad {
            let vector = &vectors[row * dim..(row + 1) * dim];
            if let Err(e) = self.metric.validate(vector, dim) {
                return Err(Error::Row {
                    row,
                    source: Box::new(e),
                });
            }
        }
        if self.node_count() + ids.len() > MAX_NODES {
            return Err(Error::CapacityExceeded { max: MAX_NODES });
        }
        // Last occurrence wins: keep only the final row of each id.
        let mut last = HashMap::with_capacity(ids.len());
        for (row, &id) in ids.iter().enumerate() {
            last.insert(id, row);
        }
        let rows: Vec<usize> = (0..ids.len()).filter(|&r| last[&ids[r]] == r).collect();
        let levels: Vec<usize> = {
            let mut rng = self.rng.lock();
            rows.iter().map(|_| rng.draw(self.params.ml())).collect()
        };
        self.reserve(rows.len())?;
        let insert_row = |i: usize| {
            let row = rows[i];
            let mut v = Vec::with_capacity(dim);
            self.metric
                .prepare_into(&vectors[row * dim..(row + 1) * dim], dim, &mut v)?;
            self.insert_prepared(ids[row], &v, levels[i])
        };
        const STEP: usize = 1024;
        if rayon::current_num_threads() == 1 {
            for chunk in (0..rows.len()).collect::<Vec<_>>().chunks(STEP) {
                chunk.iter().try_for_each(|&i| insert_row(i))?;
                progress(chunk.len());
            }
            return Ok(());
        }
        (0..rows.len().div_ceil(STEP))
            .into_par_iter()
            .try_for_each(|c| {
                let range = c * STEP..((c + 1) * STEP).min(rows.len());
                let n = range.len();
                range.into_par_iter().try_for_each(insert_row)?;
                progress(n);
                Ok(())
            })
    }

    /// Makes room for `additional` more nodes without further growth.
    ///
    /// # Errors
    /// [`Error::Allocation`] if that much memory cannot be had.
    pub fn reserve(&self, additional: usize) -> Result<()> {
        let mut store = self.store.write();
        let need = store.claimed().saturating_add(additional).min(MAX_NODES);
        if need > store.capacity() {
            *store = store.grown(need)?;
        }
        Ok(())
    }

    /// Deletes point `id` (a tombstone: it stops appearing in results at
    /// once, and its id may be inserted again).
    ///
    /// # Errors
    /// [`Error::UnknownId`] if `id` is not live.
    pub fn delete(&self, id: u64) -> Result<()> {
        let mut live = self.live.write();
        let node = live.ids.remove(&id).ok_or(Error::UnknownId(id))?;
        live.tombstones.insert(node);
        Ok(())
    }

    /// The `k` nearest live points to `query`, closest first (ties: smaller
    /// id first). Returns `min(k, matching live points)` hits; see
    /// [`SearchParams`] for `ef`, exact search and filters.
    ///
    /// # Errors
    /// [`Error::ZeroK`] if `k == 0`; [`Error::InvalidParameter`] if
    /// `params.ef == Some(0)`; the vector errors of [`Metric::prepare`] for
    /// the query (under cosine a zero query is [`Error::ZeroVector`]).
    pub fn search(&self, query: &[f32], k: usize, params: &SearchParams) -> Result<Vec<Neighbor>> {
        check_search_args(k, params)?;
        let query = self.metric.prepare_query(query, self.dim)?;
        let store = self.store.read();
        let live = self.live.read();
        let state = SearchState {
            entry: self.entry(),
            tombstones: &live.tombstones,
            live: live.ids.len(),
            m0: self.params.m0(),
            default_ef: self.params.ef_search,
        };
        Ok(graph::knn(&*store, &state, &query, k, params, |id| {
            live.ids.get(&id).copied()
        }))
    }

    /// [`Hnsw::search`] for many queries in parallel (rayon), in query order.
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

    /// Saves the index to `path` in the v1 file format (see [`crate::format`]):
    /// written to a temporary file beside it, fsynced, then renamed over
    /// `path`. Concurrent inserts wait until the save is done.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path that failed.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let store = self.store.write();
        let live = self.live.read();
        crate::format::write::save(path.as_ref(), self, &store, &live)
    }

    pub(crate) fn entry(&self) -> Option<(u32, usize)> {
        unpack_entry(self.entry.load(Ordering::Acquire))
    }

    pub(crate) fn set_entry(&self, node: u32, level: usize) {
        self.entry
            .store(((level as u64) << 32) | u64::from(node), Ordering::Release);
    }

    /// Reassembles an index from parts (used when loading a file).
    pub(crate) fn from_parts(
        dim: usize,
        metric: Metric,
        params: HnswParams,
        store: NodeStore,
        entry: Option<(u32, usize)>,
        live: Liveness,
        rng_state: u64,
    ) -> Self {
        let index = Hnsw {
            dim,
            metric,
            params,
            store: RwLock::new(store),
            entry: AtomicU64::new(NO_ENTRY),
            raise: Mutex::new(()),
            live: RwLock::new(live),
            rng: Mutex::new(LevelRng(rng_state)),
        };
        if let Some((node, level)) = entry {
            index.set_entry(node, level);
        }
        index
    }

    pub(crate) fn rng_state(&self) -> u64 {
        self.rng.lock().0
    }
}

/// Checks the arguments every search takes.
pub(crate) fn check_search_args(k: usize, params: &SearchParams) -> Result<()> {
    if k == 0 {
        return Err(Error::ZeroK);
    }
    if params.ef == Some(0) {
        return Err(Error::invalid(
            "ef",
            "got 0, expected at least 1 (it is raised to k)",
        ));
    }
    Ok(())
}

fn unpack_entry(word: u64) -> Option<(u32, usize)> {
    (word != NO_ENTRY).then_some((word as u32, (word >> 32) as usize))
}

/// SplitMix64 (Steele et al., 2014): the layer-assignment random source.
/// Tiny and stable across versions, so a seed always gives the same levels.
struct LevelRng(u64);

impl LevelRng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `⌊−ln(U) · mL⌋` with `U` uniform in `(0, 1]` (the paper's level rule).
    fn draw(&mut self, ml: f64) -> usize {
        let u = ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        ((-u.ln() * ml) as usize).min(MAX_LEVEL)
    }
}
