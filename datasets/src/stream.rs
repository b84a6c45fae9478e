//! [`Reader`]: a dataset file read a block of rows at a time with ordinary
//! buffered reads, for files larger than memory. It applies the same checks,
//! with the same errors, as the whole-file [`crate::read`]; memory use is one
//! block.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crate::element::Element;
use crate::error::{texmex_found, Error, Result};
use crate::format::Format;
use crate::matrix::Matrix;
use crate::{file, npy, texmex};

/// Where the rows come from.
#[derive(Debug)]
enum Layout {
    /// Records of a dimension field plus values, checked one by one.
    Texmex,
    /// `rows` rows of values after the header, checked at open.
    Npy { rows: u64 },
}

/// Streams the rows of a `.fvecs`, `.bvecs`, `.ivecs` or `.npy` file whose
/// values are `T` (`Reader::<f32>` for `.fvecs`, `Reader::<i32>` for
/// `.ivecs`, ...).
///
/// A TEXMEX record is checked when it is reached, so a malformed record
/// fails the [`Reader::read_rows`] call that reaches it, after the rows
/// before it were returned. A `.npy` is checked entirely at open.
///
/// ```
/// use waypoint_datasets::{write, Matrix, Reader};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("five.fvecs");
/// write(&path, &Matrix::new(2, (0..10).map(|i| i as f32).collect())?)?;
///
/// let mut reader = Reader::<f32>::open(&path)?;
/// assert_eq!((reader.dim(), reader.rows()), (2, 5));
/// let mut seen = 0;
/// while let Some(block) = reader.read_rows(2)? {
///     assert_eq!(block.row(0)[0], (2 * seen) as f32);
///     seen += block.rows();
/// }
/// assert_eq!(seen, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Reader<T> {
    path: PathBuf,
    source: BufReader<File>,
    layout: Layout,
    file_len: u64,
    dim: usize,
    /// Byte offset of the next record.
    offset: u64,
    /// Index of the next record.
    record: u64,
    buf: Vec<u8>,
    values: PhantomData<T>,
}

impl<T: Element> Reader<T> {
    /// Opens `path` and reads its `.npy` header or its first TEXMEX
    /// dimension field.
    ///
    /// # Errors
    /// [`Error::UnknownExtension`]; [`Error::WrongDtype`] if the file does
    /// not hold `T` values; [`Error::Io`], [`Error::NotAFile`],
    /// [`Error::Empty`]; record 0's errors for TEXMEX; every header and
    /// length error for `.npy`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let format = Format::from_path(path)?;
        let (file, file_len) = file::open(path)?;
        let mut source = BufReader::with_capacity(1 << 20, file);
        let size = T::DTYPE.size();
        let (layout, dim, offset) = match format.texmex_dtype() {
            Some(dtype) if dtype != T::DTYPE => {
                return Err(Error::wrong_dtype(
                    path,
                    texmex_found(dtype),
                    T::DTYPE.to_string(),
                ))
            }
            Some(_) => {
                let mut head = [0u8; texmex::DIM_FIELD as usize];
                let head = &mut head[..file_len.min(texmex::DIM_FIELD) as usize];
                source
                    .read_exact(head)
                    .map_err(|e| Error::io(path, "read", e))?;
                let dim = texmex::check_record(path, 0, 0, head, file_len, None, size)?;
                source
                    .seek(SeekFrom::Start(0))
                    .map_err(|e| Error::io(path, "seek", e))?;
                (Layout::Texmex, dim, 0)
            }
            None => {
                let header = npy::read_header(path, &mut source, file_len)?;
                if header.dtype != T::DTYPE {
                    return Err(Error::wrong_dtype(
                        path,
                        npy::found(header.dtype),
                        T::DTYPE.to_string(),
                    ));
                }
                (
                    Layout::Npy { rows: header.rows },
                    header.dim,
                    header.data_offset,
                )
            }
        };
        Ok(Reader {
            path: path.into(),
            source,
            layout,
            file_len,
            dim,
            offset,
            record: 0,
            buf: Vec::new(),
            values: PhantomData,
        })
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Rows in the file: the `.npy` shape, or for TEXMEX the file size
    /// divided by the record size of record 0 (exact for a well-formed file).
    pub fn rows(&self) -> u64 {
        match self.layout {
            Layout::Npy { rows } => rows,
            Layout::Texmex => self.file_len / self.texmex_record_len(),
        }
    }

    fn texmex_record_len(&self) -> u64 {
        texmex::DIM_FIELD + (self.dim * T::DTYPE.size()) as u64
    }

    /// The next block of up to `max_rows` rows (at least one is read even if
    /// `max_rows` is 0), or `Ok(None)` once every row has been returned.
    ///
    /// # Errors
    /// For TEXMEX, [`Error::Truncated`] or [`Error::DimensionChanged`] for
    /// the first bad record in the block; [`Error::Io`] if reading fails
    /// (including a file that shrank since it was opened).
    pub fn read_rows(&mut self, max_rows: usize) -> Result<Option<Matrix<T>>> {
        let max_rows = max_rows.max(1) as u64;
        let data = match self.layout {
            Layout::Npy { rows } => self.read_npy_rows(max_rows.min(rows - self.record))?,
            Layout::Texmex => self.read_texmex_rows(max_rows)?,
        };
        if data.is_empty() {
            return Ok(None);
        }
        Matrix::new(self.dim, data).map(Some)
    }

    fn read_npy_rows(&mut self, n: u64) -> Result<Vec<T>> {
        let bytes = n * (self.dim * T::DTYPE.size()) as u64;
        self.fill_buf(bytes as usize)?;
        let mut data = Vec::with_capacity(n as usize * self.dim);
        T::decode_le(&self.buf, &mut data);
        self.record += n;
        self.offset += bytes;
        Ok(data)
    }

    fn read_texmex_rows(&mut self, max_rows: u64) -> Result<Vec<T>> {
        let record_len = self.texmex_record_len();
        let left = (self.file_len - self.offset).div_ceil(record_len);
        let mut data = Vec::with_capacity(max_rows.min(left) as usize * self.dim);
        let mut n = 0;
        while n < max_rows && self.offset < self.file_len {
            let available = self.file_len - self.offset;
            self.fill_buf(available.min(texmex::DIM_FIELD) as usize)?;
            texmex::check_record(
                &self.path,
                self.record,
                self.offset,
                &self.buf,
                available,
                Some(self.dim),
                T::DTYPE.size(),
            )?;
            self.fill_buf((record_len - texmex::DIM_FIELD) as usize)?;
            T::decode_le(&self.buf, &mut data);
            self.offset += record_len;
            self.record += 1;
            n += 1;
        }
        Ok(data)
    }

    /// Reads exactly `n` bytes into `self.buf`.
    fn fill_buf(&mut self, n: usize) -> Result<()> {
        self.buf.resize(n, 0);
        self.source
            .read_exact(&mut self.buf)
            .map_err(|e| Error::io(&self.path, "read", e))
    }
}
