//! `(distance, node)` pairs for the graph walk, and the bounded top-k
//! collector that ranks results by `(distance, external id)`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::search::Neighbor;

/// An internal node with its distance to the query. Ordered by distance,
/// then by node id: the order of the graph walk's heaps. Results are
/// ranked by [`Neighbor::cmp_rank`] instead, since node order is not id
/// order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scored {
    pub dist: f32,
    pub node: u32,
}

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then(self.node.cmp(&other.node))
    }
}

/// A [`Neighbor`] ordered by [`Neighbor::cmp_rank`], for the heap.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ranked(Neighbor);

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp_rank(&other.0)
    }
}

/// Most entries a [`TopK`] reserves up front.
const PREALLOCATED_MAX: usize = 4096;

/// Keeps the `k` first [`Neighbor`]s seen in rank order (distance, then
/// id), so the top `k` is a prefix of the top `k + j` for the same input.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Ranked>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            // `k` is the caller's and may be huge: reserve a little, grow on demand.
            heap: BinaryHeap::with_capacity(k.min(PREALLOCATED_MAX) + 1),
        }
    }

    /// Offers a hit at `distance` whose id `id()` yields; `id` is called
    /// only when the distance could make the cut.
    #[inline]
    pub fn push(&mut self, distance: f32, id: impl FnOnce() -> u64) {
        if self.heap.len() < self.k {
            self.heap.push(Ranked(Neighbor { id: id(), distance }));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if distance.total_cmp(&worst.0.distance).is_le() {
                let item = Ranked(Neighbor { id: id(), distance });
                if item < *worst {
                    *worst = item;
                }
            }
        }
    }

    pub fn merge(mut self, other: TopK) -> TopK {
        for Ranked(n) in other.heap {
            self.push(n.distance, || n.id);
        }
        self
    }

    /// In rank order: ascending by distance, then id.
    pub fn into_sorted_vec(self) -> Vec<Neighbor> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect()
    }
}
