//! Distance metrics and their kernels.
//!
//! Every distance is "smaller is closer". Kernels are simsimd's, which picks
//! the best SIMD implementation for the running CPU at run time (AVX-512,
//! AVX2, NEON, SVE, or serial). [`scalar`] is a plain reference used only to
//! check them.
//!
//! | metric | distance | range |
//! |---|---|---|
//! | [`Metric::L2Squared`] | `Σ (aᵢ − bᵢ)²` | `[0, ∞)` |
//! | [`Metric::Cosine`] | `1 − cos(a, b)`; vectors are normalised at insert, and this is computed as `½‖â − b̂‖²` | `[0, 2]` |
//! | [`Metric::InnerProduct`] | `1 − ⟨a, b⟩` (as hnswlib's `ip` space) | any real |
//!
//! L2 and cosine distances are never negative, and a vector is at exactly
//! `0.0` from a stored copy of itself. Cosine is therefore computed as
//! `½‖â − b̂‖²`, which equals `1 − ⟨â, b̂⟩` for unit vectors but, unlike it,
//! cannot round below 0 or away from 0 for `â = b̂` (normalisation is exact
//! only to about one ulp, so `⟨â, â⟩` lands a little above or below 1), and
//! keeps its precision for near-duplicates instead of cancelling. Inner
//! product is the raw `1 − ⟨a, b⟩`: it is negative whenever `⟨a, b⟩ > 1`,
//! which unnormalised vectors reach easily, and that order is the metric's
//! meaning.

use std::borrow::Cow;

use simsimd::SpatialSimilarity;

use crate::error::{Error, Result};

/// How two vectors are compared. See the module docs for the exact formulas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Squared Euclidean distance.
    L2Squared,
    /// Cosine distance `1 − cos`. Stored and query vectors are normalised to
    /// unit length, then compared by inner product.
    Cosine,
    /// Inner-product distance `1 − ⟨a, b⟩` on the raw vectors.
    InnerProduct,
}

impl Metric {
    /// Distance between two vectors of equal length, with the SIMD kernel.
    ///
    /// Under [`Metric::Cosine`] both inputs must already be unit vectors (the
    /// index normalises them); this returns `½‖a − b‖²` (= `1 − ⟨a, b⟩`),
    /// at most 2. L2 and cosine are `>= 0` and exactly `0.0` for `a == b`;
    /// inner product may be negative (see the module docs).
    #[inline(always)]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        let l2sq = || non_negative(f32::l2sq(a, b).unwrap_or(f64::INFINITY) as f32);
        match self {
            Metric::L2Squared => l2sq(),
            Metric::Cosine => (0.5 * l2sq()).min(2.0),
            Metric::InnerProduct => 1.0 - f32::dot(a, b).unwrap_or(0.0) as f32,
        }
    }

    /// The code stored in index files.
    pub(crate) fn code(self) -> u32 {
        match self {
            Metric::L2Squared => 1,
            Metric::Cosine => 2,
            Metric::InnerProduct => 3,
        }
    }

    pub(crate) fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(Metric::L2Squared),
            2 => Some(Metric::Cosine),
            3 => Some(Metric::InnerProduct),
            _ => None,
        }
    }

    /// Checks `vector` for this metric and returns the form the index stores:
    /// a copy, normalised to unit length under [`Metric::Cosine`].
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] if `vector.len() != dim`,
    /// [`Error::NonFinite`] for a NaN or ±∞ component,
    /// [`Error::NormOverflow`] if the squared norm is above [`MAX_NORM_SQ`]
    /// (a distance could overflow to ∞ and rank nothing), [`Error::ZeroVector`] for a zero vector
    /// under cosine.
    pub fn prepare(self, vector: &[f32], dim: usize) -> Result<Vec<f32>> {
        let mut out = vector.to_vec();
        self.prepare_into(vector, dim, &mut out)?;
        Ok(out)
    }

    /// Checks a query like [`Metric::prepare`]; copies only when it must
    /// normalise (cosine).
    pub(crate) fn prepare_query(self, query: &[f32], dim: usize) -> Result<Cow<'_, [f32]>> {
        if self == Metric::Cosine {
            return self.prepare(query, dim).map(Cow::Owned);
        }
        check_components(query, dim)?;
        Ok(Cow::Borrowed(query))
    }

    /// As [`Metric::prepare`], writing into `out` (resized to `dim`).
    pub(crate) fn prepare_into(self, vector: &[f32], dim: usize, out: &mut Vec<f32>) -> Result<()> {
        let norm_sq = self.validate(vector, dim)?;
        out.clear();
        out.extend_from_slice(vector);
        if self == Metric::Cosine {
            let inv = 1.0 / norm_sq.sqrt();
            for x in out.iter_mut() {
                *x = (f64::from(*x) * inv) as f32;
            }
        }
        Ok(())
    }
}

