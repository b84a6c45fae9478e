//! One collection: a directory holding `collection.toml` (its config),
//! `wal.log`, `manifest.toml` and the sealed segments' files.
//!
//! **Write path.** A write is validated whole (one bad point rejects the
//! batch), appended to the WAL under the writer lock, fsynced per the
//! policy, applied to the in-memory state, and only then acknowledged.
//! Applying is deterministic (points are linked one by one, in log order),
//! so replaying the WAL after a restart rebuilds the same appendable graph
//! and searches answer the same.
//!
//! **Segments.** New points go to the appendable in-memory [`Hnsw`]. When it
//! holds `segment_max_points` nodes it is sealed: saved as an index file,
//! opened as an mmap view, the changed tombstone files written, the
//! manifest replaced (new segment, checkpoint LSN), then the WAL truncated.
//! A crash at any step leaves either the old manifest (the WAL still holds
//! everything) or the new one (replay skips what it covers).
//!
//! **Failures.** A write whose WAL append fails (a full disk:
//! [`StorageError::DiskFull`]) is rolled back and changes nothing. A seal
//! that fails leaves the previous segments in force and removes its files;
//! the write that triggered it is still acknowledged (it is in the WAL),
//! and the seal is retried by a write at least `SEAL_RETRY_DELAY` later.
//! When a failure cannot be undone (the WAL cannot be cut back, a logged
//! write fails to apply) the collection refuses writes with
//! [`StorageError::WritesStopped`] until a restart recovers from the files;
//! reads go on.
//!
//! **Concurrency.** Searches run under a read lock alongside the write in
//! progress: they may see a point of an unacknowledged upsert batch before
//! the rest of it (a replaced point with its new vector but still its old
//! payload), but never a point whose delete was acknowledged before the
//! search began (`tests/stress.rs`).
//!
//! **Invariant.** An id is live in at most one segment: an upsert of an id
//! held by a sealed segment tombstones it there, so only the newest version
//! is ever returned.
//!
//! **Identity.** A collection is its handle, not its name or path. A
//! delete retires the handle (`Collection::retire`) under the writer lock:
//! it waits for the write (and seal) in progress, moves the directory
//! away, and from then on every write and sync of the handle answers
//! [`StorageError::NotFound`] without touching a file. So a search or write
//! still holding the old handle can never write into a collection created
//! later under the same name (and therefore at the same path).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;
use roaring::RoaringTreemap;
use serde::{Deserialize, Serialize};
use waypoint_index::{
    Filter as EngineFilter, Hnsw, HnswParams, HnswView, Metric, Neighbor, SearchParams,
};

use super::cancel::Cancel;
use super::filter::Filter;
use super::manifest::Manifest;
use super::payload::{self, Payload, PayloadIndex, Term, Value};
use super::segment::{self, Sealed};
use super::wal::{self, Operation, PointWrite, Wal};
use super::{fsio, StorageError};

pub(crate) const CONFIG_FILE: &str = "collection.toml";
pub(crate) const MANIFEST_FILE: &str = "manifest.toml";
pub(crate) const WAL_FILE: &str = "wal.log";

/// When acknowledged writes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WalSync {
    /// fsync each record before acknowledging it.
    Always,
    /// Leave flushing to the OS.
    Never,
    /// fsync every `wal_sync_interval_ms` in the background.
    Periodic,
}

/// A collection's settings, fixed at creation. Reading `collection.toml`
/// denies unknown keys: a config from a newer Waypoint is refused, not
/// half understood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name (`[A-Za-z0-9_-]{1,64}`).
    pub name: String,
    /// Vector dimension.
    pub dim: usize,
    /// Distance metric (`l2`, `cosine`, `ip`).
    #[serde(with = "metric_text")]
    pub metric: Metric,
    /// HNSW `M`.
    pub m: usize,
    /// HNSW `ef_construction`.
    pub ef_construction: usize,
    /// Nodes the appendable segment holds before it is sealed.
    pub segment_max_points: u64,
    /// WAL sync policy.
    pub wal_sync: WalSync,
    /// Interval of [`WalSync::Periodic`], in milliseconds.
    pub wal_sync_interval_ms: u32,
}

