//! Insertion: the paper's INSERT (Algorithm 1) with the neighbour heuristic
//! (Algorithm 4), safe to run from many threads at once.

use crate::error::{Error, Result};
use crate::graph::{greedy_closest, search_layer, GraphRead};
use crate::metric::Metric;
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
                *store = store.grown(grown)?;
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
            // `ef` is the caller's parameter and may be huge; a layer never
            // yields more candidates than there are nodes.
            let mut candidates = Vec::with_capacity(ef.min(store.claimed()));
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
        let mut links = Vec::new();
        let mut orphans = Vec::new();
        {
            let _guard = store.lock(node);
            for (lc, chosen) in selected.iter().enumerate() {
                links.clear();
                links.extend(chosen.iter().map(|c| c.node));
                store.set_links(node, lc, &links, &mut orphans);
            }
        }
        for (lc, chosen) in selected.iter().enumerate() {
            for sel in chosen {
                Self::add_reverse_link(store, *sel, node, lc, &mut links, &mut orphans);
            }
        }
        if store.in_degree(node) == 0 && !selected[0].is_empty() {
            orphans.push(node);
        }
        // Under inner product, low-norm points are nobody's neighbour by
        // design (they are rarely anyone's top result); re-linking them all
        // costs good links and measured ~12 points of recall@10, so they are
        // left to the exact fallback that filters use.
        if store.metric() != Metric::InnerProduct {
            rescue_orphans(store, orphans, &mut links);
        }
        if raise.is_some() {
            self.set_entry(node, level);
        }
    }

    /// Adds `new` to `target`'s links on `level`; when the list is full,
    /// re-selects among old and new with the heuristic (the paper's
    /// "shrink connections").
    ///
    /// `target` is the neighbour with its distance to `new`.
    fn add_reverse_link(
        store: &NodeStore,
        Scored { node: target, dist }: Scored,
        new: u32,
        level: usize,
        links: &mut Vec<u32>,
        orphans: &mut Vec<u32>,
    ) {
        let max = if level == 0 { store.m0() } else { store.m() };
        let _guard = store.lock(target);
        store.links_into(target, level, links);
        if links.contains(&new) {
            return;
        }
        if links.len() < max {
            links.push(new);
            store.set_links(target, level, links, orphans);
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
        links.clear();
        links.extend(kept.iter().map(|c| c.node));
        store.set_links(target, level, links, orphans);
    }
}

/// Gives every node in `orphans` that still has no layer-0 in-link a way
/// back in. Pruning can drop a node from every list that held it (more so
/// when concurrent inserts prune around each other), leaving it unreachable.
/// The orphan is added to the list of its closest out-neighbour that has
/// room, or takes the place of the farthest entry there that other lists
/// also hold, so the repair never orphans anyone else. Runs with no lock
/// held on entry, one list lock at a time.
fn rescue_orphans(store: &NodeStore, mut orphans: Vec<u32>, links: &mut Vec<u32>) {
    let m0 = store.m0();
    // A concurrent prune may still take a replaced entry's other in-link;
    // such a node joins the queue, which is bounded to stay cheap.
    let mut budget = orphans.len() * 4;
    while let Some(orphan) = orphans.pop() {
        if budget == 0 {
            break;
        }
        budget -= 1;
        if store.in_degree(orphan) > 0 {
            continue;
        }
        store.links_into(orphan, 0, links);
        let base = store.vector(orphan);
        let mut hosts: Vec<Scored> = links
            .iter()
            .map(|&n| Scored {
                dist: store.distance(base, n),
                node: n,
            })
            .collect();
        hosts.sort_unstable();
        for host in hosts {
            let _guard = store.lock(host.node);
            store.links_into(host.node, 0, links);
            if links.contains(&orphan) {
                break;
            }
            if links.len() < m0 {
                links.push(orphan);
            } else {
                let hv = store.vector(host.node);
                let farthest_shared = links
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| store.in_degree(n) >= 2)
                    .max_by(|a, b| {
                        store
                            .distance(hv, *a.1)
                            .total_cmp(&store.distance(hv, *b.1))
                    })
                    .map(|(i, _)| i);
                let Some(i) = farthest_shared else { continue };
                links[i] = orphan;
            }
            store.set_links(host.node, 0, links, &mut orphans);
            break;
        }
    }
}
