//! The node store of the mutable index: vectors, links, levels and external
//! ids in flat, preallocated arrays that concurrent inserts fill in place.
//!
//! Concurrency contract (what makes the `unsafe` below sound):
//! - A slot is claimed by exactly one inserting thread ([`NodeStore::claim`]),
//!   which writes its vector, external id and upper-layer link table, then
//!   publishes the slot by storing its level with `Release`
//!   ([`NodeStore::init`]). Nobody else writes those fields, ever.
//! - Other threads reach a slot only through a link (loaded with `Acquire`,
//!   stored with `Release` after publication) or after checking
//!   [`NodeStore::is_ready`] (`Acquire`), so they see its writes.
//! - Link lists are atomics: a writer holds the node's mutex; readers take no
//!   lock and may see a list mid-rewrite, which is harmless (every entry is
//!   always some published node id).
//! - Growing reallocates everything and so needs `&mut self` (the index's
//!   write lock).

use memmap2::{Advice, MmapMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;

use parking_lot::{Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::graph::{prefetch_ptr, GraphRead};
use crate::metric::Metric;

/// Level value of a claimed slot whose node is not yet written.
const NOT_READY: u8 = u8::MAX;

/// A zeroed, page-aligned f32 buffer written through shared references
/// under the contract in the module docs. It is an anonymous mapping so the
/// kernel can back it with transparent huge pages: vectors are read in random
/// order, and 2 MiB pages spare most TLB misses.
struct VectorBuf {
    map: MmapMut,
    ptr: NonNull<f32>,
}

// SAFETY: the buffer is plain memory; concurrent access follows the module's
// claim/publish contract, so no two threads touch one slot racily.
unsafe impl Send for VectorBuf {}
unsafe impl Sync for VectorBuf {}

impl VectorBuf {
    fn zeroed(floats: usize) -> Result<Self> {
        let bytes = floats.saturating_mul(4).max(64);
        let mut map = MmapMut::map_anon(bytes).map_err(|_| Error::Allocation {
            what: "vectors",
            bytes,
        })?;
        // Advice only: without THP support the kernel ignores it.
        let _ = map.advise(Advice::HugePage);
        let ptr = NonNull::new(map.as_mut_ptr().cast::<f32>()).expect("mapping is non-null");
        Ok(VectorBuf { map, ptr })
    }

    fn capacity(&self) -> usize {
        self.map.len() / 4
    }
}

/// Flat arrays of nodes `0..capacity`; slots `0..claimed` are in use.
pub(crate) struct NodeStore {
    dim: usize,
    metric: Metric,
    m: usize,
    m0: usize,
    capacity: usize,
    claimed: AtomicUsize,
    vectors: VectorBuf,
    /// Per node `1 + m0` words: the count, then the layer-0 neighbours.
    layer0: Box<[AtomicU32]>,
    /// Per node with level `L ≥ 1`: `L` blocks of `1 + m` words (count, links).
    upper: Box<[OnceLock<Box<[AtomicU32]>>]>,
    levels: Box<[AtomicU8]>,
    external: Box<[AtomicU64]>,
    /// How many layer-0 lists hold each node, to catch nodes that pruning
    /// leaves with no way in (see `insert.rs`).
    in_degree: Box<[AtomicU32]>,
    locks: Box<[Mutex<()>]>,
}

fn atomics<T: Default>(n: usize) -> Box<[T]> {
    (0..n).map(|_| T::default()).collect()
}

/// `n` values made by `make`, or [`Error::Allocation`] if memory runs out
/// (a huge capacity must be an error, not an abort).
fn try_filled<T>(what: &'static str, n: usize, make: impl Fn() -> T) -> Result<Box<[T]>> {
    let bytes = n.saturating_mul(std::mem::size_of::<T>());
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::Allocation { what, bytes })?;
    v.extend((0..n).map(|_| make()));
    Ok(v.into_boxed_slice())
}

impl NodeStore {
    /// An empty store with room for `capacity` nodes.
    ///
    /// # Errors
    /// [`Error::Allocation`] when the arrays do not fit in memory.
    pub fn new(dim: usize, metric: Metric, m: usize, capacity: usize) -> Result<Self> {
        let m0 = 2 * m;
        Ok(NodeStore {
            dim,
            metric,
            m,
            m0,
            capacity,
            claimed: AtomicUsize::new(0),
            vectors: VectorBuf::zeroed(capacity.saturating_mul(dim))?,
            layer0: try_filled(
                "layer-0 links",
                capacity.saturating_mul(1 + m0),
                AtomicU32::default,
            )?,
            upper: try_filled("upper-layer tables", capacity, OnceLock::new)?,
            levels: try_filled("levels", capacity, || AtomicU8::new(NOT_READY))?,
            external: try_filled("external ids", capacity, AtomicU64::default)?,
            in_degree: try_filled("in-degrees", capacity, AtomicU32::default)?,
            locks: try_filled("node locks", capacity, || Mutex::new(()))?,
        })
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn m(&self) -> usize {
        self.m
    }

    pub fn m0(&self) -> usize {
        self.m0
    }

    /// Slots claimed so far (some may still be being written).
    pub fn claimed(&self) -> usize {
        self.claimed.load(Ordering::Acquire)
    }

    /// Claims a free slot, or `None` when full.
    pub fn claim(&self) -> Option<u32> {
        self.claimed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .ok()
            .map(|n| n as u32)
    }

    /// Writes and publishes a claimed slot.
    ///
    /// # Safety
    /// `node` must come from [`NodeStore::claim`] on this store, be
    /// initialised at most once, and `vector.len() == dim`.
    pub unsafe fn init(&self, node: u32, vector: &[f32], level: usize, external_id: u64) {
        debug_assert_eq!(vector.len(), self.dim);
        let i = node as usize;
        // SAFETY (caller): the slot is ours alone until published below.
        unsafe {
            std::ptr::copy_nonoverlapping(
                vector.as_ptr(),
                self.vectors.ptr.as_ptr().add(i * self.dim),
                self.dim,
            );
        }
        self.external[i].store(external_id, Ordering::Relaxed);
        if level > 0 {
            let _ = self.upper[i].set(atomics(level * (1 + self.m)));
        }
        self.levels[i].store(level as u8, Ordering::Release);
    }

    /// The mutex that serialises writers of `node`'s link lists.
    pub fn lock(&self, node: u32) -> MutexGuard<'_, ()> {
        self.locks[node as usize].lock()
    }

    pub fn level(&self, node: u32) -> usize {
        self.levels[node as usize].load(Ordering::Acquire) as usize
    }

    fn link_slot(&self, node: u32, level: usize) -> &[AtomicU32] {
        let i = node as usize;
        if level == 0 {
            let stride = 1 + self.m0;
            &self.layer0[i * stride..(i + 1) * stride]
        } else {
            let stride = 1 + self.m;
            match self.upper[i].get() {
                Some(table) if level * stride <= table.len() => {
                    &table[(level - 1) * stride..level * stride]
                }
                _ => &[],
            }
        }
    }

    /// Replaces `node`'s links on `level`; the caller holds
    /// [`NodeStore::lock`]. On layer 0 it keeps the in-degree counts and
    /// appends to `orphans` every node that just lost its last in-link.
    pub fn set_links(&self, node: u32, level: usize, links: &[u32], orphans: &mut Vec<u32>) {
        let slot = self.link_slot(node, level);
        let Some((count, cells)) = slot.split_first() else {
            return;
        };
        let links = &links[..links.len().min(cells.len())];
        if level == 0 {
            let old = (count.load(Ordering::Acquire) as usize).min(cells.len());
            let old: Vec<u32> = cells[..old]
                .iter()
                .map(|c| c.load(Ordering::Acquire))
                .collect();
            for &gone in old.iter().filter(|id| !links.contains(id)) {
                if self.in_degree[gone as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                    orphans.push(gone);
                }
            }
            for &added in links.iter().filter(|id| !old.contains(id)) {
                self.in_degree[added as usize].fetch_add(1, Ordering::AcqRel);
            }
        }
        for (cell, &id) in cells.iter().zip(links) {
            cell.store(id, Ordering::Release);
        }
        count.store(links.len() as u32, Ordering::Release);
    }

    /// How many layer-0 lists hold `node`.
    pub fn in_degree(&self, node: u32) -> u32 {
        self.in_degree[node as usize].load(Ordering::Acquire)
    }

    /// A copy of this store with room for `capacity` nodes.
    ///
    /// # Errors
    /// [`Error::Allocation`] when the larger arrays do not fit in memory.
    pub fn grown(&mut self, capacity: usize) -> Result<NodeStore> {
        let claimed = *self.claimed.get_mut();
        let mut next = NodeStore::new(self.dim, self.metric, self.m, capacity)?;
        *next.claimed.get_mut() = claimed;
        // SAFETY: both buffers hold at least `claimed * dim` floats, and
        // `&mut self` excludes every other access.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.vectors.ptr.as_ptr(),
                next.vectors.ptr.as_ptr(),
                claimed * self.dim,
            );
        }
        for (dst, src) in next.layer0.iter_mut().zip(self.layer0.iter_mut()) {
            *dst.get_mut() = *src.get_mut();
        }
        for (dst, src) in next.upper.iter_mut().zip(self.upper.iter_mut()) {
            *dst = std::mem::take(src);
        }
        for (dst, src) in next.levels.iter_mut().zip(self.levels.iter_mut()) {
            *dst.get_mut() = *src.get_mut();
        }
        for (dst, src) in next.external.iter_mut().zip(self.external.iter_mut()) {
            *dst.get_mut() = *src.get_mut();
        }
        for (dst, src) in next.in_degree.iter_mut().zip(self.in_degree.iter_mut()) {
            *dst.get_mut() = *src.get_mut();
        }
        Ok(next)
    }

    /// The upper-layer links of a ready node as one flat table
    /// (`level · (1 + m)` words), for saving.
    pub fn upper_table(&self, node: u32) -> impl Iterator<Item = u32> + '_ {
        self.upper[node as usize]
            .get()
            .into_iter()
            .flat_map(|t| t.iter().map(|w| w.load(Ordering::Acquire)))
    }

    /// Layer-0 words (count then `m0` links) of a node, for saving.
    pub fn layer0_words(&self, node: u32) -> impl Iterator<Item = u32> + '_ {
        self.link_slot(node, 0)
            .iter()
            .map(|w| w.load(Ordering::Acquire))
    }
}

