//! [`HnswView`]: a saved index opened with mmap and searched in place.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use memmap2::Mmap;
use roaring::RoaringBitmap;

use crate::error::{Error, Result};
use crate::graph::{self, prefetch_ptr, GraphRead, SearchState};
use crate::hnsw::store::NodeStore;
use crate::hnsw::{check_search_args, Hnsw, Liveness, MAX_NODES};
use crate::metric::Metric;
use crate::params::{HnswParams, MAX_DIM, MAX_M};
use crate::search::{Neighbor, SearchParams};

use super::fault::Guard;
use super::{
    corrupt, Header, Section, SectionEntry, ALIGN, HEADER_LEN, NO_ENTRY, SECTION_ENTRY_LEN,
};

/// A typed window into the mapped file, resolved once at open so that hot
/// accessors do no offset arithmetic or alignment checks.
struct Mapped<T> {
    ptr: *const T,
    len: usize,
}

// SAFETY: a read-only view of immutable mapped memory (see the mmap contract).
unsafe impl<T: Sync> Send for Mapped<T> {}
unsafe impl<T: Sync> Sync for Mapped<T> {}

impl<T: bytemuck::Pod> Mapped<T> {
    /// `bytes` must lie inside a mapping and be aligned for `T` (sections
    /// start at multiples of 64 in a page-aligned mapping).
    fn new(bytes: &[u8]) -> Self {
        let typed: &[T] = bytemuck::cast_slice(bytes);
        Mapped {
            ptr: typed.as_ptr(),
            len: typed.len(),
        }
    }

    /// The window, borrowed for as long as the mapping it points into.
    #[inline(always)]
    fn slice<'a>(&self, owner: &'a Mmap) -> &'a [T] {
        let _ = owner;
        // SAFETY: `ptr..ptr+len` was cut from `owner`'s bytes in `new`, and a
        // mapping's memory stays put for as long as the `Mmap` lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// The sections a search reads, resolved from the mapping.
struct Arrays {
    vectors: Mapped<f32>,
    levels: Mapped<u8>,
    links0: Mapped<u32>,
    upper_offsets: Mapped<u64>,
    upper_links: Mapped<u32>,
    external_ids: Mapped<u64>,
}

/// Highest level a valid file may record.
const MAX_FILE_LEVEL: u32 = 64;

/// Where one section lives in the file, after validation.
#[derive(Debug, Clone, Copy)]
pub struct SectionInfo {
    /// Section name (`vectors`, `links0`, ...).
    pub name: &'static str,
    /// Byte offset in the file (a multiple of 64).
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
    /// CRC32C of the section's bytes.
    pub crc32c: u32,
}