mod metric_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use waypoint_index::Metric;

    pub fn serialize<S: Serializer>(m: &Metric, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(m)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Metric, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Config {
    fn params(&self) -> HnswParams {
        HnswParams::default()
            .with_m(self.m)
            .with_ef_construction(self.ef_construction)
    }

    /// Checks the engine parameters and the segment limit.
    ///
    /// # Errors
    /// [`StorageError::InvalidArgument`] naming the bad field.
    pub fn validate(&self) -> Result<(), StorageError> {
        let invalid = |e: waypoint_index::Error| StorageError::InvalidArgument(e.to_string());
        Hnsw::new(self.dim, self.metric, self.params()).map_err(invalid)?;
        if self.segment_max_points == 0 || self.segment_max_points > 1 << 30 {
            return Err(StorageError::InvalidArgument(format!(
                "segment_max_points must be 1..={}, got {}",
                1u64 << 30,
                self.segment_max_points
            )));
        }
        if self.wal_sync == WalSync::Periodic && self.wal_sync_interval_ms == 0 {
            return Err(StorageError::InvalidArgument(
                "wal_sync_interval_ms must be at least 1 for the periodic policy".into(),
            ));
        }
        Ok(())
    }

    /// Checks one point of an upsert, the one at `position` in its batch:
    /// its vector for this collection's dimension and metric, and its
    /// payload. The write path runs it on every request, replay on every
    /// logged point.
    ///
    /// # Errors
    /// [`StorageError::Engine`] or [`StorageError::InvalidArgument`], naming
    /// the position and id.
    fn check_point(&self, position: usize, p: &PointWrite) -> Result<(), StorageError> {
        self.metric
            .check(&p.vector, self.dim)
            .map_err(|e| StorageError::engine(format!("point {position} (id {}): ", p.id), e))?;
        payload::validate(&p.payload).map_err(|e| {
            StorageError::InvalidArgument(format!("point {position} (id {}): {e}", p.id))
        })
    }

    /// Checks that `op` is one the write path could have logged: every
    /// point passes [`Config::check_point`] and no id appears twice.
    ///
    /// # Errors
    /// The first failing check, as [`Config::check_point`] or
    /// [`StorageError::InvalidArgument`] for a repeated id.
    pub(crate) fn check_operation(&self, op: &Operation) -> Result<(), StorageError> {
        let ids: Vec<u64> = match op {
            Operation::Upsert(points) => {
                for (i, p) in points.iter().enumerate() {
                    self.check_point(i, p)?;
                }
                points.iter().map(|p| p.id).collect()
            }
            Operation::Delete(ids) => ids.clone(),
        };
        let mut seen = HashSet::with_capacity(ids.len());
        match ids.into_iter().find(|&id| !seen.insert(id)) {
            Some(id) => Err(StorageError::InvalidArgument(format!(
                "id {id} appears twice in one operation"
            ))),
            None => Ok(()),
        }
    }
}

/// A collection's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Live points.
    pub points: u64,
    /// Deleted or replaced points still held as tombstones.
    pub deleted: u64,
    /// Sealed segments plus the appendable one.
    pub segments: u32,
    /// Bytes of the collection's files.
    pub bytes: u64,
}

/// A k-nearest-neighbour query.
#[derive(Debug, Clone)]
pub struct Query {
    /// The query vector.
    pub vector: Vec<f32>,
    /// Hits wanted.
    pub k: usize,
    /// Candidate list size (`None`: the index default).
    pub ef: Option<usize>,
    /// Brute force instead of the graph.
    pub exact: bool,
    /// Restrict the points searched.
    pub filter: Option<Filter>,
    /// Return payloads.
    pub with_payload: bool,
    /// Return stored vectors.
    pub with_vectors: bool,
    /// Checked before each segment is searched.
    pub cancel: Cancel,
}

/// A stored point as read back (or a search hit).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Id.
    pub id: u64,
    /// Distance to the query (search hits only; 0 for a plain read).
    pub distance: f32,
    /// Payload, if asked for.
    pub payload: Option<Payload>,
    /// Stored vector (unit length under cosine), if asked for.
    pub vector: Option<Vec<f32>>,
}

/// One group of a grouped search.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group's value.
    pub key: Value,
    /// Its best hits, closest first.
    pub hits: Vec<Record>,
}

/// Whether a collection serves reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Serving reads and writes.
    ReadWrite,
    /// Its WAL holds a record that opening refused: everything before that
    /// record is served, writes are refused until `waypoint repair` cuts
    /// the log there. `reason` names the file, byte offset and LSN.
    ReadOnly {
        /// Why (file, offset, LSN, what was wrong).
        reason: String,
    },
    /// One of its files changed under the running server (a segment
    /// truncated or rewritten by another program): searches and reads fail
    /// until it is restored and the server restarted. `reason` names the file.
    Damaged {
        /// Why (the file and what changed).
        reason: String,
    },
}

/// The in-memory state, rebuilt at open from segments and the WAL.
struct State {
    appendable: Arc<Hnsw>,
    sealed: Vec<Sealed>,
    /// Payloads of the live points.
    payloads: HashMap<u64, Payload>,
    index: PayloadIndex,
    /// Every live id.
    live: RoaringTreemap,
    manifest: Manifest,
}

/// A grouped search looks at most this many times `k · group_size` of the
/// nearest points holding its key.
pub const GROUP_FETCH_FACTOR: usize = 128;

/// After a seal fails (a full disk, say), the writes that follow skip
/// sealing for this long instead of each rewriting the whole segment.
const SEAL_RETRY_DELAY: Duration = Duration::from_secs(1);

/// What the writer lock guards.
struct Writer {
    wal: Wal,
    /// Set after a failed seal: no new attempt before this instant.
    seal_retry_at: Option<Instant>,
}

