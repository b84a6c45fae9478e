//! TEXMEX vector files (`.fvecs` f32, `.bvecs` u8, `.ivecs` i32), the format
//! of the corpus-texmex ANN sets: per record a little-endian int32 dimension
//! `d`, then `d` values. Every record must have the dimension of record 0.
//!
//! The record checks live in [`check_record`] so that the whole-file loader
//! here and the streaming [`crate::Reader`] report the same error for the
//! same byte.

use std::io::Write;
use std::path::Path;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::file;
use crate::matrix::Matrix;

/// Bytes of a record's dimension field.
pub(crate) const DIM_FIELD: u64 = 4;

/// Checks the record that starts at byte `offset`: `head` holds up to its
/// first four bytes, `available` counts the bytes from `offset` to the end of
/// the file, and `expected` is record 0's dimension (`None` for record 0).
/// Returns the record's dimension.
///
/// # Errors
/// [`Error::Truncated`] if the dimension field or the values run past the
/// end, [`Error::DimensionChanged`] if the dimension differs from
/// `expected`, [`Error::BadDimension`] if record 0 declares less than 1.
pub(crate) fn check_record(
    path: &Path,
    record: u64,
    offset: u64,
    head: &[u8],
    available: u64,
    expected: Option<usize>,
    value_size: usize,
) -> Result<usize> {
    let truncated = |needed: u64| Error::Truncated {
        path: path.into(),
        record,
        offset,
        needed,
        available,
    };
    if available < DIM_FIELD {
        return Err(truncated(DIM_FIELD));
    }
    let got = i32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    match expected {
        Some(expected) if i64::from(got) != expected as i64 => {
            return Err(Error::DimensionChanged {
                path: path.into(),
                record,
                offset,
                expected,
                got: got.into(),
            })
        }
        None if got < 1 => {
            return Err(Error::BadDimension {
                path: path.into(),
                record,
                offset,
                got: got.into(),
                expected_format: "TEXMEX",
            })
        }
        _ => {}
    }
    let dim = got as usize;
    let needed = DIM_FIELD + dim as u64 * value_size as u64;
    if available < needed {
        return Err(truncated(needed));
    }
    Ok(dim)
}

/// Loads a whole TEXMEX file of `T` values through a read-only map. The
/// caller has matched `T` to the extension.
///
/// # Errors
/// [`Error::Io`], [`Error::NotAFile`], [`Error::Empty`], and the record
/// errors of [`check_record`].
pub(crate) fn read<T: Element>(path: &Path) -> Result<Matrix<T>> {
    let map = file::map(path)?;
    let bytes: &[u8] = &map;
    let len = bytes.len() as u64;
    let size = T::DTYPE.size();
    let dim = check_record(path, 0, 0, bytes, len, None, size)?;
    let record_len = DIM_FIELD as usize + dim * size;
    let mut data = Vec::with_capacity(bytes.len() / record_len * dim);
    let (mut offset, mut record) = (0usize, 0u64);
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        check_record(
            path,
            record,
            offset as u64,
            rest,
            rest.len() as u64,
            Some(dim),
            size,
        )?;
        T::decode_le(&rest[DIM_FIELD as usize..record_len], &mut data);
        offset += record_len;
        record += 1;
    }
    Matrix::new(dim, data)
}

/// Writes `matrix` as a TEXMEX file of `T` values (one record per row).
///
/// # Errors
/// [`Error::NothingToWrite`] for zero rows, [`Error::DimensionTooLarge`] past
/// `i32::MAX`, [`Error::Io`] if the file cannot be created or written.
pub(crate) fn write<T: Element>(path: &Path, matrix: &Matrix<T>) -> Result<()> {
    if matrix.rows() == 0 {
        return Err(Error::NothingToWrite { path: path.into() });
    }
    let dim = i32::try_from(matrix.dim()).map_err(|_| Error::DimensionTooLarge {
        path: path.into(),
        dim: matrix.dim(),
    })?;
    let mut out = file::create(path)?;
    let mut record = Vec::with_capacity(DIM_FIELD as usize + matrix.dim() * T::DTYPE.size());
    for row in matrix.iter() {
        record.clear();
        record.extend_from_slice(&dim.to_le_bytes());
        T::encode_le(row, &mut record);
        out.write_all(&record)
            .map_err(|e| Error::io(path, "write", e))?;
    }
    out.flush().map_err(|e| Error::io(path, "write", e))
}
