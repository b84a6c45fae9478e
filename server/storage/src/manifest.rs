//! The manifest: which sealed segments a collection has and the WAL
//! checkpoint (the last LSN whose effects are all in those segments and
//! their tombstone files). Replaced atomically (temp file + rename), so it
//! always names a complete set of segments.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{fsio, StorageError};

/// Manifest format version.
const VERSION: u32 = 1;

/// The contents of `manifest.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// Every operation up to this LSN is in the sealed segments.
    pub checkpoint_lsn: u64,
    /// Number of the next segment to seal.
    pub next_segment: u64,
    /// The sealed segments, oldest first.
    pub segments: Vec<u64>,
}

impl Manifest {
    /// Reads the manifest, or an empty one if the file does not exist.
    ///
    /// # Errors
    /// [`StorageError::Corrupt`] naming the file if it does not parse, has
    /// an unknown key, or has another version; [`StorageError::Io`].
    pub fn load(path: &Path) -> Result<Self, StorageError> {
        let Some(table) = fsio::read_toml::<toml::Table>(path)? else {
            return Ok(Manifest {
                version: VERSION,
                ..Manifest::default()
            });
        };
        // The version first: a newer manifest may have other keys too.
        let version = table.get("version").and_then(toml::Value::as_integer);
        if version != Some(i64::from(VERSION)) {
            let found = version.map_or("no version".to_string(), |v| format!("version {v}"));
            let newer = if version.is_some_and(|v| v > i64::from(VERSION)) {
                " (written by a newer Waypoint?)"
            } else {
                ""
            };
            return Err(StorageError::corrupt(
                path,
                0,
                format!("manifest has {found}, this build reads version {VERSION}{newer}"),
            ));
        }
        table
            .try_into()
            .map_err(|e: toml::de::Error| StorageError::corrupt(path, 0, e.message().trim_end()))
    }

    /// Writes the manifest atomically.
    ///
    /// # Errors
    /// [`StorageError::Io`].
    pub fn store(&self, path: &Path) -> Result<(), StorageError> {
        let text = toml::to_string(self).expect("a manifest always serialises");
        fsio::write_atomic(path, text.as_bytes())
    }
}