/// A read-only index searched straight from a memory-mapped file.
///
/// Opening checks everything a search will touch (magic, version,
/// endianness, sizes, alignment, every section checksum, that every vector
/// is one the writer could have stored, and that every link names a node
/// inside the index), then searches read the mapped bytes with
/// no copying. Open time is that one validation pass plus a constant.
///
/// # The mmap contract
/// Waypoint never writes an index file in place (saves go to a temporary
/// file that is renamed over the old one, leaving open views on the old
/// inode), so the mapped bytes change only if another program truncates or
/// rewrites the file itself. If one does:
///
/// - every read stays in bounds whatever the bytes say (no panic, no
///   memory unsafety);
/// - on Linux, a read past the new end of a truncated file does not kill
///   the process: the first view opened installs a process-wide `SIGBUS`
///   handler that, for a fault inside a view's mapping only, maps a zero
///   page over the faulting page and marks the view damaged (faults
///   anywhere else keep the action installed before it). Up to 65,536
///   views are guarded at once; [`HnswView::is_guarded`] tells;
/// - every [`HnswView::search`], [`HnswView::search_batch`] and
///   [`HnswView::to_index`] then fails with [`Error::FileChanged`] naming
///   the file, instead of returning what it read: after each, the view
///   checks its damage mark and `stat`s its path: the same file (device
///   and inode) with another size or modification time than at open has
///   changed under the mapping. A path that is gone or names another file
///   (a rename over it) is not a change: the mapping still holds the
///   original, whose bytes unlinking does not touch. The view keeps no
///   file descriptor open, so a server with many segments needs none. [`HnswView::check_intact`] runs the
///   same check, e.g. after [`HnswView::get_vector`], whose slice may read
///   as zeros past a truncation.
///
/// A change that keeps the size and the modification time (a rewrite that
/// resets the mtime) can go unnoticed; an embedded user who cannot rule
/// that out should not share the file with such a writer. Elsewhere than
/// Linux, a truncation under a mapping raises `SIGBUS`, as with any mmap.
///
/// ```
/// use waypoint_index::{Hnsw, HnswParams, HnswView, Metric, SearchParams};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("tiny.wpi");
/// let index = Hnsw::new(2, Metric::L2Squared, HnswParams::default()).unwrap();
/// index.insert(1, &[0.0, 0.0]).unwrap();
/// index.insert(2, &[3.0, 4.0]).unwrap();
/// index.save(&path).unwrap();
/// let view = HnswView::open(&path).unwrap();
/// let hits = view.search(&[3.0, 3.0], 1, &SearchParams::default()).unwrap();
/// assert_eq!((hits[0].id, hits[0].distance), (2, 1.0));
/// ```
pub struct HnswView {
    path: PathBuf,
    /// Released before `mmap` is unmapped (fields drop in order).
    guard: Guard,
    mmap: Mmap,
    /// The mapped file's identity, size and modification time at open.
    stamp: Stamp,
    header: Header,
    metric: Metric,
    sections: [SectionInfo; 7],
    arrays: Arrays,
    tombstones: RoaringBitmap,
    /// External id → node, for live nodes.
    ids: HashMap<u64, u32>,
}

impl std::fmt::Debug for HnswView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswView")
            .field("path", &self.path)
            .field("dim", &self.header.dim)
            .field("metric", &self.metric)
            .field("nodes", &self.header.node_count)
            .field("live", &self.header.live_count)
            .finish_non_exhaustive()
    }
}

