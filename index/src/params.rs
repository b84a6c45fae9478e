//! Build parameters of an HNSW index ([`HnswParams`]) and their limits.

use crate::error::{Error, Result};

/// Largest accepted vector dimension.
pub const MAX_DIM: usize = 65_536;

/// Largest accepted `M` (links per node on upper layers).
pub const MAX_M: usize = 256;

/// Build parameters, named as in Malkov & Yashunin (2018).
///
/// ```
/// use waypoint_index::HnswParams;
/// let p = HnswParams::default().with_m(32).with_ef_construction(400).with_seed(7);
/// assert_eq!(p.m0(), 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HnswParams {
    /// Links per node on layers ≥ 1 (`M`, default 16). Layer 0 keeps
    /// `M0 = 2·M`. Valid: 2..=[`MAX_M`].
    pub m: usize,
    /// Size of the candidate list while inserting (`efConstruction`,
    /// default 200). Valid: ≥ 1; values below `M` are raised to `M`.
    pub ef_construction: usize,
    /// Default `ef` for searches that do not set one (default 64).
    pub ef_search: usize,
    /// Seed of the layer-assignment generator. A single-threaded build with
    /// the same seed, data and order gives the same graph.
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            seed: 0x5741_5950_4f49_4e54,
        }
    }
}

impl HnswParams {
    /// Sets `M`.
    pub fn with_m(mut self, m: usize) -> Self {
        self.m = m;
        self
    }

    /// Sets `ef_construction`.
    pub fn with_ef_construction(mut self, ef_construction: usize) -> Self {
        self.ef_construction = ef_construction;
        self
    }

    /// Sets the default search `ef`.
    pub fn with_ef_search(mut self, ef_search: usize) -> Self {
        self.ef_search = ef_search;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Links per node on layer 0 (`M0 = 2·M`).
    pub fn m0(&self) -> usize {
        2 * self.m
    }

    /// The level multiplier `mL = 1 / ln(M)`.
    pub fn ml(&self) -> f64 {
        1.0 / (self.m as f64).ln()
    }

    /// Checks the ranges documented on each field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first field out of range.
    pub fn validate(&self) -> Result<()> {
        if !(2..=MAX_M).contains(&self.m) {
            return Err(Error::invalid(
                "M",
                format!("got {}, expected 2..={MAX_M}", self.m),
            ));
        }
        if self.ef_construction == 0 {
            return Err(Error::invalid(
                "ef_construction",
                "got 0, expected at least 1",
            ));
        }
        if self.ef_search == 0 {
            return Err(Error::invalid("ef_search", "got 0, expected at least 1"));
        }
        Ok(())
    }
}

/// Checks a vector dimension.
pub(crate) fn check_dim(dim: usize) -> Result<()> {
    if dim == 0 || dim > MAX_DIM {
        return Err(Error::invalid(
            "dim",
            format!("got {dim}, expected 1..={MAX_DIM}"),
        ));
    }
    Ok(())
}
