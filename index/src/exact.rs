//! Brute-force top-k over a set of stored vectors: the exact answer that
//! ground truth, tiny collections, selective filters and `exact` queries use.

use rayon::prelude::*;

use crate::metric::Metric;
use crate::scored::TopK;
use crate::search::Neighbor;

/// Below this many nodes one thread scans everything; above it the scan is
/// split across rayon workers.
const PARALLEL_SCAN_MIN: usize = 32_768;

/// Exact top-`k` among nodes `0..count` admitted by `accept`, with the SIMD
/// kernel of `metric`, in rank order ([`Neighbor::cmp_rank`]).
/// `vector(node)` yields the stored vector of a node, `id(node)` its
/// external id.
/// `parallel` lets a large scan spread over rayon workers; callers holding a
/// lock pass `false`, since a worker waiting inside a lock could pick up a
/// task that takes the same lock.
#[allow(clippy::too_many_arguments)] // the scan's inputs, each used once
pub(crate) fn top_k<'v, V, I, A>(
    parallel: bool,
    count: usize,
    vector: V,
    id: I,
    query: &[f32],
    metric: Metric,
    k: usize,
    accept: A,
) -> Vec<Neighbor>
where
    V: Fn(u32) -> &'v [f32] + Sync,
    I: Fn(u32) -> u64 + Sync,
    A: Fn(u32) -> bool + Sync,
{
    let scan = |range: std::ops::Range<usize>| {
        let mut top = TopK::new(k);
        for node in range {
            let node = node as u32;
            if accept(node) {
                top.push(metric.distance(query, vector(node)), || id(node));
            }
        }
        top
    };
    if !parallel || count < PARALLEL_SCAN_MIN {
        return scan(0..count).into_sorted_vec();
    }
    let chunk = PARALLEL_SCAN_MIN / 4;
    (0..count.div_ceil(chunk))
        .into_par_iter()
        .map(|c| scan(c * chunk..((c + 1) * chunk).min(count)))
        .reduce(|| TopK::new(k), TopK::merge)
        .into_sorted_vec()
}

/// Exact top-`k` among an explicit list of `(node, external id)` pairs
/// (used when a filter keeps few points), in rank order.
pub(crate) fn top_k_of<'v, V>(
    nodes: impl Iterator<Item = (u32, u64)>,
    vector: V,
    query: &[f32],
    metric: Metric,
    k: usize,
) -> Vec<Neighbor>
where
    V: Fn(u32) -> &'v [f32],
{
    let mut top = TopK::new(k);
    for (node, id) in nodes {
        top.push(metric.distance(query, vector(node)), || id);
    }
    top.into_sorted_vec()
}
