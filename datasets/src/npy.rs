//! NumPy `.npy` files, format versions 1.0–3.0: the magic `\x93NUMPY`, a
//! version, a little-endian header length, a Python-literal dict such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 384), }`, then
//! the values.
//!
//! Only 2-D, C-ordered arrays of `<f4`, `|u1` or `<i4` are accepted; the
//! header is checked against the file length before any value is read.
//! Writing produces version 1.0 with the header padded to 64 bytes, as NumPy
//! does. Never evaluates the header: it is parsed as data.

use std::io::{Read, Write};
use std::path::Path;

use crate::element::{Dtype, Element};
use crate::error::{Error, Result};
use crate::file;
use crate::matrix::Matrix;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Longest header accepted: NumPy writes ~128 bytes; this bounds the
/// allocation a damaged length field can cause.
const MAX_HEADER_LEN: u64 = 1 << 20;

/// What a checked header says about the array.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub dtype: Dtype,
    pub rows: u64,
    pub dim: usize,
    /// Byte offset of the first value.
    pub data_offset: u64,
}

impl Header {
    pub fn row_bytes(&self) -> u64 {
        (self.dim * self.dtype.size()) as u64
    }
}

/// The `found` text of a dtype error.
pub(crate) fn found(dtype: Dtype) -> String {
    format!("{dtype} values (dtype '{}')", dtype.npy_descr())
}

/// Reads the header from `source` (positioned at byte 0 of a file of
/// `file_len` bytes) and checks it and the file length against each other.
/// Leaves `source` at the first value.
///
/// # Errors
/// [`Error::NpyHeader`] for a bad magic, version or dict,
/// [`Error::FortranOrder`], [`Error::NotTwoDimensional`],
/// [`Error::WrongDtype`] for a dtype other than `<f4`, `|u1`, `<i4`,
/// [`Error::Empty`] for zero rows, [`Error::BadDimension`] for zero
/// columns, [`Error::Truncated`] / [`Error::TrailingBytes`] when the file
/// length disagrees with the shape, [`Error::Io`] for read failures.
pub(crate) fn read_header(path: &Path, source: &mut impl Read, file_len: u64) -> Result<Header> {
    let prelude = read_at(path, source, 0, file_len.min(8) as usize)?;
    if !prelude.iter().zip(MAGIC).all(|(a, b)| a == b) {
        return Err(header_error(
            path,
            0,
            "missing the \\x93NUMPY magic: not a .npy file",
        ));
    }
    if prelude.len() < 8 {
        return Err(header_error(path, 0, "the file ends inside the header"));
    }
    let (major, minor) = (prelude[6], prelude[7]);
    let len_field = match major {
        1 => 2,
        2 | 3 => 4,
        _ => {
            return Err(header_error(
                path,
                6,
                format!("unsupported format version {major}.{minor} (expected 1.0, 2.0 or 3.0)"),
            ))
        }
    };
    let len_bytes = read_at(path, source, 8, len_field)?;
    let header_len = len_bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let text_offset = 8 + len_field as u64;
    if header_len > MAX_HEADER_LEN {
        return Err(header_error(
            path,
            8,
            format!("header length {header_len} is implausible (more than {MAX_HEADER_LEN} bytes)"),
        ));
    }
    if text_offset + header_len > file_len {
        return Err(header_error(
            path,
            8,
            format!("header length {header_len} runs past the end of the {file_len}-byte file"),
        ));
    }
    let text = read_at(path, source, text_offset, header_len as usize)?;
    let dict = parse_dict(&text)
        .map_err(|(pos, reason)| header_error(path, text_offset + pos as u64, reason))?;
    let header = dict.into_header(path, text_offset + header_len, text_offset)?;
    check_length(path, &header, file_len)?;
    Ok(header)
}

