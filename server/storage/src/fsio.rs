//! Small durable-file helpers: atomic replace (temp file → fsync → rename →
//! fsync directory), checksummed files (magic, body, CRC32C footer), the
//! removal of temporary files a crash left behind, and strict reads of the
//! TOML files (config, manifest).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::StorageError;

/// Every temporary file of a collection has this in its name: ours start
/// with it, the engine's index writer appends it (`seg-N.wpi.tmp-PID`).
const TEMP_MARK: &str = ".tmp-";

/// Replaces `path` with `bytes` atomically: a reader (or a crash) sees the
/// old file or the new one, never a mix.
///
/// # Errors
/// [`StorageError::Io`] naming the file that failed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_MARK)
        .tempfile_in(dir)
        .map_err(|e| StorageError::io(dir, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| StorageError::io(tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| StorageError::io(path, e.error))?;
    sync_dir(dir)
}

/// Removes the temporary files in `dir` (names containing `.tmp-`): left
/// by writes that a crash interrupted, they are never part of the state.
/// Best effort: a file that cannot be removed is only logged.
pub(crate) fn remove_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if !entry.file_name().to_string_lossy().contains(TEMP_MARK) {
            continue;
        }
        let path = entry.path();
        match fs::remove_file(&path) {
            Ok(()) => {
                tracing::info!(file = %path.display(), "removed a temporary file left by a crash")
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove a leftover temporary file")
            }
        }
    }
}

/// fsyncs a directory, so that renames and new files in it are durable.
///
/// # Errors
/// [`StorageError::Io`] naming the directory.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

/// Writes `body` framed as `magic ‖ body ‖ CRC32C(body)` atomically.
///
/// # Errors
/// As [`write_atomic`].
pub(crate) fn write_checked(path: &Path, magic: &[u8; 8], body: &[u8]) -> Result<(), StorageError> {
    let mut bytes = Vec::with_capacity(body.len() + 12);
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(body);
    bytes.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    write_atomic(path, &bytes)
}

/// Reads a file written by [`write_checked`] and returns its body.
///
/// # Errors
/// [`StorageError::Io`] if it cannot be read; [`StorageError::Corrupt`] for a
/// wrong magic, a short file or a checksum mismatch.
pub(crate) fn read_checked(path: &Path, magic: &[u8; 8]) -> Result<Vec<u8>, StorageError> {
    let mut bytes = fs::read(path).map_err(|e| StorageError::io(path, e))?;
    if bytes.len() < 12 {
        return Err(StorageError::corrupt(
            path,
            0,
            format!("{} bytes, shorter than magic and checksum", bytes.len()),
        ));
    }
    if &bytes[..8] != magic {
        return Err(StorageError::corrupt(
            path,
            0,
            "wrong magic: not a file of this kind",
        ));
    }
    let footer = bytes.len() - 4;
    let stored = u32::from_le_bytes(bytes[footer..].try_into().expect("4 bytes"));
    if crc32c::crc32c(&bytes[8..footer]) != stored {
        return Err(StorageError::corrupt(
            path,
            footer as u64,
            "checksum mismatch: the file is damaged",
        ));
    }
    bytes.truncate(footer);
    bytes.drain(..8);
    Ok(bytes)
}

/// Reads and parses the TOML file at `path`; `None` if it does not exist.
/// The types read this way deny unknown keys, so a file from a newer
/// Waypoint is refused rather than half understood.
///
/// # Errors
/// [`StorageError::Corrupt`] naming the file and byte offset if it is not
/// UTF-8 text or does not parse as a `T`; [`StorageError::Io`].
pub(crate) fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StorageError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io(path, e)),
    };
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| StorageError::corrupt(path, e.valid_up_to() as u64, "not UTF-8 text"))?;
    toml::from_str(text).map(Some).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start as u64);
        StorageError::corrupt(path, offset, e.message().trim_end().to_string())
    })
}
