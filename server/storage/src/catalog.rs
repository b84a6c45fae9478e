//! The catalog: every collection under `data_dir/collections/`, by name.
//!
//! Opened at start; a collection that fails to open (a damaged WAL record,
//! a corrupt segment) is kept as *unavailable* with its error, and the
//! others serve. Creation builds the directory under a hidden temporary
//! name and renames it into place, so a crash never leaves half a
//! collection; deletion renames it away first for the same reason.
//!
//! **Names and identities.** A name is reserved while its collection is
//! being created or deleted (it answers as absent, and a second create
//! gets `AlreadyExists`), and is free again only when the delete has
//! retired the old handle (`Collection::retire`: it waits for the write
//! in flight, and no later work of the old handle touches a file) and
//! moved its directory to a unique hidden name. So a collection re-created
//! under the same name never receives a file of its predecessor.
//!
//! **Locking.** The map lock is held only to look up, reserve and install
//! names, never across file work, fsyncs or waits for a collection's
//! writer lock, so create/delete churn does not stall other collections'
//! calls.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use super::collection::{Collection, Config, WalSync};
use super::syncer::Syncer;
use super::{fsio, StorageError};

/// Longest collection name.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a collection name against `[A-Za-z0-9_-]{1,64}`.
///
/// # Errors
/// [`StorageError::InvalidArgument`] saying what is wrong with it.
pub fn validate_name(name: &str) -> Result<(), StorageError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(StorageError::InvalidArgument(format!(
            "collection name must be 1 to {MAX_NAME_LEN} characters, got {}",
            name.chars().count()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(StorageError::InvalidArgument(format!(
            "collection name {name:?} has the character {c:?}; allowed are A-Z, a-z, 0-9, '_' and '-'"
        )));
    }
    Ok(())
}

enum Slot {
    Open(Arc<Collection>),
    Unavailable {
        reason: String,
        corrupt: bool,
    },
    /// Reserved by a create or delete in progress; answers as absent.
    Busy,
}

/// The collections of a data directory.
pub struct Catalog {
    root: PathBuf,
    slots: RwLock<BTreeMap<String, Slot>>,
    /// Numbers the hidden names deleted directories move to.
    deletions: AtomicU64,
    /// fsyncs the WALs under the periodic policy.
    syncer: Syncer,
    /// Most collections [`Catalog::create`] lets exist.
    max_collections: usize,
    /// Held open for the catalog's lifetime: its exclusive lock keeps a
    /// second server from writing the same WALs.
    _lock: File,
}

impl Catalog {
    /// Opens every collection under `data_dir/collections/` (creating the
    /// directories if needed), after taking an exclusive lock on
    /// `data_dir/LOCK` that lasts as long as the catalog. Leftovers of
    /// interrupted creates and deletes are removed. Every collection found
    /// opens, even beyond `max_collections`, the most [`Catalog::create`]
    /// allows.
    ///
    /// # Errors
    /// [`StorageError::InUse`] if another process holds the lock;
    /// [`StorageError::Io`] if the directory cannot be created or listed.
    /// Failures of single collections are not errors: they are logged and
    /// the collection answers as unavailable.
    pub fn open(data_dir: &Path, max_collections: usize) -> Result<Self, StorageError> {
        let root = data_dir.join("collections");
        std::fs::create_dir_all(&root).map_err(|e| StorageError::io(&root, e))?;
        let lock = lock_data_dir(data_dir)?;
        let syncer = Syncer::start();
        let mut slots = BTreeMap::new();
        let entries = std::fs::read_dir(&root).map_err(|e| StorageError::io(&root, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| StorageError::io(&root, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with('.') {
                let _ = std::fs::remove_dir_all(&path);
                continue;
            }
            if validate_name(&name).is_err() || !path.is_dir() {
                tracing::warn!(path = %path.display(), "ignoring an entry that is not a collection");
                continue;
            }
            let slot = match Collection::open(&path) {
                Ok(c) => Slot::Open(start(&syncer, c)),
                Err(e) => {
                    tracing::error!(collection = %name, error = %e, "collection failed to open; serving the others");
                    Slot::Unavailable {
                        reason: e.to_string(),
                        corrupt: e.is_corruption(),
                    }
                }
            };
            slots.insert(name, slot);
        }
        Ok(Catalog {
            root,
            slots: RwLock::new(slots),
            deletions: AtomicU64::new(0),
            syncer,
            max_collections,
            _lock: lock,
        })
    }

    /// The open collection `name`.
    ///
    /// # Errors
    /// [`StorageError::InvalidArgument`] for a malformed name,
    /// [`StorageError::NotFound`], [`StorageError::Unavailable`].
    pub fn get(&self, name: &str) -> Result<Arc<Collection>, StorageError> {
        validate_name(name)?;
        match self.slots.read().get(name) {
            Some(Slot::Open(c)) => Ok(Arc::clone(c)),
            Some(Slot::Unavailable { reason, corrupt }) => Err(StorageError::Unavailable {
                name: name.to_string(),
                reason: reason.clone(),
                corrupt: *corrupt,
            }),
            Some(Slot::Busy) | None => Err(StorageError::NotFound(name.to_string())),
        }
    }

    /// Every open collection, in name order.
    pub fn list(&self) -> Vec<Arc<Collection>> {
        self.slots
            .read()
            .values()
            .filter_map(|s| match s {
                Slot::Open(c) => Some(Arc::clone(c)),
                Slot::Unavailable { .. } | Slot::Busy => None,
            })
            .collect()
    }

    /// Creates collection `config.name`. A create that fails leaves no
    /// files behind.
    ///
    /// # Errors
    /// [`StorageError::InvalidArgument`] for a bad name or config,
    /// [`StorageError::AlreadyExists`], [`StorageError::LimitExceeded`]
    /// when the catalog holds `max_collections` already,
    /// [`StorageError::DiskFull`], [`StorageError::Io`].
    pub fn create(&self, config: Config) -> Result<Arc<Collection>, StorageError> {
        validate_name(&config.name)?;
        config.validate()?;
        let name = config.name.clone();
        {
            let mut slots = self.slots.write();
            if slots.contains_key(&name) {
                return Err(StorageError::AlreadyExists(name));
            }
            if slots.len() >= self.max_collections {
                return Err(StorageError::LimitExceeded(format!(
                    "the server holds {} collections, its limit (limits.max_collections = {}); \
                     delete one or raise the limit",
                    slots.len(),
                    self.max_collections
                )));
            }
            slots.insert(name.clone(), Slot::Busy);
        }
        let created = self.create_files(&config);
        let mut slots = self.slots.write();
        match created {
            Ok(collection) => {
                slots.insert(name, Slot::Open(Arc::clone(&collection)));
                Ok(collection)
            }
            Err(e) => {
                slots.remove(&name);
                Err(e)
            }
        }
    }

    /// The file work of [`Catalog::create`], under the reserved name.
    fn create_files(&self, config: &Config) -> Result<Arc<Collection>, StorageError> {
        let staging = self.root.join(format!(".creating-{}", config.name));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir(&staging).map_err(|e| StorageError::io(&staging, e))?;
        let path = self.root.join(&config.name);
        let mut renamed = false;
        let created = Collection::create(&staging, config)
            .and_then(|()| {
                std::fs::rename(&staging, &path).map_err(|e| StorageError::io(&path, e))?;
                renamed = true;
                fsio::sync_dir(&self.root)
            })
            .and_then(|()| Collection::open(&path));
        match created {
            Ok(collection) => Ok(start(&self.syncer, collection)),
            Err(e) => {
                // Undo, so that a failed create (a full disk, say) leaves
                // no files behind and can simply be retried.
                let leftover = if renamed { &path } else { &staging };
                let _ = std::fs::remove_dir_all(leftover);
                Err(e)
            }
        }
    }

    /// Deletes collection `name` and its files (also an unavailable one).
    /// Waits for the write in flight on it; writes that come later through
    /// a handle taken before answer [`StorageError::NotFound`].
    ///
    /// # Errors
    /// [`StorageError::InvalidArgument`], [`StorageError::NotFound`],
    /// [`StorageError::Io`] (if the directory cannot be moved, nothing
    /// changed).
    pub fn delete(&self, name: &str) -> Result<(), StorageError> {
        validate_name(name)?;
        let slot = match self.slots.write().get_mut(name) {
            Some(slot) if !matches!(slot, Slot::Busy) => std::mem::replace(slot, Slot::Busy),
            _ => return Err(StorageError::NotFound(name.to_string())),
        };
        let path = self.root.join(name);
        let n = self.deletions.fetch_add(1, Ordering::Relaxed);
        let doomed = self.root.join(format!(".deleted-{name}-{n}"));
        let moved = match &slot {
            Slot::Open(c) => c.retire(&doomed),
            _ => std::fs::rename(&path, &doomed)
                .map_err(|e| StorageError::io(&path, e))
                .and_then(|()| fsio::sync_dir(&self.root)),
        };
        let mut slots = self.slots.write();
        if let Err(e) = moved {
            if doomed.exists() {
                // Moved but not fsynced: deleted all the same.
                slots.remove(name);
            } else {
                slots.insert(name.to_string(), slot);
            }
            return Err(e);
        }
        slots.remove(name);
        drop(slots);
        // The name is free; the files go outside any lock (and a crash
        // before this leaves a hidden directory that the next open removes).
        if let Err(e) = std::fs::remove_dir_all(&doomed) {
            tracing::warn!(dir = %doomed.display(), error = %e, "cannot remove a deleted collection's files; the next start removes them");
        }
        Ok(())
    }

    /// fsyncs every open collection's WAL (at shutdown).
    pub fn sync_all(&self) {
        for c in self.list() {
            if let Err(e) = c.sync() {
                tracing::error!(collection = %c.config().name, error = %e, "WAL sync failed");
            }
        }
    }
}

/// Wraps an opened collection; under the periodic policy adds it to the
/// WAL syncer.
fn start(syncer: &Syncer, collection: Collection) -> Arc<Collection> {
    let collection = Arc::new(collection);
    let config = collection.config();
    if config.wal_sync == WalSync::Periodic {
        let interval = Duration::from_millis(u64::from(config.wal_sync_interval_ms));
        syncer.add(&collection, interval);
    }
    collection
}

/// Takes the exclusive advisory lock on `data_dir/LOCK` (released by the
/// OS when the process exits, however it exits).
pub(crate) fn lock_data_dir(data_dir: &Path) -> Result<File, StorageError> {
    let path = data_dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StorageError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StorageError::InUse {
            dir: data_dir.to_path_buf(),
            lock: path,
        }),
        Err(TryLockError::Error(e)) => Err(StorageError::io(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use waypoint_index::Metric;

    use super::*;
    use crate::payload::Payload;
    use crate::wal::PointWrite;

    fn config(dim: usize) -> Config {
        Config {
            name: "c".into(),
            dim,
            metric: Metric::L2Squared,
            m: 8,
            ef_construction: 32,
            segment_max_points: 4,
            wal_sync: WalSync::Always,
            wal_sync_interval_ms: 0,
        }
    }

    fn points(dim: usize, ids: std::ops::Range<u64>) -> Vec<PointWrite> {
        ids.map(|id| PointWrite {
            id,
            vector: vec![id as f32; dim],
            payload: Payload::new(),
        })
        .collect()
    }

    #[test]
    fn a_handle_of_a_deleted_collection_never_writes_into_its_successor() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path(), 10).unwrap();
        let old = catalog.create(config(8)).unwrap();
        catalog.delete("c").unwrap();
        let new = catalog.create(config(2)).unwrap();
        let files = |dir: &Path| {
            let mut names: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            names
        };
        let before = files(&dir.path().join("collections/c"));
        // A full segment: before the fix this sealed into `c/` again.
        let refused = old.upsert(points(8, 0..4)).unwrap_err();
        assert!(matches!(refused, StorageError::NotFound(_)), "{refused}");
        old.sync().unwrap();
        assert_eq!(files(&dir.path().join("collections/c")), before);
        new.upsert(points(2, 0..3)).unwrap();
        drop((old, new, catalog));
        let catalog = Catalog::open(dir.path(), 10).unwrap();
        let c = catalog.get("c").unwrap();
        assert_eq!((c.config().dim, c.count(None)), (2, 3));
    }
}
