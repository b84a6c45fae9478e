//! Opening, mapping and creating dataset files, with errors that name the
//! path. The format modules never call `std::fs` themselves.
//!
//! # The mmap contract
//! Whole-file loads map the input read-only and copy the values out, so the
//! map lives only for the duration of one load. The file must not be
//! truncated during that time: as with any mmap, a read past a shrunken end
//! raises `SIGBUS`. Files that may change while being read should go through
//! the streaming [`crate::Reader`], which uses ordinary reads.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use memmap2::Mmap;

use crate::error::{Error, Result};

/// Opens an existing, non-empty regular file; returns it with its length.
///
/// # Errors
/// [`Error::Io`] if it cannot be opened or stat'ed, [`Error::NotAFile`] for a
/// directory or device, [`Error::Empty`] for zero bytes.
pub(crate) fn open(path: &Path) -> Result<(File, u64)> {
    let file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, "stat", e))?;
    if !meta.is_file() {
        return Err(Error::NotAFile { path: path.into() });
    }
    if meta.len() == 0 {
        return Err(Error::Empty { path: path.into() });
    }
    Ok((file, meta.len()))
}

/// Maps an existing, non-empty regular file read-only.
///
/// # Errors
/// As [`open`], and [`Error::Io`] if mapping fails.
pub(crate) fn map(path: &Path) -> Result<Mmap> {
    let (file, _) = open(path)?;
    // SAFETY: read-only map of a regular file; see the module's mmap contract.
    unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, "map", e))
}

/// Creates (or truncates) `path` for writing, buffered.
///
/// # Errors
/// [`Error::Io`] if it cannot be created.
pub(crate) fn create(path: &Path) -> Result<BufWriter<File>> {
    let file = File::create(path).map_err(|e| Error::io(path, "create", e))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}