impl HnswView {
    /// Maps and validates the index file at `path`.
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be opened or mapped; [`Error::Corrupt`]
    /// naming the header or section and the reason for any file that is
    /// truncated, damaged, foreign, big-endian, or of a future version.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if cfg!(target_endian = "big") {
            return Err(corrupt(
                path,
                "header",
                "this build runs big-endian; index files are little-endian".into(),
            ));
        }
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            let not_file = std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (is it a directory?)",
            );
            return Err(Error::io(path, not_file));
        }
        let len = meta.len();
        if len < HEADER_LEN as u64 {
            return Err(corrupt(
                path,
                "header",
                format!("file is {len} bytes, shorter than the {HEADER_LEN}-byte header (truncated, or not an index file)"),
            ));
        }
        let stamp = Stamp::of(&meta);
        // SAFETY: see the type's mmap contract; every read below is bounds-checked.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        // Guarded before validation reads it: a truncation during open is caught too.
        let guard = Guard::register(mmap.as_ptr(), mmap.len());
        let header = Header::decode(path, &mmap)?;
        let metric = check_header(path, &header)?;
        let sections = read_table(path, &mmap, &header)?;
        let section = |s: Section| {
            let info = &sections[s as usize - 1];
            &mmap[info.offset as usize..(info.offset + info.length) as usize]
        };
        let arrays = Arrays {
            vectors: Mapped::new(section(Section::Vectors)),
            levels: Mapped::new(section(Section::Levels)),
            links0: Mapped::new(section(Section::Links0)),
            upper_offsets: Mapped::new(section(Section::UpperOffsets)),
            upper_links: Mapped::new(section(Section::UpperLinks)),
            external_ids: Mapped::new(section(Section::ExternalIds)),
        };
        let mut view = HnswView {
            path: path.to_path_buf(),
            guard,
            mmap,
            stamp,
            header,
            metric,
            sections,
            arrays,
            tombstones: RoaringBitmap::new(),
            ids: HashMap::new(),
        };
        view.validate()?;
        view.check_intact()?;
        Ok(view)
    }

    /// Whether the file is as it was when opened: not truncated under the
    /// mapping (no fault caught), same size, same modification time. See
    /// the type's mmap contract.
    ///
    /// # Errors
    /// [`Error::FileChanged`] saying what changed; [`Error::Io`] if the
    /// path cannot be `stat`ed for another reason than being gone.
    pub fn check_intact(&self) -> Result<()> {
        let changed = |reason: String| Error::FileChanged {
            path: self.path.clone(),
            reason,
        };
        let mapped = self.mmap.len() as u64;
        if self.guard.is_damaged() {
            let now = std::fs::metadata(&self.path)
                .map(|m| format!(" to {} bytes", m.len()))
                .unwrap_or_default();
            return Err(changed(format!(
                "a read past its end was caught: it was truncated{now} under a {mapped}-byte mapping"
            )));
        }
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let now = Stamp::of(&meta);
        if now.identity != self.stamp.identity {
            return Ok(());
        }
        if now.len != self.stamp.len {
            return Err(changed(format!(
                "it is {} bytes now, {mapped} when opened (truncated or extended in place)",
                now.len
            )));
        }
        if now != self.stamp {
            return Err(changed(
                "its modification time changed since it was opened (rewritten in place)".into(),
            ));
        }
        Ok(())
    }

    /// Whether truncation faults in this view's mapping are caught (see
    /// the type's mmap contract); `false` off Linux.
    pub fn is_guarded(&self) -> bool {
        self.guard.is_guarded()
    }

    fn bytes(&self, s: Section) -> &[u8] {
        let info = &self.sections[s as usize - 1];
        &self.mmap[info.offset as usize..(info.offset + info.length) as usize]
    }

    fn vectors(&self) -> &[f32] {
        self.arrays.vectors.slice(&self.mmap)
    }

    fn levels(&self) -> &[u8] {
        self.arrays.levels.slice(&self.mmap)
    }

    fn links0(&self) -> &[u32] {
        self.arrays.links0.slice(&self.mmap)
    }

    fn upper_offsets(&self) -> &[u64] {
        self.arrays.upper_offsets.slice(&self.mmap)
    }

    fn upper_links(&self) -> &[u32] {
        self.arrays.upper_links.slice(&self.mmap)
    }

    fn external_ids(&self) -> &[u64] {
        self.arrays.external_ids.slice(&self.mmap)
    }

    /// Checksums, then the graph's internal consistency.
    fn validate(&mut self) -> Result<()> {
        let path = self.path.clone();
        for (i, s) in Section::ALL.iter().enumerate() {
            let crc = crc32c::crc32c(self.bytes(*s));
            let info = self.sections[i];
            if crc != info.crc32c {
                return Err(corrupt(
                    &path,
                    s.name(),
                    format!(
                        "checksum mismatch (stored {:#010x}, computed {crc:#010x})",
                        info.crc32c
                    ),
                ));
            }
        }
        let n = self.header.node_count as usize;
        check_vectors(&path, self.metric, self.vectors(), self.dim())?;
        let (m, m0) = (self.header.m as usize, self.header.m0 as usize);
        let max_level = self.header.max_level;
        let levels = self.levels();
        if let Some((i, &l)) = levels
            .iter()
            .enumerate()
            .find(|(_, &l)| u32::from(l) > max_level)
        {
            return Err(corrupt(
                &path,
                "levels",
                format!("node {i} has level {l} above the max level {max_level}"),
            ));
        }
        if n > 0 && levels.iter().map(|&l| u32::from(l)).max() != Some(max_level) {
            return Err(corrupt(
                &path,
                "levels",
                format!("no node reaches the recorded max level {max_level}"),
            ));
        }
        check_links(&path, "links0", self.links0(), 1 + m0, n)?;
        let offsets = self.upper_offsets();
        let upper = self.upper_links();
        if offsets[0] != 0 || offsets[n] != upper.len() as u64 {
            return Err(corrupt(
                &path,
                "upper_offsets",
                format!(
                    "offsets span {}..{} but upper_links holds {} words",
                    offsets[0],
                    offsets[n],
                    upper.len()
                ),
            ));
        }
        for i in 0..n {
            let want = u64::from(levels[i]) * (1 + m as u64);
            if offsets[i + 1].checked_sub(offsets[i]) != Some(want) {
                return Err(corrupt(
                    &path,
                    "upper_offsets",
                    format!("node {i} (level {}) should own {want} words", levels[i]),
                ));
            }
        }
        check_links(&path, "upper_links", upper, 1 + m, n)?;
        match (n, self.header.entry_node) {
            (0, NO_ENTRY) => {}
            (0, e) => {
                return Err(corrupt(
                    &path,
                    "header",
                    format!("empty index with entry node {e}"),
                ))
            }
            (_, e) if e as usize >= n => {
                return Err(corrupt(
                    &path,
                    "header",
                    format!("entry node {e} is outside the {n} nodes"),
                ))
            }
            (_, e) if u32::from(levels[e as usize]) != max_level => {
                return Err(corrupt(
                    &path,
                    "header",
                    format!("entry node {e} is not on the top level {max_level}"),
                ))
            }
            _ => {}
        }
        let tombstones = RoaringBitmap::deserialize_from(self.bytes(Section::Tombstones))
            .map_err(|e| corrupt(&path, "tombstones", format!("not a roaring bitmap: {e}")))?;
        if let Some(max) = tombstones.max().filter(|&t| t as usize >= n) {
            return Err(corrupt(
                &path,
                "tombstones",
                format!("tombstone {max} is outside the {n} nodes"),
            ));
        }
        if tombstones.len() + self.header.live_count != n as u64 {
            return Err(corrupt(
                &path,
                "header",
                format!(
                    "live count {} plus {} tombstones is not the node count {n}",
                    self.header.live_count,
                    tombstones.len()
                ),
            ));
        }
        let external = self.external_ids();
        let mut ids = HashMap::with_capacity(self.header.live_count as usize);
        for node in (0..n as u32).filter(|node| !tombstones.contains(*node)) {
            if let Some(other) = ids.insert(external[node as usize], node) {
                return Err(corrupt(
                    &path,
                    "external_ids",
                    format!(
                        "id {} is live at nodes {other} and {node}",
                        external[node as usize]
                    ),
                ));
            }
        }
        self.ids = ids;
        self.tombstones = tombstones;
        Ok(())
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.header.dim as usize
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The build parameters recorded in the file.
    pub fn params(&self) -> HnswParams {
        HnswParams {
            m: self.header.m as usize,
            ef_construction: self.header.ef_construction as usize,
            ef_search: self.header.ef_search as usize,
            seed: self.header.seed,
        }
    }

    /// Number of live points.
    pub fn len(&self) -> usize {
        self.header.live_count as usize
    }

    /// Whether there are no live points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of graph nodes, including tombstoned ones.
    pub fn node_count(&self) -> usize {
        self.header.node_count as usize
    }

    /// Number of tombstoned nodes.
    pub fn deleted_count(&self) -> usize {
        self.tombstones.len() as usize
    }

    /// The top layer of the graph (0 for an empty index).
    pub fn max_level(&self) -> usize {
        self.header.max_level as usize
    }

    /// How many nodes have each top level: `histogram[l]` nodes reach layer `l`
    /// as their highest.
    pub fn level_histogram(&self) -> Vec<usize> {
        let mut hist = vec![0usize; self.max_level() + 1];
        for &l in self.levels() {
            hist[l as usize] += 1;
        }
        hist
    }

    /// The validated section table.
    pub fn sections(&self) -> &[SectionInfo] {
        &self.sections
    }

    /// File size in bytes.
    pub fn file_size(&self) -> u64 {
        self.mmap.len() as u64
    }

    /// The file this view maps.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn entry(&self) -> Option<(u32, usize)> {
        (self.header.entry_node != NO_ENTRY)
            .then_some((self.header.entry_node, self.header.max_level as usize))
    }

    /// Whether `id` is live.
    pub fn contains(&self, id: u64) -> bool {
        self.ids.contains_key(&id)
    }

    /// The stored vector of `id` (unit length under cosine), if live. The
    /// slice is the mapped bytes: if the file may have been changed under
    /// the view, [`HnswView::check_intact`] after reading it tells.
    pub fn get_vector(&self, id: u64) -> Option<&[f32]> {
        self.ids.get(&id).map(|&n| self.vector(n))
    }

    /// Same contract as [`Hnsw::search`]; results are identical to those of
    /// the index this file was saved from.
    ///
    /// # Errors
    /// As [`Hnsw::search`]; [`Error::FileChanged`] if the file was
    /// truncated or rewritten under the view (see the type's mmap contract).
    pub fn search(&self, query: &[f32], k: usize, params: &SearchParams) -> Result<Vec<Neighbor>> {
        check_search_args(k, params)?;
        let query = self.metric.prepare_query(query, self.dim())?;
        let state = SearchState {
            entry: self.entry(),
            tombstones: &self.tombstones,
            live: self.len(),
            m0: self.header.m0 as usize,
            default_ef: self.header.ef_search as usize,
        };
        let hits = graph::knn(self, &state, &query, k, params, |id| {
            self.ids.get(&id).copied()
        });
        self.check_intact()?;
        Ok(hits)
    }

    /// [`HnswView::search`] for many queries in parallel (rayon), in order.
    ///
    /// # Errors
    /// The first error of any query.
    pub fn search_batch<Q>(
        &self,
        queries: &[Q],
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Vec<Neighbor>>>
    where
        Q: AsRef<[f32]> + Sync,
    {
        crate::search::in_parallel(queries, |q| self.search(q, k, params))
    }

    /// Copies the file into a mutable [`Hnsw`] that takes further inserts
    /// and deletes (and continues the level generator where it stopped).
    ///
    /// # Errors
    /// [`Error::Allocation`] if the copy does not fit in memory;
    /// [`Error::FileChanged`] as for [`HnswView::search`].
    pub fn to_index(&self) -> Result<Hnsw> {
        let n = self.node_count();
        let params = self.params();
        let m = params.m;
        let store = NodeStore::new(self.dim(), self.metric, m, n.max(1024))?;
        let ext = self.external_ids();
        let live = Liveness {
            ids: self.ids.clone(),
            tombstones: self.tombstones.clone(),
        };
        let mut links = Vec::new();
        // Loading only adds links, so nobody loses an in-link here.
        let mut orphans = Vec::new();
        for node in 0..n as u32 {
            let claimed = store.claim();
            debug_assert_eq!(claimed, Some(node));
            let level = self.levels()[node as usize] as usize;
            // SAFETY: claimed just above, initialised once; the vector has `dim` floats.
            unsafe { store.init(node, self.vector(node), level, ext[node as usize]) };
            for l in 0..=level {
                self.links_into(node, l, &mut links);
                store.set_links(node, l, &links, &mut orphans);
            }
        }
        self.check_intact()?;
        Ok(Hnsw::from_parts(
            self.dim(),
            self.metric,
            params,
            store,
            self.entry(),
            live,
            self.header.rng_state,
        ))
    }
}