/// An open collection. Every method blocks (disk and CPU): call them off
/// the async runtime.
pub struct Collection {
    config: Config,
    dir: PathBuf,
    /// The writer lock: held across log, apply and seal of one write.
    writer: Mutex<Writer>,
    state: RwLock<State>,
    /// Set by [`Collection::retire`] under the writer lock; every path
    /// that touches a file checks it under the writer lock first.
    retired: AtomicBool,
    /// Set at open when the WAL holds a refused record (see [`Health::ReadOnly`]).
    read_only: Option<wal::Damage>,
    /// Set when a segment file is found changed (see [`Health::Damaged`]).
    damaged: RwLock<Option<String>>,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("config", &self.config)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Collection {
    /// Writes the config of a new, empty collection into the existing,
    /// empty directory `dir`; [`Collection::open`] it afterwards.
    ///
    /// # Errors
    /// [`StorageError::InvalidArgument`] for a bad config; [`StorageError::Io`].
    pub fn create(dir: &Path, config: &Config) -> Result<(), StorageError> {
        config.validate()?;
        let text = toml::to_string(config).expect("a config always serialises");
        fsio::write_atomic(&dir.join(CONFIG_FILE), text.as_bytes())
    }

    /// Opens the collection in `dir`: config, manifest, sealed segments,
    /// then the WAL replayed after the checkpoint. Each replayed operation
    /// is checked as the write path checks a request before it is applied.
    /// Replay stops at a damaged record followed by others, or one holding
    /// an operation the write path refuses: the collection then opens
    /// read-only ([`Health::ReadOnly`]) with everything before it.
    ///
    /// # Errors
    /// [`StorageError::Corrupt`] (file and offset) or an engine corruption
    /// error for damaged files, including a config or manifest with unknown
    /// keys or another version; [`StorageError::Io`].
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        let config_path = dir.join(CONFIG_FILE);
        let config: Config = fsio::read_toml(&config_path)?.ok_or_else(|| {
            let missing = std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "a collection directory must hold its config",
            );
            StorageError::io(&config_path, missing)
        })?;
        config
            .validate()
            .map_err(|e| StorageError::corrupt(&config_path, 0, e.to_string()))?;
        let manifest = Manifest::load(&dir.join(MANIFEST_FILE))?;
        // Files of a seal that crashed before its manifest was written, and
        // temporary files of writes a crash interrupted.
        Sealed::remove_files(dir, manifest.next_segment);
        fsio::remove_temp_files(dir);

