//! [`Matrix`]: `rows × dim` values in one row-major `Vec`, the in-memory form
//! of every dataset file.

use std::slice::ChunksExact;

use crate::element::Element;
use crate::error::{Error, Result};

/// A dense row-major matrix: row `i` is `data[i·dim .. (i+1)·dim]`.
///
/// `dim` is at least 1; a matrix may have zero rows.
///
/// ```
/// use waypoint_datasets::Matrix;
/// let m = Matrix::new(2, vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
/// assert_eq!((m.rows(), m.dim()), (3, 2));
/// assert_eq!(m.row(1), &[3.0, 4.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix<T> {
    dim: usize,
    data: Vec<T>,
}

impl<T: Element> Matrix<T> {
    /// Wraps `data` as rows of `dim` values.
    ///
    /// # Errors
    /// [`Error::Shape`] if `dim == 0` or `data.len()` is not a multiple of
    /// `dim`.
    pub fn new(dim: usize, data: Vec<T>) -> Result<Self> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(Error::Shape {
                dim,
                len: data.len(),
            });
        }
        Ok(Matrix { dim, data })
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Row `i`.
    ///
    /// # Panics
    /// If `i >= self.rows()`.
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The rows, in order.
    pub fn iter(&self) -> ChunksExact<'_, T> {
        self.data.chunks_exact(self.dim)
    }

    /// All values, row-major (`rows · dim` of them).
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The values, row-major.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }
}

impl From<Matrix<u8>> for Matrix<f32> {
    /// Widens every byte to the `f32` of the same value (exact).
    fn from(m: Matrix<u8>) -> Self {
        Matrix {
            dim: m.dim,
            data: m.data.into_iter().map(f32::from).collect(),
        }
    }
}
