//! `(distance, node)` pairs with a total order, and a bounded top-k keeper.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// An internal node with its distance to the query. Ordered by distance,
/// then by node id, so that results are deterministic under ties.
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

/// Most entries a [`TopK`] reserves up front.
const PREALLOCATED_MAX: usize = 4096;

/// Keeps the `k` smallest [`Scored`] values seen.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Scored>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            // `k` is the caller's and may be huge: reserve a little, grow on demand.
            heap: BinaryHeap::with_capacity(k.min(PREALLOCATED_MAX) + 1),
        }
    }

    #[inline]
    pub fn push(&mut self, item: Scored) {
        if self.heap.len() < self.k {
            self.heap.push(item);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if item < *worst {
                *worst = item;
            }
        }
    }

    pub fn merge(mut self, other: TopK) -> TopK {
        for item in other.heap {
            self.push(item);
        }
        self
    }

    /// Ascending by distance, then node.
    pub fn into_sorted_vec(self) -> Vec<Scored> {
        self.heap.into_sorted_vec()
    }
}
