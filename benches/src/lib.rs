//! # waypoint-benches
//!
//! Shared pieces of Waypoint's benchmarks: the CSV row every sweep writes
//! (Waypoint's and the peers'), peak-memory readings, and the recall-vs-QPS
//! plot. The binaries and criterion benches live beside this file:
//!
//! - `ann-bench` (`src/bin/ann-bench.rs`): build an index from TEXMEX/npy
//!   files, then sweep `ef` in single-query and batch modes; CSV + PNG.
//! - `benches/kernels.rs`, `benches/search.rs`: criterion micro-benchmarks.
//! - `peers.py`, `compare.sh`: hnswlib, FAISS and USearch on the same files,
//!   same schema, one plot.
#![deny(missing_docs)]

pub mod plot;
pub mod row;
pub mod rss;