        let mut state = State {
            appendable: Arc::new(new_appendable(&config)?),
            sealed: Vec::with_capacity(manifest.segments.len()),
            payloads: HashMap::new(),
            index: PayloadIndex::default(),
            live: RoaringTreemap::new(),
            manifest,
        };
        for &n in &state.manifest.segments {
            let (sealed, points) = Sealed::open(dir, n)?;
            if sealed.view.dim() != config.dim || sealed.view.metric() != config.metric {
                return Err(StorageError::corrupt(
                    segment::index_path(dir, n),
                    0,
                    format!(
                        "segment is {}-d {}, the collection {}-d {}",
                        sealed.view.dim(),
                        sealed.view.metric(),
                        config.dim,
                        config.metric
                    ),
                ));
            }
            for (id, payload) in points {
                state.index.insert(id, &payload);
                state.payloads.insert(id, payload);
                state.live.insert(id);
            }
            state.sealed.push(sealed);
        }
        let wal_path = dir.join(WAL_FILE);
        let recovered = Wal::open(&wal_path, state.manifest.checkpoint_lsn)?;
        if recovered.torn_bytes > 0 {
            tracing::warn!(
                collection = %config.name,
                wal = %wal_path.display(),
                bytes = recovered.torn_bytes,
                "dropped a torn record at the WAL's tail (never acknowledged)"
            );
        }
        // Replay up to the first record that is damaged or that no write
        // could have logged (a bug, or a hand edit); from there the
        // collection is read-only, serving everything before it.
        let mut read_only = recovered.damage;
        let mut replayed = 0;
        for logged in recovered.records {
            let (offset, lsn) = (logged.offset, logged.lsn);
            let refused = |what: &str, e: StorageError| {
                wal::Damage::refused(&wal_path, offset, lsn, format!("{what}: {e}"))
            };
            if let Err(e) = config.check_operation(&logged.op) {
                read_only = Some(refused("not a valid write", e));
                break;
            }
            if let Err(e) = state.apply(logged.op) {
                read_only = Some(refused("could not be applied", e));
                break;
            }
            replayed += 1;
        }
        if let Some(damage) = &read_only {
            tracing::error!(
                collection = %config.name,
                %damage,
                "the WAL holds a record that cannot be replayed: serving everything before it, read-only; stop the server and run `waypoint repair`"
            );
        }
        tracing::info!(
            collection = %config.name,
            points = state.live.len(),
            sealed_segments = state.sealed.len(),
            replayed_records = replayed,
            "collection opened"
        );
        Ok(Collection {
            config,
            dir: dir.to_path_buf(),
            writer: Mutex::new(Writer {
                wal: recovered.wal,
                seal_retry_at: None,
            }),
            state: RwLock::new(state),
            retired: AtomicBool::new(false),
            read_only,
            damaged: RwLock::new(None),
        })
    }

    /// Retires this handle for a delete: waits for the write in progress
    /// (the writer lock), renames the directory to `to` (in the same
    /// parent, fsynced), and makes every later write and sync answer
    /// [`StorageError::NotFound`]. Reads of a retired handle go on from
    /// memory and the (unlinked but still mapped) segment files.
    ///
    /// # Errors
    /// [`StorageError::Io`] if the rename fails (then nothing changed) or
    /// its directory fsync fails (then the handle is retired all the same:
    /// the directory has moved).
    pub(crate) fn retire(&self, to: &Path) -> Result<(), StorageError> {
        let _writer = self.writer.lock();
        std::fs::rename(&self.dir, to).map_err(|e| StorageError::io(&self.dir, e))?;
        self.retired.store(true, Ordering::Release);
        fsio::sync_dir(to.parent().unwrap_or(Path::new(".")))
    }

    /// [`StorageError::NotFound`] once [`Collection::retire`] ran; call it
    /// under the writer lock.
    fn check_live(&self) -> Result<(), StorageError> {
        if self.retired.load(Ordering::Acquire) {
            return Err(StorageError::NotFound(self.config.name.clone()));
        }
        Ok(())
    }

    /// The collection's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether it serves reads and writes, and if not, why.
    pub fn health(&self) -> Health {
        if let Some(reason) = self.damaged.read().clone() {
            return Health::Damaged { reason };
        }
        match &self.read_only {
            Some(damage) => Health::ReadOnly {
                reason: damage.to_string(),
            },
            None => Health::ReadWrite,
        }
    }

    /// The WAL record where replay stopped, if it did (see
    /// [`Health::ReadOnly`]).
    pub fn wal_damage(&self) -> Option<&wal::Damage> {
        self.read_only.as_ref()
    }

    /// `Ok` unless a file was found changed under the server.
    ///
    /// # Errors
    /// [`StorageError::Damaged`].
    fn check_readable(&self) -> Result<(), StorageError> {
        match self.damaged.read().clone() {
            None => Ok(()),
            Some(reason) => Err(StorageError::Damaged {
                name: self.config.name.clone(),
                reason,
            }),
        }
    }

    /// `Ok` if writes are taken.
    ///
    /// # Errors
    /// [`StorageError::Damaged`], [`StorageError::ReadOnly`].
    fn check_writable(&self) -> Result<(), StorageError> {
        self.check_readable()?;
        match &self.read_only {
            None => Ok(()),
            Some(damage) => Err(StorageError::ReadOnly {
                name: self.config.name.clone(),
                reason: damage.to_string(),
            }),
        }
    }

    /// Passes `result` through; an engine report that a segment file
    /// changed under its view marks the collection damaged and becomes
    /// [`StorageError::Damaged`].
    fn noting_damage<T>(&self, result: Result<T, StorageError>) -> Result<T, StorageError> {
        match result {
            Err(StorageError::Engine {
                source: source @ waypoint_index::Error::FileChanged { .. },
                ..
            }) => {
                let reason = source.to_string();
                tracing::error!(collection = %self.config.name, %reason, "a segment file changed under the server; the collection is damaged, the others keep serving");
                let reason = self.damaged.write().get_or_insert(reason).clone();
                Err(StorageError::Damaged {
                    name: self.config.name.clone(),
                    reason,
                })
            }
            other => other,
        }
    }

    /// Current size.
    pub fn stats(&self) -> Stats {
        let state = self.state.read();
        let deleted = state.appendable.deleted_count() as u64
            + state
                .sealed
                .iter()
                .map(|s| s.view.deleted_count() as u64 + s.tombstones.len())
                .sum::<u64>();
        // A retired handle's path may already belong to a successor.
        let listing = if self.retired.load(Ordering::Acquire) {
            Err(std::io::ErrorKind::NotFound.into())
        } else {
            std::fs::read_dir(&self.dir)
        };
        let bytes = listing
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        Stats {
            points: state.live.len(),
            deleted,
            segments: state.sealed.len() as u32 + 1,
            bytes,
        }
    }

    /// Inserts or replaces `points` as one durable operation; returns its
    /// LSN. An id given twice keeps its last occurrence.
    ///
    /// # Errors
    /// [`StorageError::Engine`] (with the point's position and id) or
    /// [`StorageError::InvalidArgument`] for the first bad point, before
    /// anything is written; [`StorageError::Io`] if the WAL append fails
    /// (nothing applied); [`StorageError::NotFound`] once the collection
    /// was deleted.
    pub fn upsert(&self, points: Vec<PointWrite>) -> Result<u64, StorageError> {
        for (i, p) in points.iter().enumerate() {
            self.config.check_point(i, p)?;
        }
        let mut seen = HashSet::with_capacity(points.len());
        let mut points: Vec<PointWrite> = points
            .into_iter()
            .rev()
            .filter(|p| seen.insert(p.id))
            .collect();
        points.reverse();
        self.write(|_| Some(Operation::Upsert(points)))
            .map(|(lsn, _)| lsn)
    }

    /// Deletes the present ids among `ids`; returns how many were present
    /// and the LSN (0 if nothing was present and nothing was logged).
    ///
    /// # Errors
    /// [`StorageError::Io`] if the WAL append fails;
    /// [`StorageError::NotFound`] once the collection was deleted.
    pub fn delete_ids(&self, ids: &[u64]) -> Result<(u64, u64), StorageError> {
        self.delete_where(|state| {
            ids.iter()
                .copied()
                .filter(|&id| state.live.contains(id))
                .collect()
        })
    }

    /// Deletes every point passing `filter`.
    ///
    /// # Errors
    /// As [`Collection::delete_ids`].
    pub fn delete_filtered(&self, filter: &Filter) -> Result<(u64, u64), StorageError> {
        self.delete_where(|state| filter.evaluate(&state.index, &state.live).iter().collect())
    }

    fn delete_where(
        &self,
        select: impl FnOnce(&State) -> Vec<u64>,
    ) -> Result<(u64, u64), StorageError> {
        let mut count = 0;
        let (lsn, _) = self.write(|state| {
            let mut ids = select(state);
            ids.sort_unstable();
            ids.dedup();
            count = ids.len() as u64;
            (!ids.is_empty()).then_some(Operation::Delete(ids))
        })?;
        Ok((count, lsn))
    }

    /// Logs the operation `make` returns (chosen under the writer lock, from
    /// the current state), applies it, and seals if the appendable segment
    /// is full. Returns `(lsn, logged)`; `(0, false)` if `make` returned
    /// `None`.
    ///
    /// A logged operation that fails to apply leaves memory behind the log,
    /// so the WAL is stopped: writes fail with
    /// [`StorageError::WritesStopped`] until a restart replays the log.
    fn write(
        &self,
        make: impl FnOnce(&State) -> Option<Operation>,
    ) -> Result<(u64, bool), StorageError> {
        self.check_writable()?;
        let mut writer = self.writer.lock();
        self.check_live()?;
        let op = {
            let state = self.state.read();
            make(&state)
        };
        let Some(op) = op else {
            return Ok((0, false));
        };
        let lsn = writer
            .wal
            .append(&op, self.config.wal_sync == WalSync::Always)?;
        if let Err(e) = self.state.read().link_vectors(&op) {
            writer.wal.stop(format!(
                "the write at LSN {lsn} is logged but applying it failed ({e})"
            ));
            return Err(e);
        }
        self.state.write().bookkeep(op);
        let full =
            self.state.read().appendable.node_count() as u64 >= self.config.segment_max_points;
        let due = writer.seal_retry_at.is_none_or(|at| Instant::now() >= at);
        if full && due {
            // The write is durable in the WAL whatever happens here; a
            // failed seal changed nothing and is retried by a later write.
            writer.seal_retry_at = None;
            if let Err(e) = self.seal(&mut writer.wal) {
                tracing::error!(collection = %self.config.name, error = %e, "sealing the appendable segment failed; retrying in {SEAL_RETRY_DELAY:?}");
                writer.seal_retry_at = Some(Instant::now() + SEAL_RETRY_DELAY);
            }
        }
        Ok((lsn, true))
    }

    /// Seals the appendable segment (see the module docs). Holds the writer
    /// lock, so no write is in between.
    ///
    /// A failure before the manifest is replaced removes the new segment's
    /// files and changes nothing else (tombstone files it already rewrote
    /// hold only deletes the WAL replays anyway). If the manifest was
    /// replaced but the directory fsync failed, the seal stands in memory
    /// and the WAL is kept (replay skips what the manifest covers); if it is
    /// unknown whether it was replaced, writes stop until a restart.
    fn seal(&self, wal: &mut Wal) -> Result<(), StorageError> {
        let (hnsw, number) = {
            let state = self.state.read();
            (Arc::clone(&state.appendable), state.manifest.next_segment)
        };
        let prepared = self
            .write_segment(&hnsw, number)
            .and_then(|view| Ok((view, Arc::new(new_appendable(&self.config)?))));
        let (view, fresh) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                Sealed::remove_files(&self.dir, number);
                return Err(e);
            }
        };
        // The files are written under the read lock, so searches go on; the
        // writer lock keeps tombstones and the manifest from changing.
        let manifest_path = self.dir.join(MANIFEST_FILE);
        let (manifest, unsynced) = {
            let state = self.state.read();
            let mut manifest = state.manifest.clone();
            manifest.segments.push(number);
            manifest.next_segment = number + 1;
            manifest.checkpoint_lsn = wal.next_lsn() - 1;
            let stored = state
                .sealed
                .iter()
                .try_for_each(|sealed| sealed.persist_tombstones(&self.dir))
                .and_then(|()| manifest.store(&manifest_path));
            let unsynced = match stored {
                Ok(()) => None,
                Err(e) => match Manifest::load(&manifest_path) {
                    Ok(on_disk) if on_disk == manifest => Some(e),
                    Ok(_) => {
                        drop(state);
                        Sealed::remove_files(&self.dir, number);
                        return Err(e);
                    }
                    Err(unreadable) => {
                        wal.stop(format!(
                            "sealing segment {number}: writing the manifest failed ({e}) and reading it back failed ({unreadable})"
                        ));
                        return Err(e);
                    }
                },
            };
            (manifest, unsynced)
        };
        let mut state = self.state.write();
        for sealed in &mut state.sealed {
            sealed.dirty = false;
        }
        state.manifest = manifest;
        state.sealed.push(Sealed {
            number,
            view,
            tombstones: RoaringTreemap::new(),
            dirty: false,
        });
        state.appendable = fresh;
        drop(state);
        tracing::info!(collection = %self.config.name, segment = number, points = hnsw.len(), "sealed a segment");
        match unsynced {
            None => wal.truncate(),
            Some(e) => Err(e),
        }
    }

    /// Writes segment `number`'s index and points files from `hnsw` and
    /// opens the index as an mmap view.
    fn write_segment(&self, hnsw: &Hnsw, number: u64) -> Result<HnswView, StorageError> {
        let path = segment::index_path(&self.dir, number);
        hnsw.save(&path)?;
        {
            let state = self.state.read();
            let ids = hnsw.ids();
            let empty = Payload::new();
            let points: Vec<(u64, &Payload)> = ids
                .iter()
                .map(|&id| (id, state.payloads.get(&id).unwrap_or(&empty)))
                .collect();
            segment::write_points(&self.dir, number, &points)?;
        }
        Ok(HnswView::open(&path)?)
    }

    /// fsyncs the WAL (nothing to do for a retired handle).
    ///
    /// # Errors
    /// [`StorageError::Io`].
    pub fn sync(&self) -> Result<(), StorageError> {
        let writer = self.writer.lock();
        if self.retired.load(Ordering::Acquire) {
            return Ok(());
        }
        writer.wal.sync()
    }

    /// The present points among `ids`, in request order.
    ///
    /// # Errors
    /// [`StorageError::Damaged`] if a segment file changed under the server
    /// (found now, reading vectors, or before).
    pub fn get(
        &self,
        ids: &[u64],
        with_vectors: bool,
        with_payload: bool,
    ) -> Result<Vec<Record>, StorageError> {
        self.check_readable()?;
        let state = self.state.read();
        let records = ids
            .iter()
            .filter(|&&id| state.live.contains(id))
            .map(|&id| state.record(id, 0.0, with_vectors, with_payload))
            .collect();
        if with_vectors {
            // Vectors were read from the mapped segments: make sure they
            // were what the files held.
            self.noting_damage(state.check_segments())?;
        }
        Ok(records)
    }

    /// Live points passing `filter` (all, if `None`).
    pub fn count(&self, filter: Option<&Filter>) -> u64 {
        let state = self.state.read();
        match filter {
            Some(f) => f.evaluate(&state.index, &state.live).len(),
            None => state.live.len(),
        }
    }

    /// The `k` nearest live points: every segment searched (in parallel),
    /// tombstones and the filter applied, results merged. Closest first,
    /// ties to the smaller id.
    ///
    /// # Errors
    /// [`StorageError::Engine`] for a bad query (dimension, non-finite,
    /// zero under cosine, `k = 0`, `ef = 0`); [`StorageError::Damaged`] if
    /// a segment file changed under the server (now or before).
    pub fn search(&self, query: &Query) -> Result<Vec<Record>, StorageError> {
        self.check_readable()?;
        let state = self.state.read();
        let hits = self.noting_damage(state.knn(query, query.k))?;
        if query.with_vectors {
            self.noting_damage(state.check_segments())?;
        }
        Ok(hits
            .into_iter()
            .map(|n| state.record(n.id, n.distance, query.with_vectors, query.with_payload))
            .collect())
    }

    /// Several queries, answered in order (in parallel).
    ///
    /// # Errors
    /// The first failing query's error, prefixed with `search {i}: `.
    pub fn search_batch(&self, queries: &[Query]) -> Result<Vec<Vec<Record>>, StorageError> {
        queries
            .par_iter()
            .enumerate()
            .map(|(i, q)| {
                self.search(q).map_err(|e| match e {
                    StorageError::Engine { context, source } => {
                        StorageError::engine(format!("search {i}: {context}"), source)
                    }
                    other => other,
                })
            })
            .collect()
    }

    /// Up to `query.k` groups of points sharing a value of `group_by`, each
    /// with its best `group_size` hits; groups in order of their best hit.
    /// Points without the key (or with a float there) are skipped; a keyword
    /// list puts a point in each of its keywords' groups.
    ///
    /// Only points holding the key are searched (a key no point has costs
    /// one lookup), and groups are formed from at most the nearest
    /// [`GROUP_FETCH_FACTOR`]` · k · group_size` of them: when a few groups
    /// hold nearly every point, fewer than `k` groups (or groups short of
    /// `group_size`) may come back rather than the whole collection being
    /// scanned.
    ///
    /// # Errors
    /// As [`Collection::search`].
    pub fn search_groups(
        &self,
        query: &Query,
        group_by: &str,
        group_size: usize,
    ) -> Result<Vec<Group>, StorageError> {
        self.check_readable()?;
        let state = self.state.read();
        let mut allowed = state.index.holders(group_by);
        if let Some(filtered) = state.allowed(query) {
            allowed &= filtered;
        }
        let wanted = (query.k * group_size).max(1);
        let most = (allowed.len() as usize).min(wanted.saturating_mul(GROUP_FETCH_FACTOR));
        let mut fetch = (wanted * 2).min(most);
        loop {
            if fetch == 0 {
                return Ok(Vec::new());
            }
            let hits = self.noting_damage(state.knn_among(query, fetch, Some(&allowed)))?;
            let mut order: Vec<Term> = Vec::new();
            let mut groups: HashMap<Term, Vec<Neighbor>> = HashMap::new();
            for n in &hits {
                let Some(value) = state.payloads.get(&n.id).and_then(|p| p.get(group_by)) else {
                    continue;
                };
                for term in value.terms() {
                    let members = groups.entry(term.clone()).or_insert_with(|| {
                        order.push(term.clone());
                        Vec::new()
                    });
                    if members.len() < group_size {
                        members.push(*n);
                    }
                }
            }
            order.truncate(query.k);
            let complete =
                order.len() == query.k && order.iter().all(|t| groups[t].len() == group_size);
            if complete || hits.len() < fetch || fetch >= most {
                return Ok(order
                    .into_iter()
                    .map(|term| Group {
                        hits: groups[&term]
                            .iter()
                            .map(|n| {
                                state.record(
                                    n.id,
                                    n.distance,
                                    query.with_vectors,
                                    query.with_payload,
                                )
                            })
                            .collect(),
                        key: match term {
                            Term::Keyword(s) => Value::Keyword(s),
                            Term::Integer(i) => Value::Integer(i),
                            Term::Bool(b) => Value::Bool(b),
                        },
                    })
                    .collect());
            }
            fetch = (fetch * 4).min(most);
        }
    }
}

