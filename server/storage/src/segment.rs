//! Sealed segments: an engine index file opened as an mmap
//! [`HnswView`], plus two files beside it:
//! - `seg-N.points`: the ids and payloads of the points it held when sealed
//!   (checksummed);
//! - `seg-N.tombstones`: the ids deleted or replaced since (a roaring
//!   treemap, checksummed), rewritten atomically at each checkpoint. Until
//!   then the WAL holds the deletes.

use std::path::{Path, PathBuf};

use roaring::RoaringTreemap;
use waypoint_index::{Filter, HnswView, Neighbor, SearchParams};

use super::payload::Payload;
use super::{fsio, StorageError};

const POINTS_MAGIC: &[u8; 8] = b"WPPOINT1";
const TOMBSTONES_MAGIC: &[u8; 8] = b"WPTOMBS1";

/// The index file of segment `n` in `dir`.
pub fn index_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("seg-{n:06}.wpi"))
}

fn points_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("seg-{n:06}.points"))
}

fn tombstones_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("seg-{n:06}.tombstones"))
}

/// Writes the points file of segment `n`: `(id, payload)` of every point.
///
/// # Errors
/// [`StorageError::Io`].
pub fn write_points(dir: &Path, n: u64, points: &[(u64, &Payload)]) -> Result<(), StorageError> {
    let body = postcard::to_stdvec(points).expect("payloads always encode");
    fsio::write_checked(&points_path(dir, n), POINTS_MAGIC, &body)
}

/// An immutable segment and its tombstones.
#[derive(Debug)]
pub struct Sealed {
    /// Segment number.
    pub number: u64,
    /// The mmap view of its index file.
    pub view: HnswView,
    /// Ids of the segment that were deleted or replaced since sealing.
    pub tombstones: RoaringTreemap,
    /// Whether `tombstones` changed since it was last written.
    pub dirty: bool,
}

impl Sealed {
    /// Opens segment `n` of `dir`; returns it with the points (id and
    /// payload) that are live in it.
    ///
    /// # Errors
    /// The engine's [`waypoint_index::Error::Corrupt`] for a bad index file;
    /// [`StorageError::Corrupt`] for bad points or tombstones files;
    /// [`StorageError::Io`].
    pub fn open(dir: &Path, n: u64) -> Result<(Self, Vec<(u64, Payload)>), StorageError> {
        let view = HnswView::open(index_path(dir, n))?;
        let tomb_path = tombstones_path(dir, n);
        let tombstones = if tomb_path.exists() {
            let body = fsio::read_checked(&tomb_path, TOMBSTONES_MAGIC)?;
            RoaringTreemap::deserialize_from(&body[..])
                .map_err(|e| StorageError::corrupt(&tomb_path, 8, e.to_string()))?
        } else {
            RoaringTreemap::new()
        };
        let pts_path = points_path(dir, n);
        let body = fsio::read_checked(&pts_path, POINTS_MAGIC)?;
        let points: Vec<(u64, Payload)> = postcard::from_bytes(&body)
            .map_err(|e| StorageError::corrupt(&pts_path, 8, e.to_string()))?;
        let live = points
            .into_iter()
            .filter(|(id, _)| !tombstones.contains(*id) && view.contains(*id))
            .collect();
        Ok((
            Sealed {
                number: n,
                view,
                tombstones,
                dirty: false,
            },
            live,
        ))
    }

    /// Whether `id` is live here.
    pub fn contains(&self, id: u64) -> bool {
        !self.tombstones.contains(id) && self.view.contains(id)
    }

    /// Writes the tombstones file if it changed (`dirty`); the caller
    /// clears `dirty` once the manifest that relies on it is written.
    ///
    /// # Errors
    /// [`StorageError::DiskFull`], [`StorageError::Io`].
    pub fn persist_tombstones(&self, dir: &Path) -> Result<(), StorageError> {
        if !self.dirty {
            return Ok(());
        }
        let mut body = Vec::with_capacity(self.tombstones.serialized_size());
        self.tombstones
            .serialize_into(&mut body)
            .expect("writing to a Vec cannot fail");
        fsio::write_checked(&tombstones_path(dir, self.number), TOMBSTONES_MAGIC, &body)
    }

    /// The `k` nearest live points of this segment that are in `allowed`
    /// (all, if `None`).
    ///
    /// # Errors
    /// The engine's search errors.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: Option<usize>,
        exact: bool,
        allowed: Option<&RoaringTreemap>,
    ) -> Result<Vec<Neighbor>, waypoint_index::Error> {
        let params = SearchParams {
            ef,
            exact,
            filter: None,
        };
        match allowed {
            Some(allowed) if !self.tombstones.is_empty() => {
                let mut set = allowed.clone();
                set -= &self.tombstones;
                self.view
                    .search(query, k, &params.with_filter(Filter::AllowList(&set)))
            }
            Some(allowed) => {
                self.view
                    .search(query, k, &params.with_filter(Filter::AllowList(allowed)))
            }
            None if !self.tombstones.is_empty() => {
                let not_deleted = |id: u64| !self.tombstones.contains(id);
                self.view.search(
                    query,
                    k,
                    &params.with_filter(Filter::Predicate(&not_deleted)),
                )
            }
            None => self.view.search(query, k, &params),
        }
    }

    /// Deletes the whole segment's files (after it left the manifest).
    pub fn remove_files(dir: &Path, n: u64) {
        for path in [
            index_path(dir, n),
            points_path(dir, n),
            tombstones_path(dir, n),
        ] {
            let _ = std::fs::remove_file(path);
        }
    }
}