impl Metric {
    /// The checks of [`Metric::prepare`] without the copy, for callers that
    /// validate a vector before handing it on (e.g. a whole batch or file
    /// before any of it is written).
    ///
    /// # Errors
    /// As [`Metric::prepare`].
    pub fn check(self, vector: &[f32], dim: usize) -> Result<()> {
        self.validate(vector, dim).map(drop)
    }

    /// The checks of [`Metric::prepare`] without the copy; returns the
    /// squared norm (in f64).
    pub(crate) fn validate(self, vector: &[f32], dim: usize) -> Result<f64> {
        let norm_sq = check_components(vector, dim)?;
        if self == Metric::Cosine && (norm_sq == 0.0 || !norm_sq.is_normal()) {
            return Err(Error::ZeroVector);
        }
        Ok(norm_sq)
    }
}

/// `d`, or `+0.0` for a `-0.0` (a kernel's sum of squares is never below 0,
/// but `-0.0` would sort before `+0.0` under `total_cmp`).
#[inline(always)]
fn non_negative(d: f32) -> f32 {
    if d <= 0.0 {
        0.0
    } else {
        d
    }
}

/// Largest accepted squared norm of a vector: f32::MAX / 8. Any two such
/// vectors have ‖a − b‖² ≤ 2‖a‖² + 2‖b‖² ≤ f32::MAX / 2 and |a·b| ≤ f32::MAX / 8,
/// so every distance is finite with room for the kernels' rounding; a
/// distance of ∞ would tie with every other ∞ and scramble the ranking.
pub const MAX_NORM_SQ: f64 = f32::MAX as f64 / 8.0;

/// Checks length, finiteness and size; returns the squared norm (in f64).
fn check_components(vector: &[f32], dim: usize) -> Result<f64> {
    if vector.len() != dim {
        return Err(Error::DimensionMismatch {
            expected: dim,
            got: vector.len(),
        });
    }
    if let Some((index, &value)) = vector.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(Error::NonFinite { index, value });
    }
    let norm_sq: f64 = vector.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    if norm_sq > MAX_NORM_SQ {
        return Err(Error::NormOverflow { norm_sq });
    }
    Ok(norm_sq)
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Metric::L2Squared => "l2",
            Metric::Cosine => "cosine",
            Metric::InnerProduct => "ip",
        })
    }
}

impl std::str::FromStr for Metric {
    type Err = Error;

    /// Parses `l2`/`l2sq`/`euclidean`, `cosine`/`angular`, `ip`/`dot`/`inner_product`.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "l2" | "l2sq" | "l2squared" | "euclidean" => Ok(Metric::L2Squared),
            "cosine" | "cos" | "angular" => Ok(Metric::Cosine),
            "ip" | "dot" | "inner_product" | "innerproduct" => Ok(Metric::InnerProduct),
            other => Err(Error::invalid(
                "metric",
                format!("unknown metric {other:?}; expected one of l2, cosine, ip"),
            )),
        }
    }
}

/// Plain-Rust reference kernels, computed in f64. Slow; for tests only.
pub mod scalar {
    use super::Metric;

    /// The distance of [`Metric::distance`], computed without SIMD in f64.
    /// Under cosine it normalises both inputs itself, so raw vectors work.
    pub fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        match metric {
            Metric::L2Squared => a
                .iter()
                .zip(b)
                .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                .sum(),
            Metric::InnerProduct => 1.0 - dot,
            Metric::Cosine => {
                let na: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
                let nb: f64 = b.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
                1.0 - dot / (na * nb)
            }
        }
    }
}