/// Reads `n` bytes that start at `offset` (where `source` stands).
fn read_at(path: &Path, source: &mut impl Read, offset: u64, n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    source.read_exact(&mut buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            header_error(path, offset, "the file ends inside the header")
        }
        _ => Error::io(path, "read", e),
    })?;
    Ok(buf)
}

fn header_error(path: &Path, offset: u64, reason: impl Into<String>) -> Error {
    Error::NpyHeader {
        path: path.into(),
        offset,
        reason: reason.into(),
    }
}

/// Checks that the file holds exactly `rows × dim` values after the header.
fn check_length(path: &Path, header: &Header, file_len: u64) -> Result<()> {
    let row_bytes = header.row_bytes();
    let data_len = file_len - header.data_offset;
    let rows_present = data_len / row_bytes;
    if rows_present < header.rows {
        let offset = header.data_offset + rows_present * row_bytes;
        return Err(Error::Truncated {
            path: path.into(),
            record: rows_present,
            offset,
            needed: row_bytes,
            available: file_len - offset,
        });
    }
    let end = header.data_offset + header.rows * row_bytes;
    if file_len > end {
        return Err(Error::TrailingBytes {
            path: path.into(),
            records: header.rows,
            offset: end,
            extra: file_len - end,
        });
    }
    Ok(())
}

/// Loads a whole `.npy` of `T` values through a read-only map.
///
/// # Errors
/// [`Error::WrongDtype`] if the array is not of `T`; the errors of
/// [`read_header`]; [`Error::Io`], [`Error::NotAFile`], [`Error::Empty`].
pub(crate) fn read<T: Element>(path: &Path) -> Result<Matrix<T>> {
    let map = file::map(path)?;
    let header = read_header(path, &mut &map[..], map.len() as u64)?;
    if header.dtype != T::DTYPE {
        return Err(Error::wrong_dtype(
            path,
            found(header.dtype),
            T::DTYPE.to_string(),
        ));
    }
    decode(&map, &header)
}

/// Loads a whole `.npy` of `f32` or `u8` values as `f32`.
///
/// # Errors
/// As [`read`]; [`Error::WrongDtype`] for `int32`.
pub(crate) fn read_f32(path: &Path) -> Result<Matrix<f32>> {
    let map = file::map(path)?;
    let header = read_header(path, &mut &map[..], map.len() as u64)?;
    match header.dtype {
        Dtype::F32 => decode(&map, &header),
        Dtype::U8 => decode::<u8>(&map, &header).map(Matrix::from),
        Dtype::I32 => Err(Error::wrong_dtype(
            path,
            found(header.dtype),
            "float32 or uint8",
        )),
    }
}

fn decode<T: Element>(bytes: &[u8], header: &Header) -> Result<Matrix<T>> {
    let start = header.data_offset as usize;
    let end = start + (header.rows * header.row_bytes()) as usize;
    let mut data = Vec::with_capacity(header.rows as usize * header.dim);
    T::decode_le(&bytes[start..end], &mut data);
    Matrix::new(header.dim, data)
}

/// Writes `matrix` as a version 1.0 `.npy` of shape `(rows, dim)`.
///
/// # Errors
/// [`Error::NothingToWrite`] for zero rows; [`Error::Io`].
pub(crate) fn write<T: Element>(path: &Path, matrix: &Matrix<T>) -> Result<()> {
    if matrix.rows() == 0 {
        return Err(Error::NothingToWrite { path: path.into() });
    }
    let mut out = file::create(path)?;
    let write_err = |e| Error::io(path, "write", e);
    out.write_all(&encode_header(T::DTYPE, matrix.rows(), matrix.dim()))
        .map_err(write_err)?;
    let mut chunk = Vec::new();
    for rows in matrix.as_slice().chunks(1 << 18) {
        chunk.clear();
        T::encode_le(rows, &mut chunk);
        out.write_all(&chunk).map_err(write_err)?;
    }
    out.flush().map_err(write_err)
}

