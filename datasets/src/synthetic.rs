//! Deterministic synthetic data for tests and benchmarks: the same seed gives
//! the same values on every machine and version.

use crate::Matrix;

/// SplitMix64 (Steele, Lea & Flood, 2014), reduced to floats in [-1, 1).
struct SplitMix(u64);

impl SplitMix {
    fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// `n` values uniform in [-1, 1), reproducible from `seed`.
pub fn uniform_values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix(seed);
    (0..n).map(|_| rng.next_f32()).collect()
}

/// A `rows × dim` matrix of values uniform in [-1, 1), reproducible from
/// `seed`.
///
/// # Panics
/// If `dim == 0` (a matrix needs at least one column).
pub fn uniform(rows: usize, dim: usize, seed: u64) -> Matrix<f32> {
    Matrix::new(dim, uniform_values(rows * dim, seed)).expect("dim must be at least 1")
}