/// An empty appendable segment. It starts without room for any node and
/// grows by doubling as points arrive, so an empty collection costs almost
/// no memory whatever its `m` (a preallocated one cost 132 MiB at m = 256).
fn new_appendable(config: &Config) -> Result<Hnsw, StorageError> {
    Ok(Hnsw::new(config.dim, config.metric, config.params())?)
}

impl State {
    /// Applies a logged operation: [`State::link_vectors`], then
    /// [`State::bookkeep`]. Deterministic: the same operations in the same
    /// order give the same state.
    fn apply(&mut self, op: Operation) -> Result<(), StorageError> {
        self.link_vectors(&op)?;
        self.bookkeep(op);
        Ok(())
    }

    /// Inserts an upsert's vectors into the appendable graph, in log order.
    /// Needs only shared access (the graph takes concurrent inserts and the
    /// WAL lock keeps a single writer), so searches go on meanwhile; a
    /// replaced id may briefly be found in two segments, which the merge in
    /// [`State::knn`] resolves to the newest.
    fn link_vectors(&self, op: &Operation) -> Result<(), StorageError> {
        if let Operation::Upsert(points) = op {
            for p in points {
                self.appendable
                    .insert(p.id, &p.vector)
                    .map_err(|e| StorageError::engine(format!("id {}: ", p.id), e))?;
            }
        }
        Ok(())
    }

