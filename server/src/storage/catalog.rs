//! The catalog: every collection under `data_dir/collections/`, by name.
//!
//! Opened at start; a collection that fails to open (a damaged WAL record,
//! a corrupt segment) is kept as *unavailable* with its error, and the
//! others serve. Creation builds the directory under a hidden temporary
//! name and renames it into place, so a crash never leaves half a
//! collection; deletion renames it away first for the same reason.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;

use super::collection::{Collection, Config, WalSync};
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
    Unavailable { reason: String, corrupt: bool },
}

/// The collections of a data directory.
pub struct Catalog {
    root: PathBuf,
    slots: RwLock<BTreeMap<String, Slot>>,
    /// Held open for the catalog's lifetime: its exclusive lock keeps a
    /// second server from writing the same WALs.
    _lock: File,
}

impl Catalog {
    /// Opens every collection under `data_dir/collections/` (creating the
    /// directories if needed), after taking an exclusive lock on
    /// `data_dir/LOCK` that lasts as long as the catalog. Leftovers of
    /// interrupted creates and deletes are removed.
    ///
    /// # Errors
    /// [`StorageError::InUse`] if another process holds the lock;
    /// [`StorageError::Io`] if the directory cannot be created or listed.
    /// Failures of single collections are not errors: they are logged and
    /// the collection answers as unavailable.
    pub fn open(data_dir: &Path) -> Result<Self, StorageError> {
        let root = data_dir.join("collections");
        std::fs::create_dir_all(&root).map_err(|e| StorageError::io(&root, e))?;
        let lock = lock_data_dir(data_dir)?;
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
                Ok(c) => Slot::Open(start(c)),
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
            None => Err(StorageError::NotFound(name.to_string())),
        }
    }

    /// Every open collection, in name order.
    pub fn list(&self) -> Vec<Arc<Collection>> {
        self.slots
            .read()
            .values()
            .filter_map(|s| match s {
                Slot::Open(c) => Some(Arc::clone(c)),
                Slot::Unavailable { .. } => None,
            })
            .collect()
    }

    /// Creates collection `config.name`. A create that fails leaves no
    /// files behind.
    ///
    /// # Errors
    /// [`StorageError::InvalidArgument`] for a bad name or config,
    /// [`StorageError::AlreadyExists`], [`StorageError::DiskFull`],
    /// [`StorageError::Io`].
    pub fn create(&self, config: Config) -> Result<Arc<Collection>, StorageError> {
        validate_name(&config.name)?;
        config.validate()?;
        let mut slots = self.slots.write();
        if slots.contains_key(&config.name) {
            return Err(StorageError::AlreadyExists(config.name));
        }
        let staging = self.root.join(format!(".creating-{}", config.name));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir(&staging).map_err(|e| StorageError::io(&staging, e))?;
        let name = config.name.clone();
        let path = self.root.join(&name);
        let mut renamed = false;
        let created = Collection::create(&staging, &config)
            .and_then(|()| {
                std::fs::rename(&staging, &path).map_err(|e| StorageError::io(&path, e))?;
                renamed = true;
                fsio::sync_dir(&self.root)
            })
            .and_then(|()| Collection::open(&path));
        match created {
            Ok(collection) => {
                let collection = start(collection);
                slots.insert(name, Slot::Open(Arc::clone(&collection)));
                Ok(collection)
            }
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
    ///
    /// # Errors
    /// [`StorageError::InvalidArgument`], [`StorageError::NotFound`],
    /// [`StorageError::Io`].
    pub fn delete(&self, name: &str) -> Result<(), StorageError> {
        validate_name(name)?;
        let mut slots = self.slots.write();
        if !slots.contains_key(name) {
            return Err(StorageError::NotFound(name.to_string()));
        }
        let path = self.root.join(name);
        let doomed = self.root.join(format!(".deleting-{name}"));
        std::fs::rename(&path, &doomed).map_err(|e| StorageError::io(&path, e))?;
        fsio::sync_dir(&self.root)?;
        slots.remove(name);
        drop(slots);
        std::fs::remove_dir_all(&doomed).map_err(|e| StorageError::io(&doomed, e))
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

/// Wraps an opened collection; under the periodic policy starts its WAL
/// syncer, a thread that ends when the collection is dropped.
fn start(collection: Collection) -> Arc<Collection> {
    let collection = Arc::new(collection);
    let config = collection.config();
    if config.wal_sync == WalSync::Periodic {
        let interval = Duration::from_millis(u64::from(config.wal_sync_interval_ms));
        let weak: Weak<Collection> = Arc::downgrade(&collection);
        std::thread::spawn(move || loop {
            std::thread::sleep(interval);
            let Some(c) = weak.upgrade() else { return };
            if let Err(e) = c.sync() {
                tracing::error!(collection = %c.config().name, error = %e, "periodic WAL sync failed");
            }
        });
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
