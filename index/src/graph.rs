//! The HNSW search algorithms, written once over [`GraphRead`] so that the
//! mutable in-memory index and the read-only mmap view run the same code.
//!
//! Follows Malkov & Yashunin (2018): greedy descent through the upper layers
//! (Algorithm 5 with `ef = 1`), then an `ef`-bounded beam search on layer 0
//! (Algorithm 2). Filters and tombstones are applied while traversing: a node
//! that fails them still routes the search but never enters the results.

use std::cmp::Reverse;

use roaring::RoaringBitmap;

use crate::exact;
use crate::metric::Metric;
use crate::scored::Scored;
use crate::scratch::{with_scratch, Scratch};
use crate::search::{Filter, Neighbor, SearchParams};

/// Read access to a built graph. Node ids are dense `u32` offsets.
pub(crate) trait GraphRead: Sync {
    fn metric(&self) -> Metric;
    /// Number of node slots in use (live, deleted and replaced).
    fn node_count(&self) -> usize;
    /// An upper bound on every node id that a link may hold, plus one (for
    /// sizing the visited set while concurrent inserts add nodes).
    fn id_bound(&self) -> usize {
        self.node_count()
    }
    /// Whether a slot holds a fully written node (slots being inserted do not).
    fn is_ready(&self, node: u32) -> bool;
    /// The stored vector of a ready node.
    fn vector(&self, node: u32) -> &[f32];
    /// Replaces `out` with the neighbours of `node` on `level`.
    fn links_into(&self, node: u32, level: usize, out: &mut Vec<u32>);
    fn external_id(&self, node: u32) -> u64;
    /// Hints the CPU to start loading the first cache line of `node`'s vector.
    fn prefetch(&self, node: u32);
    /// Hints the CPU to load `node`'s layer-0 link list.
    fn prefetch_links(&self, node: u32);
    /// Hints the CPU to load all of `node`'s vector.
    #[inline(always)]
    fn prefetch_all(&self, node: u32) {
        let v = self.vector(node);
        let start = v.as_ptr().cast::<u8>();
        let bytes = std::mem::size_of_val(v);
        let mut offset = 0;
        while offset < bytes {
            prefetch_ptr(start.wrapping_add(offset));
            offset += 64;
        }
    }

    #[inline(always)]
    fn distance(&self, query: &[f32], node: u32) -> f32 {
        self.metric().distance(query, self.vector(node))
    }
}

/// Issues a cache prefetch for the memory at `ptr` (no-op off x86-64).
#[inline(always)]
pub(crate) fn prefetch_ptr<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(ptr.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Greedy walk on one layer: move to the closest neighbour until none is
/// closer (the paper's SEARCH-LAYER with `ef = 1`).
pub(crate) fn greedy_closest<G: GraphRead>(
    g: &G,
    query: &[f32],
    mut cur: Scored,
    level: usize,
    links: &mut Vec<u32>,
) -> Scored {
    loop {
        let mut moved = false;
        g.links_into(cur.node, level, links);
        for &nb in links.iter() {
            let dist = g.distance(query, nb);
            if dist < cur.dist {
                cur = Scored { dist, node: nb };
                moved = true;
            }
        }
        if !moved {
            return cur;
        }
    }
}

/// The paper's SEARCH-LAYER (Algorithm 2) with admission control: starts from
/// `entries`, keeps the `ef` closest *accepted* nodes in `s.results`.
/// Rejected nodes are still expanded, so they keep routing the search.
pub(crate) fn search_layer<G, A>(
    g: &G,
    query: &[f32],
    entries: &[Scored],
    ef: usize,
    level: usize,
    accept: A,
    s: &mut Scratch,
) where
    G: GraphRead,
    A: Fn(u32) -> bool,
{
    s.start(g.id_bound());
    for &e in entries {
        if s.visited.insert(e.node) {
            s.candidates.push(Reverse(e));
            if accept(e.node) {
                s.results.push(e);
            }
        }
    }
    while s.results.len() > ef {
        s.results.pop();
    }
    let mut bound = bound_of(s, ef);
    while let Some(Reverse(cur)) = s.candidates.pop() {
        if cur.dist > bound {
            break;
        }
        // The next candidate is likely expanded next: start loading its list.
        if let Some(Reverse(next)) = s.candidates.peek() {
            g.prefetch_links(next.node);
        }
        g.links_into(cur.node, level, &mut s.links);
        // First pass: drop visited neighbours and start loading the rest, so
        // the distance loop below finds vectors already in cache.
        let mut fresh = 0;
        for i in 0..s.links.len() {
            let nb = s.links[i];
            if !s.visited.contains(nb) {
                g.prefetch(nb);
                s.links[fresh] = nb;
                fresh += 1;
            }
        }
        for &ahead in s.links[..fresh.min(AHEAD)].iter() {
            g.prefetch_all(ahead);
        }
        for i in 0..fresh {
            let nb = s.links[i];
            // Keep whole vectors AHEAD neighbours in flight while this one is
            // compared (measured on wordnet, 384-d: 5-10% more QPS than
            // first cache lines alone).
            if let Some(&next) = s.links[..fresh].get(i + AHEAD) {
                g.prefetch_all(next);
            }
            // The first pass checked `visited` before marking anything, so a
            // list naming one node twice (a crafted file; writers never do)
            // would let it in twice: mark here and skip repeats.
            if !s.visited.insert(nb) {
                continue;
            }
            let dist = g.distance(query, nb);
            if dist < bound || s.results.len() < ef {
                let item = Scored { dist, node: nb };
                s.candidates.push(Reverse(item));
                if accept(nb) {
                    s.results.push(item);
                    if s.results.len() > ef {
                        s.results.pop();
                    }
                    bound = bound_of(s, ef);
                }
            }
        }
    }
}

/// How many neighbours ahead of the one being compared to fetch whole.
const AHEAD: usize = 2;

/// The distance a candidate must beat to matter: the `ef`-th best accepted
/// distance, or +∞ while fewer than `ef` are accepted.
#[inline(always)]
fn bound_of(s: &Scratch, ef: usize) -> f32 {
    if s.results.len() < ef {
        f32::INFINITY
    } else {
        s.results.peek().map_or(f32::INFINITY, |w| w.dist)
    }
}

/// The state a k-NN search reads besides the graph itself.
pub(crate) struct SearchState<'a> {
    /// Entry point and the top layer.
    pub entry: Option<(u32, usize)>,
    /// Deleted and replaced nodes.
    pub tombstones: &'a RoaringBitmap,
    /// Number of live points.
    pub live: usize,
    /// Links per node on layer 0 (for the filter cost model).
    pub m0: usize,
    /// `ef` used when the call sets none.
    pub default_ef: usize,
}

