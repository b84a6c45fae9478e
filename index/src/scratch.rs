//! Per-thread reusable search state: a visited set that needs no clearing
//! between queries (epoch-stamped), and the two heaps of the beam search.
//! Reusing them means a query allocates nothing once a thread is warm.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::scored::Scored;

/// Visited marks stamped with the current query's epoch: a node is visited
/// iff its mark equals `epoch`. Starting a query bumps the epoch; the array is
/// zeroed only when the 16-bit epoch wraps.
pub(crate) struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

impl Visited {
    fn reset(&mut self, nodes: usize) {
        if self.marks.len() < nodes {
            self.marks.resize(nodes, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `node`; returns `true` if it was not marked before.
    #[inline(always)]
    pub fn insert(&mut self, node: u32) -> bool {
        let mark = &mut self.marks[node as usize];
        let fresh = *mark != self.epoch;
        *mark = self.epoch;
        fresh
    }

    #[inline(always)]
    pub fn contains(&self, node: u32) -> bool {
        self.marks[node as usize] == self.epoch
    }
}

/// Everything one layer search needs besides the graph.
pub(crate) struct Scratch {
    pub visited: Visited,
    /// Frontier, closest first.
    pub candidates: BinaryHeap<Reverse<Scored>>,
    /// Best admitted nodes so far, worst on top (bounded by `ef`).
    pub results: BinaryHeap<Scored>,
    /// Neighbour ids of the node being expanded.
    pub links: Vec<u32>,
}

impl Scratch {
    /// Prepares for a new search over a graph of `nodes` nodes.
    pub fn start(&mut self, nodes: usize) {
        self.visited.reset(nodes);
        self.candidates.clear();
        self.results.clear();
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch {
        visited: Visited { marks: Vec::new(), epoch: 0 },
        candidates: BinaryHeap::new(),
        results: BinaryHeap::new(),
        links: Vec::new(),
    }) };
}

/// Runs `f` with this thread's scratch. `f` must not start rayon work (a
/// stolen task could re-enter and find the scratch borrowed).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| f(&mut s.borrow_mut()))
}
