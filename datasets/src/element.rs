//! The value types a dataset file can hold: [`Dtype`] names them, [`Element`]
//! is the Rust type that carries them (`f32`, `u8`, `i32`).
//!
//! Values are always decoded and encoded little-endian, whatever the host,
//! so files move between machines unchanged. Nothing here touches files.

use std::fmt;

/// The type of the values stored in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// IEEE-754 single precision (`.fvecs`, NumPy `<f4`).
    F32,
    /// Unsigned byte (`.bvecs`, NumPy `|u1`).
    U8,
    /// Signed 32-bit integer (`.ivecs`, NumPy `<i4`): ids and ground truth.
    I32,
}

impl Dtype {
    /// Bytes per value (4, 1 or 4).
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::U8 => 1,
        }
    }

    /// The NumPy descriptor written to `.npy` headers: `<f4`, `|u1` or `<i4`.
    pub fn npy_descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::U8 => "|u1",
            Dtype::I32 => "<i4",
        }
    }

    /// The dtype of a NumPy descriptor, if it is one of ours: `<f4`, `<i4`,
    /// and `|u1` (or `<u1`: a single byte has no byte order).
    pub(crate) fn from_npy_descr(descr: &str) -> Option<Self> {
        match descr {
            "<f4" => Some(Dtype::F32),
            "|u1" | "<u1" => Some(Dtype::U8),
            "<i4" => Some(Dtype::I32),
            _ => None,
        }
    }

    /// The TEXMEX extension whose records hold this type: `fvecs`, `bvecs`
    /// or `ivecs`.
    pub fn texmex_extension(self) -> &'static str {
        match self {
            Dtype::F32 => "fvecs",
            Dtype::U8 => "bvecs",
            Dtype::I32 => "ivecs",
        }
    }
}

impl fmt::Display for Dtype {
    /// `float32`, `uint8` or `int32` (NumPy's names).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dtype::F32 => "float32",
            Dtype::U8 => "uint8",
            Dtype::I32 => "int32",
        })
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for u8 {}
    impl Sealed for i32 {}
}

/// A Rust type that dataset files store: `f32`, `u8` or `i32` (sealed).
pub trait Element: sealed::Sealed + Copy + PartialEq + fmt::Debug + Send + Sync + 'static {
    /// The file dtype of this type.
    const DTYPE: Dtype;

    /// Appends the values encoded in `bytes` (little-endian, a whole number
    /// of `DTYPE.size()`-byte values) to `out`.
    fn decode_le(bytes: &[u8], out: &mut Vec<Self>);

    /// Appends the little-endian encoding of `values` to `out`.
    fn encode_le(values: &[Self], out: &mut Vec<u8>);
}

impl Element for u8 {
    const DTYPE: Dtype = Dtype::U8;

    fn decode_le(bytes: &[u8], out: &mut Vec<Self>) {
        out.extend_from_slice(bytes);
    }

    fn encode_le(values: &[Self], out: &mut Vec<u8>) {
        out.extend_from_slice(values);
    }
}

macro_rules! four_byte_element {
    ($t:ty, $dtype:expr) => {
        impl Element for $t {
            const DTYPE: Dtype = $dtype;

            fn decode_le(bytes: &[u8], out: &mut Vec<Self>) {
                debug_assert_eq!(bytes.len() % 4, 0);
                out.extend(
                    bytes
                        .chunks_exact(4)
                        .map(|b| <$t>::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            }

            fn encode_le(values: &[Self], out: &mut Vec<u8>) {
                out.reserve(values.len() * 4);
                for v in values {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    };
}

four_byte_element!(f32, Dtype::F32);
four_byte_element!(i32, Dtype::I32);