    /// Records an operation's payloads, liveness and tombstones (the quick
    /// part, under the write lock), after [`State::link_vectors`].
    fn bookkeep(&mut self, op: Operation) {
        match op {
            Operation::Upsert(points) => {
                for p in points {
                    // The appendable graph already replaced its own older
                    // version; an older one in a sealed segment is buried.
                    self.forget(p.id);
                    self.index.insert(p.id, &p.payload);
                    self.payloads.insert(p.id, p.payload);
                    self.live.insert(p.id);
                }
            }
            Operation::Delete(ids) => {
                for id in ids {
                    if self.live.contains(id) && self.appendable.contains(id) {
                        // Present: deleting a live id cannot fail.
                        let _ = self.appendable.delete(id);
                    }
                    self.forget(id);
                }
            }
        }
    }

    /// Drops `id`'s payload and liveness, and tombstones it in the sealed
    /// segment that holds it (no-op for an id that is not live).
    fn forget(&mut self, id: u64) {
        if !self.live.remove(id) {
            return;
        }
        if let Some(old) = self.payloads.remove(&id) {
            self.index.remove(id, &old);
        }
        if let Some(sealed) = self.sealed.iter_mut().rev().find(|s| s.contains(id)) {
            sealed.tombstones.insert(id);
            sealed.dirty = true;
        }
    }