/// The magic, version 1.0, length and dict, padded with spaces and a final
/// newline so that the values start at a multiple of 64 bytes.
fn encode_header(dtype: Dtype, rows: usize, dim: usize) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': ({rows}, {dim}), }}",
        dtype.npy_descr()
    );
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    let text_len = unpadded.next_multiple_of(64) - MAGIC.len() - 4;
    let mut out = Vec::with_capacity(unpadded + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // Two usize numbers and fixed text: far below u16::MAX.
    out.extend_from_slice(&(text_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(MAGIC.len() + 4 + text_len - 1, b' ');
    out.push(b'\n');
    out
}

/// A value in the header dict.
#[derive(Debug)]
enum Literal {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
}

impl std::fmt::Display for Literal {
    /// As Python would print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Literal::Str(s) => write!(f, "'{s}'"),
            Literal::Bool(true) => f.write_str("True"),
            Literal::Bool(false) => f.write_str("False"),
            Literal::Tuple(t) => f.write_str(&python_tuple(t)),
        }
    }
}

/// The three keys NumPy writes, as parsed.
#[derive(Debug, Default)]
struct Dict {
    descr: Option<String>,
    fortran_order: Option<bool>,
    shape: Option<Vec<u64>>,
}

impl Dict {
    /// Checks the parsed values; `data_offset` is where the values start and
    /// `text_offset` where the dict starts (for error offsets).
    fn into_header(self, path: &Path, data_offset: u64, text_offset: u64) -> Result<Header> {
        let missing =
            |key: &str| header_error(path, text_offset, format!("the header has no '{key}'"));
        let descr = self.descr.ok_or_else(|| missing("descr"))?;
        let fortran_order = self.fortran_order.ok_or_else(|| missing("fortran_order"))?;
        let shape = self.shape.ok_or_else(|| missing("shape"))?;
        if fortran_order {
            return Err(Error::FortranOrder { path: path.into() });
        }
        let &[rows, dim] = &shape[..] else {
            return Err(Error::NotTwoDimensional {
                path: path.into(),
                shape: python_tuple(&shape),
            });
        };
        let dtype = Dtype::from_npy_descr(&descr).ok_or_else(|| {
            Error::wrong_dtype(
                path,
                format!("dtype '{descr}'"),
                "float32 ('<f4'), uint8 ('|u1') or int32 ('<i4')",
            )
        })?;
        if rows == 0 {
            return Err(Error::Empty { path: path.into() });
        }
        if dim == 0 {
            return Err(Error::BadDimension {
                path: path.into(),
                record: 0,
                offset: data_offset,
                got: 0,
                expected_format: ".npy",
            });
        }
        let dim = usize::try_from(dim)
            .ok()
            .filter(|d| d.checked_mul(dtype.size()).is_some())
            .ok_or_else(|| {
                header_error(path, text_offset, format!("dimension {dim} is too large"))
            })?;
        Ok(Header {
            dtype,
            rows,
            dim,
            data_offset,
        })
    }
}

/// A shape written as Python does: `()`, `(5,)`, `(2, 3, 4)`.
fn python_tuple(values: &[u64]) -> String {
    match values {
        [one] => format!("({one},)"),
        _ => {
            let items: Vec<String> = values.iter().map(u64::to_string).collect();
            format!("({})", items.join(", "))
        }
    }
}

