//! The real sample bundled in `datasets/data/` (see the README there):
//! where it lives and what its files are called. Reading it is the job of
//! [`crate::read_f32`] and [`crate::read`].

use std::path::{Path, PathBuf};

use waypoint_index::Metric;

/// A bundled set: base vectors, queries and their exact ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Short name, e.g. `wordnet-10k`.
    pub name: &'static str,
    /// Base vectors file name (`.fvecs`).
    pub base: &'static str,
    /// Query vectors file name (`.fvecs`).
    pub query: &'static str,
    /// Ground-truth file name (`.ivecs`: per query the ids of the nearest
    /// base rows, nearest first, ties to the smaller id).
    pub groundtruth: &'static str,
    /// The metric the ground truth was computed with.
    pub metric: Metric,
    /// Ground-truth neighbours per query.
    pub k: usize,
}

impl Sample {
    /// The base file inside `dir`.
    pub fn base_path(&self, dir: &Path) -> PathBuf {
        dir.join(self.base)
    }

    /// The query file inside `dir`.
    pub fn query_path(&self, dir: &Path) -> PathBuf {
        dir.join(self.query)
    }

    /// The ground-truth file inside `dir`.
    pub fn groundtruth_path(&self, dir: &Path) -> PathBuf {
        dir.join(self.groundtruth)
    }
}

/// The first 10,000 base vectors and first 200 queries of
/// wordnet-minilm-384-angular (all-MiniLM-L6-v2 embeddings of WordNet 3.0
/// glosses, 384 × f32, unit length), with exact cosine ground truth for
/// `k = 100` recomputed on this subset.
pub const WORDNET_10K: Sample = Sample {
    name: "wordnet-10k",
    base: "wordnet-10k_base.fvecs",
    query: "wordnet-10k_query.fvecs",
    groundtruth: "wordnet-10k_groundtruth.ivecs",
    metric: Metric::Cosine,
    k: 100,
};

/// `datasets/data/` in the source tree this crate was compiled from.
pub fn bundled_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}