    /// Top `k` over every segment.
    fn knn(&self, query: &Query, k: usize) -> Result<Vec<Neighbor>, StorageError> {
        let allowed = self.allowed(query);
        self.knn_among(query, k, allowed.as_ref())
    }

    /// The ids `query`'s filter lets through (`None`: every live id).
    fn allowed(&self, query: &Query) -> Option<RoaringTreemap> {
        query
            .filter
            .as_ref()
            .map(|f| f.evaluate(&self.index, &self.live))
    }

    /// Top `k` over every segment among `allowed` (`None`: every live id).
    fn knn_among(
        &self,
        query: &Query,
        k: usize,
        allowed: Option<&RoaringTreemap>,
    ) -> Result<Vec<Neighbor>, StorageError> {
        let params = SearchParams {
            ef: query.ef,
            exact: query.exact,
            filter: allowed.map(EngineFilter::AllowList),
        };
        let search_segment = |i: usize| {
            query.cancel.check()?;
            Ok::<_, StorageError>(match i.checked_sub(1) {
                None => self.appendable.search(&query.vector, k, &params)?,
                Some(s) => {
                    self.sealed[s].search(&query.vector, k, query.ef, query.exact, allowed)?
                }
            })
        };
        // One segment runs on this thread: handing it to the rayon pool
        // costs a thread wake-up for nothing.
        let per_segment: Vec<Vec<Neighbor>> = if self.sealed.is_empty() {
            vec![search_segment(0)?]
        } else {
            (0..=self.sealed.len())
                .into_par_iter()
                .map(search_segment)
                .collect::<Result<_, _>>()?
        };
        // Newest segment first (the appendable one, then sealed from the
        // latest): an id found twice keeps only its newest version.
        let mut seen = HashSet::new();
        let mut newest_first = per_segment;
        newest_first[1..].reverse();
        let mut hits: Vec<Neighbor> = newest_first
            .into_iter()
            .flatten()
            .filter(|hit| seen.insert(hit.id))
            .collect();
        hits.sort_by(Neighbor::cmp_rank);
        hits.truncate(k);
        Ok(hits)
    }

