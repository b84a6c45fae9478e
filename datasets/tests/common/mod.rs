//! Helpers shared by the integration tests: raw file builders that do not go
//! through the crate's writers (so malformed files can be made), a seeded
//! generator, and the shared-data directory.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

/// Writes `bytes` to `dir/name` and returns the path.
pub fn put(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// TEXMEX records: each row's length as int32 LE, then its 4-byte values.
pub fn texmex4(rows: &[&[[u8; 4]]]) -> Vec<u8> {
    let mut out = Vec::new();
    for row in rows {
        out.extend_from_slice(&(row.len() as i32).to_le_bytes());
        for v in *row {
            out.extend_from_slice(v);
        }
    }
    out
}

/// TEXMEX f32 records with the given rows.
pub fn fvecs(rows: &[Vec<f32>]) -> Vec<u8> {
    let bytes: Vec<Vec<[u8; 4]>> = rows
        .iter()
        .map(|r| r.iter().map(|v| v.to_le_bytes()).collect())
        .collect();
    let refs: Vec<&[[u8; 4]]> = bytes.iter().map(Vec::as_slice).collect();
    texmex4(&refs)
}

/// A version 1.0 `.npy`: magic, version, header length, `dict` padded with
/// spaces and a newline to `align` bytes, then `data`.
pub fn npy(dict: &str, align: usize, data: &[u8]) -> Vec<u8> {
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.next_multiple_of(align);
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&((total - 10) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out.extend_from_slice(data);
    out
}

/// `n` little-endian f32 values 0.0, 1.0, 2.0, ...
pub fn f32_counting(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect()
}

/// Deterministic pseudo-random values in [-1, 1).
pub fn random_f32(n: usize, seed: u64) -> Vec<f32> {
    waypoint_datasets::synthetic::uniform_values(n, seed)
}

/// The shared data directory from `WAYPOINT_SHARED_DATA` (a relative path
/// is taken from the workspace root, where CI runs), or `None` after
/// writing the skip notice ([`waypoint_datasets::skip::notice`]).
pub fn shared_dir() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("WAYPOINT_SHARED_DATA") else {
        waypoint_datasets::skip::notice(
            "WAYPOINT_SHARED_DATA is not set (the shared datasets directory)",
        );
        return None;
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    Some(workspace.join(dir))
}
