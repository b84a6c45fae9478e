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
    /// [`StorageError::Corrupt`] if it does not parse or has another
    /// version; [`StorageError::Io`].
    pub fn load(path: &Path) -> Result<Self, StorageError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Manifest {
                    version: VERSION,
                    ..Manifest::default()
                })
            }
            Err(e) => return Err(StorageError::io(path, e)),
        };
        let manifest: Manifest = toml::from_str(&text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start as u64);
            StorageError::corrupt(path, offset, e.message().to_string())
        })?;
        if manifest.version != VERSION {
            return Err(StorageError::corrupt(
                path,
                0,
                format!(
                    "manifest version {} (this build reads {VERSION})",
                    manifest.version
                ),
            ));
        }
        Ok(manifest)
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
