//! Insertion: the paper's INSERT (Algorithm 1) with the neighbour heuristic
//! (Algorithm 4), safe to run from many threads at once.

use crate::error::{Error, Result};
use crate::graph::{greedy_closest, search_layer, GraphRead};
use crate::scored::Scored;
use crate::scratch::with_scratch;
use crate::select::select_neighbors;

use super::store::NodeStore;
use super::{Hnsw, MAX_NODES};

impl Hnsw {
    /// Inserts an already validated and prepared vector at `level`.
    pub(super) fn insert_prepared(&self, id: u64, vector: &[f32], level: usize) -> Result<()> {
        let (store, node) = loop {
            let store = self.store.read();
            if let Some(node) = store.claim() {
                break (store, node);
            }
            drop(store);
            let mut store = self.store.write();
            if store.claimed() >= store.capacity() {
                if store.capacity() >= MAX_NODES {
                    return Err(Error::CapacityExceeded { max: MAX_NODES });
                }
                let grown = (store.capacity() * 2).clamp(1024, MAX_NODES);
                *store = store.grown(grown);
            }
        };
        // SAFETY: `node` was just claimed from this store by this thread.
        unsafe { store.init(node, vector, level, id) };
        {
            let mut live = self.live.write();
            if let Some(old) = live.ids.insert(id, node) {
                live.tombstones.insert(old);
            }
        }
        self.link(&store, node, level, vector);
        Ok(())
    }

    /// Connects a published node into the graph on layers `level..=0`.
    fn link(&self, store: &NodeStore, node: u32, level: usize, query: &[f32]) {
        let mut entry = self.entry();
        // A node that raises the top level holds `raise` for its whole insert,
        // so at most one entry-point change is in flight (as in hnswlib).
        let raise = if entry.is_none_or(|(_, top)| level > top) {
            let guard = self.raise.lock();
            entry = self.entry();
            entry.is_none_or(|(_, top)| level > top).then_some(guard)
        } else {
            None
        };
        let Some((entry_node, top)) = entry else {
            self.set_entry(node, level);
            return;
        };
        let m = self.params.m;
        let ef = self.params.ef_construction.max(m);
        let linked_levels = level.min(top);
        // Choose the neighbours on every layer first, then publish all of the
        // node's own lists, and only then add reverse links. Once a reverse
        // link makes the node reachable, its lists are complete on every
        // layer, so a concurrent insert that reaches it never mistakes a
        // half-linked node for a dead end (and never has its own link to this
        // node overwritten).
        let selected: Vec<Vec<Scored>> = with_scratch(|s| {
            let mut cur = Scored {
                dist: store.distance(query, entry_node),
                node: entry_node,
            };
            for lc in (level + 1..=top).rev() {
                cur = greedy_closest(store, query, cur, lc, &mut s.links);
            }
            let mut per_level = vec![Vec::new(); linked_levels + 1];
            let mut candidates = Vec::with_capacity(ef);
            for lc in (0..=linked_levels).rev() {
                search_layer(store, query, &[cur], ef, lc, |n| n != node, s);
                candidates.clear();
                candidates.extend(s.results.drain());
                candidates.sort_unstable();
                if let Some(&closest) = candidates.first() {
                    cur = closest;
                }
                select_neighbors(store, &candidates, m, &mut per_level[lc]);
            }
            per_level
        });
        {
            let _guard = store.lock(node);
            for (lc, chosen) in selected.iter().enumerate() {
                store.set_links(node, lc, chosen.iter().map(|c| c.node));
            }
            for c in &selected[0] {
                store.add_in_link(c.node);
            }
        }
        let mut links = Vec::new();
        for (lc, chosen) in selected.iter().enumerate() {
            for sel in chosen {
                self.add_reverse_link(store, sel.node, node, sel.dist, lc, &mut links);
            }
        }
        if raise.is_some() {
            self.set_entry(node, level);
        }
    }

    /// Adds `new` to `target`'s links on `level`; when the list is full,
    /// re-selects among old and new with the heuristic (the paper's
    /// "shrink connections").
    fn add_reverse_link(
        &self,
        store: &NodeStore,
        target: u32,
        new: u32,
        dist: f32,
        level: usize,
        links: &mut Vec<u32>,
    ) {
        let max = if level == 0 { store.m0() } else { store.m() };
        let _guard = store.lock(target);
        store.links_into(target, level, links);
        if links.contains(&new) {
            return;
        }
        if links.len() < max {
            links.push(new);
            store.set_links(target, level, links.iter().copied());
            if level == 0 {
                store.add_in_link(new);
            }
            return;
        }
        let base = store.vector(target);
        let mut candidates: Vec<Scored> = links
            .iter()
            .map(|&n| Scored {
                dist: store.metric().distance(base, store.vector(n)),
                node: n,
            })
            .chain(std::iter::once(Scored { dist, node: new }))
            .collect();
        candidates.sort_unstable();
        let mut kept = Vec::with_capacity(max);
        select_neighbors(store, &candidates, max, &mut kept);
        if level == 0 {
            keep_last_in_links(store, &candidates, &mut kept, new);
        }
        store.set_links(target, level, kept.iter().map(|c| c.node));
    }
}

/// Layer-0 bookkeeping for a pruned list: every candidate the heuristic
/// dropped gives up an in-link, but a node whose only in-link this is would
/// become unreachable. Such a node stays, evicting the farthest kept node
/// that has another in-link; only if none has does it go.
///
/// `candidates` are the old list plus `new`; `kept` is the heuristic's pick.
fn keep_last_in_links(store: &NodeStore, candidates: &[Scored], kept: &mut [Scored], new: u32) {
    // Whether `node` may lose (or, for `new`, never gain) this in-link.
    let can_release = |node: u32| {
        if node == new {
            store.in_degree(new) > 0
        } else {
            store.release_in_link(node)
        }
    };
    let stranded: Vec<Scored> = candidates
        .iter()
        .filter(|c| !kept.iter().any(|k| k.node == c.node) && !can_release(c.node))
        .copied()
        .collect();
    let mut restored = Vec::with_capacity(stranded.len());
    for s in stranded {
        let victim = (0..kept.len())
            .rev()
            .find(|&i| !restored.contains(&kept[i].node) && can_release(kept[i].node));
        match victim {
            Some(i) => {
                kept[i] = s;
                restored.push(s.node);
            }
            None if s.node != new => store.drop_in_link(s.node),
            None => {}
        }
    }
    if kept.iter().any(|k| k.node == new) {
        store.add_in_link(new);
    }
}
