//! The crate's error types: [`Error`] for reading and writing files (every
//! variant names the file, and record-level ones the zero-based record index
//! and its byte offset), and [`GroundTruthError`] for exact ground truth.

use std::path::PathBuf;

use crate::element::Dtype;

/// Result alias for file operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading or writing a dataset file.
///
/// Records are numbered from 0; a `.npy` record is one row. Byte offsets
/// count from the start of the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused (open, stat, map, read, create, write).
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done (`open`, `read`, `write`, ...).
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The path exists but is a directory or another non-regular file.
    #[error("{}: not a regular file (is it a directory?)", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The extension is none of `.fvecs`, `.bvecs`, `.ivecs`, `.npy`.
    #[error("{}: unknown extension; expected .fvecs, .bvecs, .ivecs or .npy", path.display())]
    UnknownExtension {
        /// The file.
        path: PathBuf,
    },
    /// The file holds no records (zero bytes, or a `.npy` of shape `(0, d)`).
    #[error("{}: empty file: it holds no records", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A record (or a TEXMEX record's 4-byte dimension) runs past the end of
    /// the file.
    #[error(
        "{}: record {record} at byte {offset} is truncated: it needs {needed} bytes, the file has {available} left",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Index of the incomplete record.
        record: u64,
        /// Where it starts.
        offset: u64,
        /// Bytes the record needs.
        needed: u64,
        /// Bytes left in the file from `offset`.
        available: u64,
    },
    /// A TEXMEX record whose dimension differs from record 0's.
    #[error(
        "{}: record {record} at byte {offset} has dimension {got}, but record 0 has dimension {expected}",
        path.display()
    )]
    DimensionChanged {
        /// The file.
        path: PathBuf,
        /// Index of the record.
        record: u64,
        /// Where it starts.
        offset: u64,
        /// Record 0's dimension.
        expected: usize,
        /// This record's dimension field.
        got: i64,
    },
    /// A dimension below 1: a TEXMEX record whose dimension field is ≤ 0, or a
    /// `.npy` of shape `(n, 0)`.
    #[error(
        "{}: record {record} at byte {offset} declares dimension {got}; it must be at least 1 (is this really a {expected_format} file?)",
        path.display()
    )]
    BadDimension {
        /// The file.
        path: PathBuf,
        /// Index of the record.
        record: u64,
        /// Where it starts.
        offset: u64,
        /// The declared dimension.
        got: i64,
        /// `TEXMEX` or `.npy`.
        expected_format: &'static str,
    },
    /// The file's values are not of the type needed: a `.ivecs` given as
    /// vectors, a `.npy` of float64, ...
    #[error("{}: holds {found}, but {expected} is needed here", path.display())]
    WrongDtype {
        /// The file.
        path: PathBuf,
        /// What the file holds (`int32 values (.ivecs)`, `dtype '<f8'`).
        found: String,
        /// What the caller accepts (`float32`, `float32 or uint8`).
        expected: String,
    },
    /// A `.npy` whose magic, version or header dict cannot be parsed.
    #[error("{}: malformed .npy header at byte {offset}: {reason}", path.display())]
    NpyHeader {
        /// The file.
        path: PathBuf,
        /// Where the problem was found.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A `.npy` array that is not 2-D.
    #[error("{}: array of shape {shape} is not 2-D; expected (rows, columns)", path.display())]
    NotTwoDimensional {
        /// The file.
        path: PathBuf,
        /// The shape as written in the header, e.g. `(5,)`.
        shape: String,
    },
    /// A `.npy` array in Fortran (column-major) order.
    #[error(
        "{}: array is in Fortran (column-major) order; save it in C order (numpy.ascontiguousarray)",
        path.display()
    )]
    FortranOrder {
        /// The file.
        path: PathBuf,
    },
    /// A `.npy` file longer than its header's shape says.
    #[error(
        "{}: {extra} bytes follow the last record (record {records} would start at byte {offset}); the header declares {records} rows",
        path.display()
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Rows the header declares.
        records: u64,
        /// Where the declared data ends.
        offset: u64,
        /// Bytes after it.
        extra: u64,
    },
    /// Writing values into a TEXMEX extension made for another type (f32
    /// into `.ivecs`, ...).
    #[error(
        "{}: a .{} file holds {holds} values and cannot store {values}; use .{} or .npy",
        path.display(),
        holds.texmex_extension(),
        values.texmex_extension()
    )]
    ExtensionMismatch {
        /// The file.
        path: PathBuf,
        /// The type the extension holds.
        holds: Dtype,
        /// The type of the values to write.
        values: Dtype,
    },
    /// Writing a matrix with no rows (the empty file could not be read back).
    #[error("{}: nothing to write: the matrix has no rows", path.display())]
    NothingToWrite {
        /// The file.
        path: PathBuf,
    },
    /// Writing a TEXMEX file whose dimension does not fit its int32 field.
    #[error("{}: dimension {dim} does not fit a TEXMEX record's int32 dimension field", path.display())]
    DimensionTooLarge {
        /// The file.
        path: PathBuf,
        /// The matrix dimension.
        dim: usize,
    },
    /// [`crate::Matrix::new`] with a dimension of 0 or a length that is not a
    /// multiple of the dimension.
    #[error("{len} values do not form rows of dimension {dim} (dim must be at least 1 and divide the length)")]
    Shape {
        /// The requested dimension.
        dim: usize,
        /// The number of values.
        len: usize,
    },
}

impl Error {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            path: path.into(),
            action,
            source,
        }
    }

    pub(crate) fn wrong_dtype(
        path: impl Into<PathBuf>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Error::WrongDtype {
            path: path.into(),
            found: found.into(),
            expected: expected.into(),
        }
    }
}

/// Describes the values of a TEXMEX file, for [`Error::WrongDtype`].
pub(crate) fn texmex_found(dtype: Dtype) -> String {
    format!("{dtype} values (.{})", dtype.texmex_extension())
}

/// Why [`crate::ground_truth`] refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum GroundTruthError {
    /// `k == 0`.
    #[error("k must be at least 1")]
    ZeroK,
    /// `k` is larger than the number of base vectors.
    #[error("k = {k} exceeds the {rows} base vectors")]
    KTooLarge {
        /// The requested `k`.
        k: usize,
        /// Number of base vectors.
        rows: usize,
    },
    /// Base and query vectors have different dimensions.
    #[error("queries have dimension {query}, base vectors {base}")]
    DimensionMismatch {
        /// Base dimension.
        base: usize,
        /// Query dimension.
        query: usize,
    },
    /// More base vectors than int32 ids can number (2³¹).
    #[error("{rows} base vectors do not fit int32 ids (at most 2^31)")]
    TooManyBase {
        /// Number of base vectors.
        rows: usize,
    },
    /// A base vector the metric rejects (non-finite, or zero under cosine).
    #[error("base vector {record}: {source}")]
    Base {
        /// Its row index.
        record: usize,
        /// The engine's reason.
        #[source]
        source: waypoint_index::Error,
    },
    /// A query vector the metric rejects.
    #[error("query {record}: {source}")]
    Query {
        /// Its row index.
        record: usize,
        /// The engine's reason.
        #[source]
        source: waypoint_index::Error,
    },
    /// Any other engine error (e.g. a dimension above the engine's maximum).
    #[error(transparent)]
    Index(#[from] waypoint_index::Error),
}