impl GraphRead for NodeStore {
    fn metric(&self) -> Metric {
        self.metric
    }

    fn node_count(&self) -> usize {
        self.claimed()
    }

    fn id_bound(&self) -> usize {
        self.capacity
    }

    #[inline]
    fn is_ready(&self, node: u32) -> bool {
        self.levels[node as usize].load(Ordering::Acquire) != NOT_READY
    }

    #[inline(always)]
    fn vector(&self, node: u32) -> &[f32] {
        let start = node as usize * self.dim;
        assert!(start + self.dim <= self.vectors.capacity());
        // SAFETY: in bounds (checked); the node is published (module
        // contract), so its floats are written and never change again.
        unsafe { std::slice::from_raw_parts(self.vectors.ptr.as_ptr().add(start), self.dim) }
    }

    #[inline(always)]
    fn links_into(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        out.clear();
        let slot = self.link_slot(node, level);
        if let Some((count, links)) = slot.split_first() {
            let n = (count.load(Ordering::Acquire) as usize).min(links.len());
            out.extend(links[..n].iter().map(|w| w.load(Ordering::Acquire)));
        }
    }

    #[inline(always)]
    fn external_id(&self, node: u32) -> u64 {
        self.external[node as usize].load(Ordering::Relaxed)
    }

    #[inline(always)]
    fn prefetch_links(&self, node: u32) {
        if let Some(first) = self.layer0.get(node as usize * (1 + self.m0)) {
            prefetch_ptr(first);
        }
    }

    #[inline(always)]
    fn prefetch(&self, node: u32) {
        let start = node as usize * self.dim;
        if start < self.vectors.capacity() {
            prefetch_ptr(self.vectors.ptr.as_ptr().wrapping_add(start));
        }
    }
}
