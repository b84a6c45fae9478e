//! Helpers for the CLI tests: the built binary, small generated data sets,
//! and the one-line error check.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use waypoint_datasets::{ground_truth, write, Matrix};
use waypoint_index::Metric;

/// The `waypoint` binary built for these tests.
pub fn waypoint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_waypoint"))
}

/// Deterministic pseudo-random values in [-1, 1).
pub fn random_f32(n: usize, seed: u64) -> Vec<f32> {
    waypoint_datasets::synthetic::uniform_values(n, seed)
}

/// A random `rows × dim` matrix.
pub fn random_matrix(rows: usize, dim: usize, seed: u64) -> Matrix<f32> {
    Matrix::new(dim, random_f32(rows * dim, seed)).unwrap()
}

/// Small generated set in `dir`: `base.fvecs` (500 × 16), `query.fvecs`
/// (20 × 16) and `gt.ivecs` (exact top-20 under `metric`).
pub struct Small {
    pub base: PathBuf,
    pub query: PathBuf,
    pub gt: PathBuf,
}

pub fn small_set(dir: &Path, metric: Metric) -> Small {
    let base = random_matrix(500, 16, 1);
    let query = random_matrix(20, 16, 2);
    let set = Small {
        base: dir.join("base.fvecs"),
        query: dir.join("query.fvecs"),
        gt: dir.join("gt.ivecs"),
    };
    write(&set.base, &base).unwrap();
    write(&set.query, &query).unwrap();
    write(&set.gt, &ground_truth(&base, &query, 20, metric).unwrap()).unwrap();
    set
}

/// Runs `cmd`, asserts exit code 1 and a single stderr line
/// `error: <message>` containing every fragment; returns the line.
pub fn fails_with(cmd: &mut Command, fragments: &[&str]) -> String {
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    for fragment in fragments {
        assert!(
            stderr.contains(fragment),
            "missing {fragment:?} in {stderr}"
        );
    }
    stderr
}
