//! Neighbour selection: the heuristic of Malkov & Yashunin (2018),
//! Algorithm 4 (without `extendCandidates`, as in hnswlib). It keeps a
//! candidate only if it is closer to the base node than to every neighbour
//! already kept, which spreads links across directions and keeps the graph
//! navigable between clusters.
//!
//! One change for duplicate vectors: the plain rule keeps every copy of the
//! base's own vector (distance 0 is never beaten), so a node among many
//! copies fills its list with copies and drops links to anything else,
//! leaving distinct points unreachable. Here a candidate that duplicates a
//! kept neighbour is skipped in the first pass, and copies of the base only
//! fill the slots left over, so copies stay connected without crowding out
//! the rest.

use crate::graph::GraphRead;
use crate::metric::Metric;
use crate::scored::Scored;

/// Distance at or below which two stored vectors count as duplicates, for
/// metrics where a vector is at distance ~0 from itself.
fn duplicate_eps(metric: Metric) -> Option<f32> {
    match metric {
        // Both are exactly 0 between copies (see `crate::metric`).
        Metric::L2Squared | Metric::Cosine => Some(0.0),
        // 1 − ⟨a, a⟩ depends on the norm: no fixed self-distance.
        Metric::InnerProduct => None,
    }
}

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
    let eps = duplicate_eps(metric);
    let mut base_copies = Vec::new();
    for &c in candidates {
        if out.len() >= m {
            break;
        }
        let cv = g.vector(c.node);
        let diverse = out.iter().all(|kept| {
            let d = metric.distance(cv, g.vector(kept.node));
            d >= c.dist && eps.is_none_or(|eps| d > eps)
        });
        if diverse {
            out.push(c);
        } else if eps.is_some_and(|eps| c.dist <= eps) {
            base_copies.push(c);
        }
    }
    let room = m - out.len();
    out.extend(base_copies.into_iter().take(room));
}
