//! Helpers shared by the engine's integration tests: seeded random data,
//! brute-force truth, recall, and access to the shared real datasets.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

use waypoint_index::{FlatIndex, Metric, Neighbor, SearchParams};

/// Deterministic xorshift generator, so tests need no RNG crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [-1, 1).
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// `n` rows of `dim` uniform components.
    pub fn vectors(&mut self, n: usize, dim: usize) -> Vec<f32> {
        (0..n * dim).map(|_| self.f32()).collect()
    }

    /// `n` rows around `clusters` random centres (a harder, more realistic
    /// shape than uniform noise).
    pub fn clustered(&mut self, n: usize, dim: usize, clusters: usize) -> Vec<f32> {
        let centres = self.vectors(clusters, dim);
        let mut out = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let c = (self.next_u64() % clusters as u64) as usize;
            for j in 0..dim {
                out.push(centres[c * dim + j] + 0.15 * self.f32());
            }
        }
        out
    }

    /// `n` rows on a `latent`-dimensional subspace of `dim`-space: clustered
    /// points in `latent` dimensions mapped by a fixed random linear map.
    /// Real embeddings have a low intrinsic dimension like this.
    pub fn embedded(&mut self, n: usize, dim: usize, latent: usize, clusters: usize) -> Vec<f32> {
        let map = self.vectors(latent, dim);
        let points = self.clustered(n, latent, clusters);
        let mut out = Vec::with_capacity(n * dim);
        for z in points.chunks_exact(latent) {
            out.extend((0..dim).map(|j| (0..latent).map(|i| z[i] * map[i * dim + j]).sum::<f32>()));
        }
        out
    }
}

/// Exact top-k for each query with the flat index.
pub fn brute_force(
    metric: Metric,
    dim: usize,
    ids: &[u64],
    base: &[f32],
    queries: &[f32],
    k: usize,
) -> Vec<Vec<u64>> {
    let mut flat = FlatIndex::new(dim, metric).unwrap();
    for (i, &id) in ids.iter().enumerate() {
        flat.add(id, &base[i * dim..(i + 1) * dim]).unwrap();
    }
    let rows: Vec<&[f32]> = queries.chunks_exact(dim).collect();
    flat.search_batch(&rows, k, &SearchParams::default())
        .unwrap()
        .into_iter()
        .map(|hits| hits.into_iter().map(|n| n.id).collect())
        .collect()
}

/// Mean of |found ∩ truth[..k]| / k over queries.
pub fn recall_at_k(found: &[Vec<Neighbor>], truth: &[Vec<u64>], k: usize) -> f64 {
    let total: usize = found
        .iter()
        .zip(truth)
        .map(|(f, t)| {
            let t = &t[..k.min(t.len())];
            f.iter().take(k).filter(|n| t.contains(&n.id)).count()
        })
        .sum();
    total as f64 / (found.len() * k) as f64
}

/// The shared dataset directory from `WAYPOINT_SHARED_DATA`, or `None` (with
/// a note) when it is unset. Set but missing files is a failure.
pub fn shared_data(files: &[&str]) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("WAYPOINT_SHARED_DATA") else {
        // Straight to the process's stderr, which the harness does not
        // capture (as waypoint_datasets::skip::notice, which this crate
        // cannot depend on): the note shows in plain `cargo test` output.
        let thread = std::thread::current();
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED {}: WAYPOINT_SHARED_DATA is not set (the shared datasets directory)",
            thread.name().unwrap_or("a test")
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    for f in files {
        assert!(
            dir.join(f).is_file(),
            "WAYPOINT_SHARED_DATA is set but {} is missing",
            dir.join(f).display()
        );
    }
    Some(dir)
}

/// Reads a TEXMEX file of 4-byte components (`.fvecs` / `.ivecs`): per
/// record an i32 LE dimension then the values. Returns (dim, flat values).
pub fn read_vecs<T: Copy>(path: &std::path::Path, decode: fn([u8; 4]) -> T) -> (usize, Vec<T>) {
    let bytes = std::fs::read(path).unwrap();
    let dim = i32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let rec = 4 + 4 * dim;
    assert_eq!(
        bytes.len() % rec,
        0,
        "{} is not whole records",
        path.display()
    );
    let mut out = Vec::with_capacity(bytes.len() / rec * dim);
    for r in bytes.chunks_exact(rec) {
        assert_eq!(
            i32::from_le_bytes(r[0..4].try_into().unwrap()) as usize,
            dim
        );
        out.extend(
            r[4..]
                .chunks_exact(4)
                .map(|c| decode(c.try_into().unwrap())),
        );
    }
    (dim, out)
}