/// Parses the header dict; an error carries its byte position in `text`.
fn parse_dict(text: &[u8]) -> std::result::Result<Dict, (usize, String)> {
    let mut p = Parser { text, pos: 0 };
    let mut dict = Dict::default();
    p.skip_space();
    p.expect(b'{')?;
    loop {
        p.skip_space();
        if p.eat(b'}') {
            break;
        }
        let key_pos = p.pos;
        let key = p.string()?;
        p.skip_space();
        p.expect(b':')?;
        p.skip_space();
        let value_pos = p.pos;
        let value = p.value()?;
        let shown = value.to_string();
        let wrong = |what: &str| (value_pos, format!("'{key}' must be {what}, found {shown}"));
        let duplicate = match (key.as_str(), value) {
            ("descr", Literal::Str(s)) => dict.descr.replace(s).is_some(),
            ("descr", _) => return Err(wrong("a type string such as '<f4'")),
            ("fortran_order", Literal::Bool(b)) => dict.fortran_order.replace(b).is_some(),
            ("fortran_order", _) => return Err(wrong("True or False")),
            ("shape", Literal::Tuple(t)) => dict.shape.replace(t).is_some(),
            ("shape", _) => return Err(wrong("a tuple of integers")),
            _ => return Err((key_pos, format!("unexpected key '{key}'"))),
        };
        if duplicate {
            return Err((key_pos, format!("key '{key}' appears twice")));
        }
        p.skip_space();
        if !p.eat(b',') {
            p.skip_space();
            p.expect(b'}')?;
            break;
        }
    }
    p.skip_space();
    if p.pos != text.len() {
        return Err((p.pos, "unexpected text after the header dict".into()));
    }
    Ok(dict)
}

/// A cursor over the header text.
struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, c: u8) -> std::result::Result<(), (usize, String)> {
        if self.eat(c) {
            return Ok(());
        }
        Err((
            self.pos,
            format!("expected '{}', found {}", c as char, self.describe()),
        ))
    }

    fn describe(&self) -> String {
        match self.peek() {
            Some(c) if c.is_ascii_graphic() => format!("'{}'", c as char),
            Some(c) => format!("byte {c:#04x}"),
            None => "the end of the header".into(),
        }
    }

    /// A quoted string without escapes.
    fn string(&mut self) -> std::result::Result<String, (usize, String)> {
        let start = self.pos;
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err((
                    start,
                    format!("expected a quoted string, found {}", self.describe()),
                ))
            }
        };
        self.pos += 1;
        let body = self.pos;
        while let Some(c) = self.peek() {
            if c == quote {
                let s = std::str::from_utf8(&self.text[body..self.pos])
                    .map_err(|_| (body, "string is not valid UTF-8".to_string()))?;
                self.pos += 1;
                return Ok(s.to_string());
            }
            if c == b'\\' {
                return Err((
                    self.pos,
                    "escape sequences are not supported in the header".into(),
                ));
            }
            self.pos += 1;
        }
        Err((start, "unterminated string".into()))
    }

    /// A string, `True`/`False` or a tuple of non-negative integers.
    fn value(&mut self) -> std::result::Result<Literal, (usize, String)> {
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(Literal::Str),
            Some(b'(') => self.tuple().map(Literal::Tuple),
            _ if self.text[self.pos..].starts_with(b"True") => {
                self.pos += 4;
                Ok(Literal::Bool(true))
            }
            _ if self.text[self.pos..].starts_with(b"False") => {
                self.pos += 5;
                Ok(Literal::Bool(false))
            }
            _ => Err((
                self.pos,
                format!(
                    "expected a string, True, False or a tuple, found {}",
                    self.describe()
                ),
            )),
        }
    }

    fn tuple(&mut self) -> std::result::Result<Vec<u64>, (usize, String)> {
        self.expect(b'(')?;
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.eat(b')') {
                return Ok(items);
            }
            items.push(self.integer()?);
            self.skip_space();
            if !self.eat(b',') {
                self.skip_space();
                self.expect(b')')?;
                return Ok(items);
            }
        }
    }

    /// Decimal digits, with Python 2's optional `L` suffix.
    fn integer(&mut self) -> std::result::Result<u64, (usize, String)> {
        let start = self.pos;
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Err((
                start,
                format!("expected a non-negative integer, found {}", self.describe()),
            ));
        }
        let mut n = 0u64;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or_else(|| (start, "integer too large".to_string()))?;
            self.pos += 1;
        }
        self.eat(b'L');
        Ok(n)
    }
}
