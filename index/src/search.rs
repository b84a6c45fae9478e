//! What a search asks for and what it returns: [`Neighbor`], [`SearchParams`]
//! and [`Filter`].

use std::cmp::Ordering;

use rayon::prelude::*;
use roaring::RoaringTreemap;

use crate::error::Result;

/// One search hit: an external id and its distance to the query
/// (smaller is closer; see [`crate::Metric`] for what the number means).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    /// The point's external id.
    pub id: u64,
    /// Distance to the query under the index metric.
    pub distance: f32,
}

impl Neighbor {
    /// The order of every result list: by distance, then by smaller id
    /// (distances compared with [`f32::total_cmp`]). Every search path ranks
    /// and cuts to `k` in this order, so the top `k` is a prefix of the top
    /// `k + j` over the same candidates.
    ///
    /// ```
    /// use waypoint_index::Neighbor;
    /// let mut hits = vec![Neighbor { id: 10, distance: 1.0 }, Neighbor { id: 5, distance: 1.0 }];
    /// hits.sort_by(Neighbor::cmp_rank);
    /// assert_eq!(hits[0].id, 5);
    /// ```
    #[inline]
    pub fn cmp_rank(&self, other: &Neighbor) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.id.cmp(&other.id))
    }
}

/// Restricts which points a search may return. Applied during graph
/// traversal: points outside the filter still route the search but are never
/// admitted to the results.
#[derive(Clone, Copy)]
pub enum Filter<'a> {
    /// Only these external ids may be returned.
    AllowList(&'a RoaringTreemap),
    /// Only ids for which the predicate returns `true` may be returned. It is
    /// called from several threads during batch search, and may be called
    /// more than once per id.
    Predicate(&'a (dyn Fn(u64) -> bool + Sync)),
}

impl Filter<'_> {
    /// Whether the filter admits external id `id`.
    #[inline]
    pub fn allows(&self, id: u64) -> bool {
        match self {
            Filter::AllowList(set) => set.contains(id),
            Filter::Predicate(pred) => pred(id),
        }
    }
}

impl std::fmt::Debug for Filter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Filter::AllowList(set) => write!(f, "AllowList({} ids)", set.len()),
            Filter::Predicate(_) => f.write_str("Predicate(..)"),
        }
    }
}

/// Per-call search options.
///
/// ```
/// use waypoint_index::SearchParams;
/// let p = SearchParams::default().with_ef(128);
/// assert_eq!(p.ef, Some(128));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchParams<'a> {
    /// Size of the dynamic candidate list on layer 0 (`ef` in the paper).
    /// `None` uses the index default; always raised to at least `k`.
    pub ef: Option<usize>,
    /// Brute-force over every live point instead of walking the graph:
    /// exact results, `O(n · dim)` per query.
    pub exact: bool,
    /// Restrict the results; see [`Filter`].
    pub filter: Option<Filter<'a>>,
}

impl<'a> SearchParams<'a> {
    /// Sets `ef`.
    pub fn with_ef(mut self, ef: usize) -> Self {
        self.ef = Some(ef);
        self
    }

    /// Sets exact (brute-force) search.
    pub fn with_exact(mut self, exact: bool) -> Self {
        self.exact = exact;
        self
    }

    /// Sets a filter.
    pub fn with_filter(mut self, filter: Filter<'a>) -> Self {
        self.filter = Some(filter);
        self
    }
}

/// Runs `search` on every query in parallel (rayon), results in query order;
/// the first error wins. The `search_batch` of every index.
pub(crate) fn in_parallel<Q, S>(queries: &[Q], search: S) -> Result<Vec<Vec<Neighbor>>>
where
    Q: AsRef<[f32]> + Sync,
    S: Fn(&[f32]) -> Result<Vec<Neighbor>> + Sync,
{
    queries.par_iter().map(|q| search(q.as_ref())).collect()
}