    /// `Ok` if every sealed segment's file is as it was when opened.
    fn check_segments(&self) -> Result<(), StorageError> {
        for sealed in &self.sealed {
            sealed.view.check_intact()?;
        }
        Ok(())
    }

    fn record(&self, id: u64, distance: f32, with_vectors: bool, with_payload: bool) -> Record {
        Record {
            id,
            distance,
            payload: with_payload.then(|| self.payloads.get(&id).cloned().unwrap_or_default()),
            vector: with_vectors.then(|| self.vector(id)).flatten(),
        }
    }

    fn vector(&self, id: u64) -> Option<Vec<f32>> {
        self.appendable.get_vector(id).or_else(|| {
            self.sealed
                .iter()
                .rev()
                .find(|s| s.contains(id))
                .and_then(|s| s.view.get_vector(id).map(<[f32]>::to_vec))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(segment_max_points: u64) -> Config {
        Config {
            name: "c".into(),
            dim: 4,
            metric: Metric::L2Squared,
            m: 8,
            ef_construction: 32,
            segment_max_points,
            wal_sync: WalSync::Always,
            wal_sync_interval_ms: 0,
        }
    }

    fn point(id: u64) -> PointWrite {
        PointWrite {
            id,
            vector: vec![id as f32, 1.0, 2.0, 3.0],
            payload: Payload::new(),
        }
    }

    fn file_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn ids_found(c: &Collection, ids: std::ops::Range<u64>) -> Vec<u64> {
        ids.filter(|&id| {
            let hits = c
                .search(&Query {
                    vector: point(id).vector,
                    k: 1,
                    ef: None,
                    exact: false,
                    filter: None,
                    with_payload: false,
                    with_vectors: false,
                    cancel: Cancel::default(),
                })
                .unwrap();
            hits.first().map(|h| h.id) == Some(id)
        })
        .collect()
    }

    #[test]
    fn a_seal_that_fails_midway_changes_nothing_and_is_retried_later() {
        let dir = tempfile::tempdir().unwrap();
        Collection::create(dir.path(), &config(10)).unwrap();
        let c = Collection::open(dir.path()).unwrap();
        // A directory where segment 0's points file goes: its rename fails
        // after the index file was written.
        let blocker = dir.path().join("seg-000000.points");
        std::fs::create_dir(&blocker).unwrap();
        let before = file_names(dir.path());

        c.upsert((0..10).map(point).collect()).unwrap();
        assert_eq!(
            file_names(dir.path()),
            before,
            "the failed seal removed its index file and temporary files"
        );
        assert_eq!(c.stats().segments, 1, "nothing was sealed");
        assert_eq!(c.count(None), 10);
        assert_eq!(ids_found(&c, 0..10), (0..10).collect::<Vec<_>>());
        // Writes go on while the seal waits for its retry.
        c.upsert((10..12).map(point).collect()).unwrap();
        assert_eq!(c.stats().segments, 1);

        std::fs::remove_dir(&blocker).unwrap();
        std::thread::sleep(SEAL_RETRY_DELAY);
        c.upsert(vec![point(12)]).unwrap();
        assert_eq!(c.stats().segments, 2, "the retried seal succeeded");
        drop(c);

        let c = Collection::open(dir.path()).unwrap();
        assert_eq!(c.count(None), 13);
        assert_eq!(ids_found(&c, 0..13), (0..13).collect::<Vec<_>>());
        let stored = c.get(&[12], true, false).unwrap();
        assert_eq!(stored[0].vector.as_deref(), Some(&point(12).vector[..]));
    }
}