impl GraphRead for HnswView {
    fn metric(&self) -> Metric {
        self.metric
    }

    fn node_count(&self) -> usize {
        self.header.node_count as usize
    }

    fn is_ready(&self, _node: u32) -> bool {
        true
    }

    #[inline(always)]
    fn vector(&self, node: u32) -> &[f32] {
        let dim = self.header.dim as usize;
        let start = node as usize * dim;
        &self.vectors()[start..start + dim]
    }

    /// Total even over bytes changed since validation (see the mmap
    /// contract): a block out of range reads as empty, and links naming no
    /// node are dropped, so callers index nothing out of bounds.
    #[inline(always)]
    fn links_into(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        out.clear();
        let i = node as usize;
        let block = if level == 0 {
            let stride = 1 + self.header.m0 as usize;
            &self.links0()[i * stride..(i + 1) * stride]
        } else {
            if level > self.levels()[i] as usize {
                return;
            }
            let stride = 1 + self.header.m as usize;
            let start = (self.upper_offsets()[i] as usize).saturating_add((level - 1) * stride);
            match self.upper_links().get(start..start.saturating_add(stride)) {
                Some(block) => block,
                None => return,
            }
        };
        let n = (block[0] as usize).min(block.len() - 1);
        let nodes = self.header.node_count;
        out.extend(
            block[1..1 + n]
                .iter()
                .copied()
                .filter(|&nb| u64::from(nb) < nodes),
        );
    }