/// k-NN search shared by the mutable index and the mmap view. `query` is
/// already validated and prepared for the metric; `resolve` maps an external
/// id to its live node. Returns `min(k, matching live points)` neighbours,
/// closest first, ties broken by smaller id.
pub(crate) fn knn<G, R>(
    g: &G,
    state: &SearchState,
    query: &[f32],
    k: usize,
    params: &SearchParams,
    resolve: R,
) -> Vec<Neighbor>
where
    G: GraphRead,
    R: Fn(u64) -> Option<u32>,
{
    let Some(entry) = state.entry.filter(|_| state.live > 0) else {
        return Vec::new();
    };
    let ef = params.ef.unwrap_or(state.default_ef).max(k);
    let tombstones = state.tombstones;
    let filter = params.filter;
    let admits = |node: u32| -> bool {
        !tombstones.contains(node) && filter.is_none_or(|f| f.allows(g.external_id(node)))
    };

    let hits = if params.exact {
        exact_scan(g, query, k, &admits)
    } else if let Some(Filter::AllowList(set)) = filter.filter(|f| {
        // Few allowed points: scanning them beats a graph walk that must
        // skip past ~n/|allowed| rejected nodes per accepted one.
        matches!(f, Filter::AllowList(set)
            if (set.len() as f64).powi(2) <= ef as f64 * state.m0 as f64 * state.live as f64)
    }) {
        let nodes = set.iter().filter_map(|id| resolve(id).map(|n| (n, id)));
        exact::top_k_of(nodes, |n| g.vector(n), query, g.metric(), k)
    } else {
        let mut hits = with_scratch(|s| {
            let start = Scored {
                dist: g.distance(query, entry.0),
                node: entry.0,
            };
            let mut cur = start;
            for level in (1..=entry.1).rev() {
                cur = greedy_closest(g, query, cur, level, &mut s.links);
            }
            if tombstones.is_empty() && filter.is_none() {
                search_layer(g, query, &[cur], ef, 0, |_| true, s);
            } else {
                search_layer(g, query, &[cur], ef, 0, admits, s);
            }
            // Drain rather than take: the heap keeps its allocation for the
            // next query on this thread. The cut to k goes by external id
            // among ties, not node order, so that k's answer is a prefix of
            // a larger k's.
            let mut hits: Vec<Neighbor> = s
                .results
                .drain()
                .map(|h| Neighbor {
                    id: g.external_id(h.node),
                    distance: h.dist,
                })
                .collect();
            hits.sort_unstable_by(Neighbor::cmp_rank);
            hits.truncate(k);
            hits
        });
        // The walk can end short of k when a filter or tombstones reject most
        // of what it reaches; the exact scan then guarantees min(k, matching).
        let may_have_more = filter.is_some() || hits.len() < k.min(state.live);
        if hits.len() < k && may_have_more {
            hits = exact_scan(g, query, k, &admits);
        }
        hits
    };
    hits
}

fn exact_scan<G: GraphRead>(
    g: &G,
    query: &[f32],
    k: usize,
    admits: &(dyn Fn(u32) -> bool + Sync),
) -> Vec<Neighbor> {
    exact::top_k(
        false,
        g.node_count(),
        |n| g.vector(n),
        |n| g.external_id(n),
        query,
        g.metric(),
        k,
        |n| g.is_ready(n) && admits(n),
    )
}
