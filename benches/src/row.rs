//! The CSV schema of a benchmark row, shared with `peers.py` and with the
//! reference files in `shared/benchmarks/` (extra columns are ignored on
//! reading).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One measured point: a library, its build parameters, one `ef`, one mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Library name (`waypoint`, `hnswlib`, `faiss`, `usearch`, ...).
    pub lib: String,
    /// Links per node on upper layers.
    #[serde(rename = "M")]
    pub m: usize,
    /// `ef_construction`.
    pub efc: usize,
    /// `ef` at search time.
    pub efs: usize,
    /// Threads the searches ran on.
    pub threads: usize,
    /// `single` (one query per call, as ann-benchmarks measures) or `batch`
    /// (all queries at once over `threads` threads).
    pub mode: String,
    /// recall@k against the first `k` ground-truth ids.
    pub recall: f64,
    /// Queries per second (median of the rounds).
    pub qps: f64,
    /// Median single-query latency in microseconds (empty when unknown).
    #[serde(default)]
    pub p50_us: Option<f64>,
    /// 99th-percentile latency in microseconds (empty when unknown).
    #[serde(default)]
    pub p99_us: Option<f64>,
    /// Build time in seconds.
    pub build_s: f64,
    /// Size of the index in bytes (file size for Waypoint).
    pub index_bytes: u64,
    /// Peak resident memory of the process in bytes, when known.
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
    /// Neighbours per query.
    pub k: usize,
    /// `cosine`, `l2` or `ip`.
    pub metric: String,
    /// Dataset name.
    pub dataset: String,
    /// Base vectors.
    pub n: usize,
    /// Dimension.
    pub dim: usize,
    /// Queries.
    pub nq: usize,
    /// Library version.
    pub version: String,
}

/// The plotted subset of a row; reads any CSV with these columns.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlotPoint {
    /// Library name.
    pub lib: String,
    /// Search threads.
    pub threads: usize,
    /// `single` or `batch`.
    pub mode: String,
    /// `ef` at search time.
    pub efs: usize,
    /// recall@k.
    pub recall: f64,
    /// Queries per second.
    pub qps: f64,
}

impl From<&Row> for PlotPoint {
    fn from(r: &Row) -> Self {
        PlotPoint {
            lib: r.lib.clone(),
            threads: r.threads,
            mode: r.mode.clone(),
            efs: r.efs,
            recall: r.recall,
            qps: r.qps,
        }
    }
}

/// Writes `rows` as CSV with a header.
///
/// # Errors
/// Any I/O or encoding error, with the path in the message.
pub fn write_csv(path: &Path, rows: &[Row]) -> Result<(), String> {
    let fail = |e: csv::Error| format!("{}: {e}", path.display());
    let mut w = csv::Writer::from_path(path).map_err(fail)?;
    for row in rows {
        w.serialize(row).map_err(fail)?;
    }
    w.flush().map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads the plotted columns of every row of a CSV file.
///
/// # Errors
/// A missing file or a row without the needed columns, with the path.
pub fn read_points(path: &Path) -> Result<Vec<PlotPoint>, String> {
    let fail = |e: csv::Error| format!("{}: {e}", path.display());
    let mut r = csv::Reader::from_path(path).map_err(fail)?;
    r.deserialize().collect::<Result<_, _>>().map_err(fail)
}
