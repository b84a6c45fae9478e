//! # waypoint-datasets
//!
//! Dataset files for Waypoint: read and write TEXMEX `.fvecs` (f32),
//! `.bvecs` (u8) and `.ivecs` (i32), and NumPy `.npy` (2-D, C order, f32 /
//! u8 / i32); compute exact ground truth; find the bundled real sample.
//!
//! - [`read`], [`read_f32`], [`write()`]: whole files, format chosen by the
//!   extension ([`Format`]), values in a row-major [`Matrix`].
//! - [`Reader`]: the same files streamed a block of rows at a time, for
//!   files larger than memory.
//! - [`ground_truth`]: the exact `k` nearest base rows of every query (ties
//!   to the smaller id), with the engine's flat search.
//! - [`sample`]: the bundled `wordnet-10k` set in `datasets/data/`.
//! - [`eval`]: recall@k, QPS and latency percentiles of a search over `ef` values.
//! - [`synthetic`]: deterministic random matrices for tests and benchmarks.
//!
//! Every file error names the file; record-level errors also give the
//! zero-based record index and its byte offset ([`Error`]).
//!
//! ```
//! use waypoint_datasets::{ground_truth, read, read_f32, write, Matrix};
//! use waypoint_index::Metric;
//!
//! let dir = tempfile::tempdir()?;
//! let base = Matrix::new(2, vec![1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0])?;
//! write(dir.path().join("base.fvecs"), &base)?;
//! assert_eq!(read_f32(dir.path().join("base.fvecs"))?, base);
//!
//! let queries = Matrix::new(2, vec![1.0f32, 0.1])?;
//! let gt = ground_truth(&base, &queries, 2, Metric::Cosine)?;
//! assert_eq!(gt.row(0), &[0, 2]);
//! write(dir.path().join("gt.ivecs"), &gt)?;
//! assert_eq!(read::<i32>(dir.path().join("gt.ivecs"))?, gt);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Whole-file loads map the file read-only (memmap2) and decode it in one
//! pass: no second copy of the file in memory, and the row count is known
//! before allocating. The file must not be truncated while it loads (that
//! raises `SIGBUS`, as with any mmap); use [`Reader`] for files that may
//! change.
#![deny(missing_docs)]

mod element;
mod error;
pub mod eval;
mod file;
mod format;
mod ground_truth;
mod matrix;
mod npy;
pub mod sample;
pub mod skip;
mod stream;
pub mod synthetic;
mod texmex;

pub use element::{Dtype, Element};
pub use error::{Error, GroundTruthError, Result};
pub use format::{read, read_f32, write, Format};
pub use ground_truth::ground_truth;
pub use matrix::Matrix;
pub use stream::Reader;
