//! [`Format`]: which reader a path needs, decided by its extension; and the
//! whole-file entry points [`read`], [`read_f32`] and [`write`] that dispatch
//! on it.

use std::path::Path;

use crate::element::{Dtype, Element};
use crate::error::{texmex_found, Error, Result};
use crate::matrix::Matrix;
use crate::{npy, texmex};

/// A dataset file format, named by its extension (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `.fvecs`: TEXMEX records of f32.
    Fvecs,
    /// `.bvecs`: TEXMEX records of u8.
    Bvecs,
    /// `.ivecs`: TEXMEX records of i32.
    Ivecs,
    /// `.npy`: a NumPy array; its header gives the dtype.
    Npy,
}

impl Format {
    /// The format named by `path`'s extension.
    ///
    /// # Errors
    /// [`Error::UnknownExtension`] for anything but `.fvecs`, `.bvecs`,
    /// `.ivecs`, `.npy`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("fvecs") => Ok(Format::Fvecs),
            Some("bvecs") => Ok(Format::Bvecs),
            Some("ivecs") => Ok(Format::Ivecs),
            Some("npy") => Ok(Format::Npy),
            _ => Err(Error::UnknownExtension { path: path.into() }),
        }
    }

    /// The dtype a TEXMEX extension implies; `None` for `.npy`, whose header
    /// says.
    pub fn texmex_dtype(self) -> Option<Dtype> {
        match self {
            Format::Fvecs => Some(Dtype::F32),
            Format::Bvecs => Some(Dtype::U8),
            Format::Ivecs => Some(Dtype::I32),
            Format::Npy => None,
        }
    }
}

/// Loads a whole file whose values are exactly `T`: `read::<f32>` takes
/// `.fvecs` and `<f4` `.npy`, `read::<u8>` `.bvecs` and `|u1` `.npy`,
/// `read::<i32>` `.ivecs` and `<i4` `.npy`. The file is mapped read-only
/// and decoded in one pass (see the mmap contract in the crate docs).
///
/// # Errors
/// [`Error::UnknownExtension`]; [`Error::WrongDtype`] if the file holds
/// another type; [`Error::Io`], [`Error::NotAFile`], [`Error::Empty`];
/// [`Error::Truncated`], [`Error::DimensionChanged`],
/// [`Error::BadDimension`] naming the record and byte offset; for `.npy`,
/// [`Error::NpyHeader`], [`Error::NotTwoDimensional`],
/// [`Error::FortranOrder`], [`Error::TrailingBytes`].
pub fn read<T: Element>(path: impl AsRef<Path>) -> Result<Matrix<T>> {
    let path = path.as_ref();
    match Format::from_path(path)?.texmex_dtype() {
        None => npy::read(path),
        Some(dtype) if dtype == T::DTYPE => texmex::read(path),
        Some(dtype) => Err(Error::wrong_dtype(
            path,
            texmex_found(dtype),
            T::DTYPE.to_string(),
        )),
    }
}

/// Loads a whole file of vectors as `f32`: `.fvecs` and `<f4` `.npy` as
/// they are, `.bvecs` and `|u1` `.npy` widened exactly (byte `b` becomes
/// `b as f32`).
///
/// # Errors
/// As [`read`]; [`Error::WrongDtype`] for `.ivecs` and `<i4` `.npy`.
pub fn read_f32(path: impl AsRef<Path>) -> Result<Matrix<f32>> {
    let path = path.as_ref();
    match Format::from_path(path)?.texmex_dtype() {
        None => npy::read_f32(path),
        Some(Dtype::F32) => texmex::read(path),
        Some(Dtype::U8) => texmex::read::<u8>(path).map(Matrix::from),
        Some(dtype @ Dtype::I32) => Err(Error::wrong_dtype(
            path,
            texmex_found(dtype),
            "float32 or uint8",
        )),
    }
}

/// Writes `matrix` to `path` in the format of its extension: one TEXMEX
/// record per row, or a version 1.0 `.npy` of shape `(rows, dim)`. The file
/// is created or truncated.
///
/// # Errors
/// [`Error::UnknownExtension`]; [`Error::ExtensionMismatch`] if a TEXMEX
/// extension holds another type than `T`; [`Error::NothingToWrite`] for
/// zero rows; [`Error::DimensionTooLarge`]; [`Error::Io`].
pub fn write<T: Element>(path: impl AsRef<Path>, matrix: &Matrix<T>) -> Result<()> {
    let path = path.as_ref();
    match Format::from_path(path)?.texmex_dtype() {
        None => npy::write(path, matrix),
        Some(dtype) if dtype == T::DTYPE => texmex::write(path, matrix),
        Some(dtype) => Err(Error::ExtensionMismatch {
            path: path.into(),
            holds: dtype,
            values: T::DTYPE,
        }),
    }
}
