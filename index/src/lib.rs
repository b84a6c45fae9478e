//! # waypoint-index
//!
//! Waypoint's engine: approximate nearest-neighbour search with HNSW graphs
//! (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor
//! search using Hierarchical Navigable Small World graphs", TPAMI 2018) over
//! SIMD distance kernels (simsimd), plus exact search, tombstones, filters,
//! and a checked file format that is searched in place through mmap.
//!
//! - [`Hnsw`]: the mutable index: concurrent insert, parallel build, delete,
//!   k-NN search (single, batch, exact, filtered), save.
//! - [`HnswView`]: a saved file opened with mmap and searched zero-copy.
//! - [`FlatIndex`]: brute force with the same search API.
//! - [`Metric`]: `L2Squared`, `Cosine` (`1 − cos`), `InnerProduct` (`1 − dot`);
//!   smaller is always closer.
//!
//! This crate knows nothing of gRPC, WALs or dataset files.
//!
//! ```
//! use waypoint_index::{Hnsw, HnswParams, HnswView, Metric, SearchParams};
//!
//! // 1,000 points in 8 dimensions, ids 0..1000.
//! let dim = 8;
//! let vectors: Vec<f32> = (0..1000 * dim).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
//! let ids: Vec<u64> = (0..1000).collect();
//! let index = Hnsw::build(dim, Metric::L2Squared, HnswParams::default(), &ids, &vectors)?;
//!
//! let query = &vectors[42 * dim..43 * dim];
//! let hits = index.search(query, 5, &SearchParams::default().with_ef(64))?;
//! assert_eq!(hits[0].id, 42);
//! assert_eq!(hits[0].distance, 0.0);
//!
//! // Save, then search the file in place.
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("points.wpi");
//! index.save(&path)?;
//! let view = HnswView::open(&path)?;
//! assert_eq!(view.search(query, 5, &SearchParams::default().with_ef(64))?, hits);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod error;
mod exact;
mod flat;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
mod graph;
mod hnsw;
mod metric;
mod params;
mod scored;
mod scratch;
mod search;
mod select;

pub use error::{Error, Result};
pub use flat::FlatIndex;
pub use format::view::{HnswView, SectionInfo};
pub use hnsw::{Hnsw, MAX_NODES};
pub use metric::{scalar, Metric, MAX_NORM_SQ};
pub use params::{HnswParams, MAX_DIM, MAX_M};
pub use roaring::{RoaringBitmap, RoaringTreemap};
pub use search::{Filter, Neighbor, SearchParams};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