    #[inline(always)]
    fn external_id(&self, node: u32) -> u64 {
        self.external_ids()[node as usize]
    }

    #[inline(always)]
    fn prefetch_links(&self, node: u32) {
        if let Some(first) = self
            .links0()
            .get(node as usize * (1 + self.header.m0 as usize))
        {
            prefetch_ptr(first);
        }
    }

    #[inline(always)]
    fn prefetch(&self, node: u32) {
        let start = node as usize * self.header.dim as usize;
        if let Some(x) = self.vectors().get(start) {
            prefetch_ptr(x);
        }
    }
}

/// A file's identity (device, inode), size and modification time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stamp {
    identity: (u64, u64),
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let identity = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let identity = (0, 0);
        Stamp {
            identity,
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// Range checks on header fields; returns the metric.
fn check_header(path: &Path, h: &Header) -> Result<Metric> {
    let bad = |reason: String| corrupt(path, "header", reason);
    if h.dim == 0 || h.dim as usize > MAX_DIM {
        return Err(bad(format!("dim {} is outside 1..={MAX_DIM}", h.dim)));
    }
    let metric = Metric::from_code(h.metric)
        .ok_or_else(|| bad(format!("unknown metric code {}", h.metric)))?;
    if h.m < 2 || h.m as usize > MAX_M || h.m0 != 2 * h.m {
        return Err(bad(format!(
            "M = {}, M0 = {}: expected 2 <= M <= {MAX_M} and M0 = 2·M",
            h.m, h.m0
        )));
    }
    if h.ef_construction == 0 || h.ef_search == 0 {
        return Err(bad(
            "ef_construction and ef_search must be at least 1".into()
        ));
    }
    if h.node_count > MAX_NODES as u64 || h.live_count > h.node_count {
        return Err(bad(format!(
            "node count {} / live count {} out of range",
            h.node_count, h.live_count
        )));
    }
    if h.max_level > MAX_FILE_LEVEL {
        return Err(bad(format!(
            "max level {} above {MAX_FILE_LEVEL}",
            h.max_level
        )));
    }
    if h.section_count as usize != Section::ALL.len() {
        return Err(bad(format!(
            "{} sections, expected {}",
            h.section_count,
            Section::ALL.len()
        )));
    }
    Ok(metric)
}

/// Reads the section table and checks each entry's kind, alignment, bounds,
/// order and expected length.
fn read_table(path: &Path, bytes: &[u8], h: &Header) -> Result<[SectionInfo; 7]> {
    let table_end = HEADER_LEN + Section::ALL.len() * SECTION_ENTRY_LEN;
    if bytes.len() < table_end {
        return Err(corrupt(
            path,
            "header",
            format!("file ends at byte {} inside the section table", bytes.len()),
        ));
    }
    let table = &bytes[HEADER_LEN..table_end];
    if crc32c::crc32c(table) != h.table_crc {
        return Err(corrupt(
            path,
            "header",
            "section table checksum mismatch".into(),
        ));
    }
    let n = h.node_count;
    let dim = u64::from(h.dim);
    let expected = |s: Section| -> Option<u64> {
        match s {
            Section::Vectors => n.checked_mul(dim)?.checked_mul(4),
            Section::Levels => Some(n),
            Section::Links0 => n.checked_mul(1 + u64::from(h.m0))?.checked_mul(4),
            Section::UpperOffsets => (n + 1).checked_mul(8),
            Section::ExternalIds => n.checked_mul(8),
            Section::UpperLinks | Section::Tombstones => None,
        }
    };
    let mut out = [SectionInfo {
        name: "",
        offset: 0,
        length: 0,
        crc32c: 0,
    }; 7];
    let mut prev_end = table_end as u64;
    for (i, s) in Section::ALL.iter().enumerate() {
        let e = SectionEntry::decode(&table[i * SECTION_ENTRY_LEN..(i + 1) * SECTION_ENTRY_LEN]);
        let bad = |reason: String| corrupt(path, s.name(), reason);
        if e.kind != *s as u32 {
            return Err(bad(format!(
                "table row {i} has kind {}, expected {}",
                e.kind, *s as u32
            )));
        }
        if !e.offset.is_multiple_of(ALIGN) || e.offset < prev_end {
            return Err(bad(format!(
                "offset {} is misaligned or overlaps the previous section",
                e.offset
            )));
        }
        // Padding is outside every checksum, so it must be zero.
        let gap = bytes
            .get(prev_end as usize..e.offset as usize)
            .unwrap_or(&[]);
        if gap.iter().any(|&b| b != 0) {
            return Err(bad(format!("non-zero padding before offset {}", e.offset)));
        }
        let end = e
            .offset
            .checked_add(e.length)
            .filter(|&end| end <= bytes.len() as u64);
        let Some(end) = end else {
            return Err(bad(format!(
                "bytes {}..{} run past the end of the {}-byte file (truncated?)",
                e.offset,
                e.offset.saturating_add(e.length),
                bytes.len()
            )));
        };
        if let Some(want) = expected(*s) {
            if e.length != want {
                return Err(bad(format!("length {} bytes, expected {want}", e.length)));
            }
        }
        if *s == Section::UpperLinks && !e.length.is_multiple_of(4) {
            return Err(bad(format!(
                "length {} is not a whole number of u32 words",
                e.length
            )));
        }
        out[i] = SectionInfo {
            name: s.name(),
            offset: e.offset,
            length: e.length,
            crc32c: e.crc,
        };
        prev_end = end;
    }
    if prev_end != bytes.len() as u64 {
        return Err(corrupt(
            path,
            "tombstones",
            format!(
                "sections end at byte {prev_end} but the file has {} bytes",
                bytes.len()
            ),
        ));
    }
    Ok(out)
}

/// Largest departure from unit length (of the squared norm) accepted for a
/// stored cosine vector; the writer's f64 normalisation lands within ~1e-6.
const UNIT_NORM_TOLERANCE: f64 = 1e-3;

/// Checks every stored vector (tombstoned ones still route searches) as the
/// write path checked it before storing: finite components and norm, and
/// unit length under cosine. A NaN would make distances unordered.
fn check_vectors(path: &Path, metric: Metric, vectors: &[f32], dim: usize) -> Result<()> {
    for (node, row) in vectors.chunks_exact(dim).enumerate() {
        let bad = |why: String| {
            corrupt(
                path,
                "vectors",
                format!("node {node}: {why}; the writer never stores such a vector"),
            )
        };
        let norm_sq = metric.validate(row, dim).map_err(|e| bad(e.to_string()))?;
        if metric == Metric::Cosine && (norm_sq - 1.0).abs() > UNIT_NORM_TOLERANCE {
            return Err(bad(format!(
                "squared norm {norm_sq}, expected 1 (cosine vectors are stored normalised)"
            )));
        }
    }
    Ok(())
}

/// Checks blocks of `stride` words (count, then `stride − 1` slots): counts
/// within the block and every used slot naming a node below `n`.
fn check_links(
    path: &Path,
    section: &'static str,
    words: &[u32],
    stride: usize,
    n: usize,
) -> Result<()> {
    for (b, block) in words.chunks_exact(stride).enumerate() {
        let count = block[0] as usize;
        if count > stride - 1 {
            return Err(corrupt(
                path,
                section,
                format!("block {b} claims {count} links, at most {}", stride - 1),
            ));
        }
        if let Some(&bad) = block[1..=count].iter().find(|&&id| id as usize >= n) {
            return Err(corrupt(
                path,
                section,
                format!("block {b} links to node {bad}, but there are {n} nodes"),
            ));
        }
    }
    Ok(())
}
