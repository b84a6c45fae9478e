//! Neighbour selection: the heuristic of Malkov & Yashunin (2018),
//! Algorithm 4 (without `extendCandidates` and `keepPrunedConnections`, as
//! in hnswlib). It keeps a candidate only if it is closer to the base node
//! than to every neighbour already kept, which spreads links across
//! directions and keeps the graph navigable between clusters.

use crate::graph::GraphRead;
use crate::scored::Scored;

/// Picks at most `m` neighbours from `candidates` (sorted ascending by
/// distance to the base node) into `out`.
pub(crate) fn select_neighbors<G: GraphRead>(
    g: &G,
    candidates: &[Scored],
    m: usize,
    out: &mut Vec<Scored>,
) {
    out.clear();
    if candidates.len() <= m {
        out.extend_from_slice(candidates);
        return;
    }
    let metric = g.metric();
    for &c in candidates {
        if out.len() >= m {
            break;
        }
        let cv = g.vector(c.node);
        let diverse = out
            .iter()
            .all(|kept| metric.distance(cv, g.vector(kept.node)) >= c.dist);
        if diverse {
            out.push(c);
        }
    }
}
