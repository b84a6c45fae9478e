//! Bad input never panics: each case exits with code 1 and one line
//! `error: <message>` naming the file and the problem (usage errors keep
//! clap's code 2). Malformed files are generated in a temporary directory.

mod common;

use std::path::{Path, PathBuf};

use common::{fails_with, small_set, waypoint};
use waypoint_datasets::{write, Matrix};
use waypoint_index::Metric;

/// Writes raw bytes to `dir/name`.
fn put(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `waypoint load <vectors> --metric l2 -o <dir>/out.wpi`.
fn load(vectors: &Path, dir: &Path) -> assert_cmd::Command {
    let mut cmd = waypoint();
    cmd.arg("load")
        .arg(vectors)
        .args(["--metric", "l2", "-o"])
        .arg(dir.join("out.wpi"));
    cmd
}

/// TEXMEX records of 4-byte values with the given dimensions (values 1.0).
fn records(dims: &[i32]) -> Vec<u8> {
    let mut out = Vec::new();
    for &d in dims {
        out.extend_from_slice(&d.to_le_bytes());
        for _ in 0..d {
            out.extend_from_slice(&1.0f32.to_le_bytes());
        }
    }
    out
}

/// A `.npy` with the given header dict and `values` f32 values.
fn npy(dict: &str, values: usize) -> Vec<u8> {
    let total = (10 + dict.len() + 1).next_multiple_of(64);
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&((total - 10) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out.resize(total + 4 * values, 0);
    out
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.fvecs");
    fails_with(
        &mut load(&missing, dir.path()),
        &[&display(&missing), "cannot open", "No such file"],
    );
}

#[test]
fn unreadable_path_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("folder.fvecs");
    std::fs::create_dir(&folder).unwrap();
    fails_with(
        &mut load(&folder, dir.path()),
        &[&display(&folder), "not a regular file"],
    );
}

#[test]
fn unknown_extension_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = put(dir.path(), "vectors.csv", b"1,2,3\n");
    fails_with(
        &mut load(&text, dir.path()),
        &[
            &display(&text),
            "unknown extension; expected .fvecs, .bvecs, .ivecs or .npy",
        ],
    );
}

#[test]
fn empty_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = put(dir.path(), "empty.fvecs", &[]);
    fails_with(
        &mut load(&empty, dir.path()),
        &[&display(&empty), "empty file"],
    );
}

#[test]
fn truncated_last_record_names_record_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = records(&[4, 4, 4]);
    bytes.pop();
    let cut = put(dir.path(), "cut.fvecs", &bytes);
    fails_with(
        &mut load(&cut, dir.path()),
        &[
            &display(&cut),
            "record 2 at byte 40 is truncated: it needs 20 bytes, the file has 19 left",
        ],
    );
}

#[test]
fn changed_dimension_names_record_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mixed = put(dir.path(), "mixed.fvecs", &records(&[4, 4, 3, 4]));
    fails_with(
        &mut load(&mixed, dir.path()),
        &[
            &display(&mixed),
            "record 2 at byte 40 has dimension 3, but record 0 has dimension 4",
        ],
    );
}

#[test]
fn wrong_dtype_for_the_extension_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let ids = put(dir.path(), "ids.ivecs", &records(&[4, 4]));
    fails_with(
        &mut load(&ids, dir.path()),
        &[
            &display(&ids),
            "holds int32 values (.ivecs), but float32 or uint8 is needed here",
        ],
    );
    let doubles = put(
        dir.path(),
        "doubles.npy",
        &npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
            8,
        ),
    );
    fails_with(
        &mut load(&doubles, dir.path()),
        &[&display(&doubles), "holds dtype '<f8'"],
    );
}

#[test]
fn npy_that_is_not_2d_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let flat = put(
        dir.path(),
        "flat.npy",
        &npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (8,), }",
            8,
        ),
    );
    fails_with(
        &mut load(&flat, dir.path()),
        &[
            &display(&flat),
            "array of shape (8,) is not 2-D; expected (rows, columns)",
        ],
    );
}

#[test]
fn fortran_ordered_npy_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let fortran = put(
        dir.path(),
        "fortran.npy",
        &npy(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4), }",
            8,
        ),
    );
    fails_with(
        &mut load(&fortran, dir.path()),
        &[&display(&fortran), "Fortran (column-major) order"],
    );
}

#[test]
fn base_and_query_dimension_mismatch_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let set = small_set(dir.path(), Metric::L2Squared);
    let wide = dir.path().join("wide.fvecs");
    write(&wide, &common::random_matrix(3, 17, 9)).unwrap();
    let message = format!(
        "{} has dimension 17, but {} has dimension 16",
        display(&wide),
        display(&set.base)
    );
    fails_with(
        waypoint()
            .arg("gt")
            .arg(&set.base)
            .arg(&wide)
            .args(["--metric", "l2", "-o"])
            .arg(dir.path().join("gt.ivecs")),
        &[&message],
    );

    let index = dir.path().join("small.wpi");
    waypoint()
        .arg("load")
        .arg(&set.base)
        .args(["--metric", "l2", "-o"])
        .arg(&index)
        .assert()
        .success();
    let message = format!(
        "{} has dimension 17, but {} has dimension 16",
        display(&wide),
        display(&index)
    );
    fails_with(waypoint().arg("search").arg(&index).arg(&wide), &[&message]);
}

/// A small index and its query set, for the search checks.
fn small_index(dir: &Path) -> (common::Small, PathBuf) {
    let set = small_set(dir, Metric::L2Squared);
    let index = dir.join("small.wpi");
    waypoint()
        .arg("load")
        .arg(&set.base)
        .args(["--metric", "l2", "-o"])
        .arg(&index)
        .assert()
        .success();
    (set, index)
}

#[test]
fn ground_truth_with_other_row_count_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (set, index) = small_index(dir.path());
    let short_gt = dir.path().join("short.ivecs");
    write(&short_gt, &Matrix::new(2, vec![0i32; 2 * 19]).unwrap()).unwrap();
    fails_with(
        waypoint()
            .arg("search")
            .arg(&index)
            .arg(&set.query)
            .arg("--gt")
            .arg(&short_gt),
        &[&format!(
            "{}: 19 rows of ground truth, but {} holds 20 queries",
            display(&short_gt),
            display(&set.query)
        )],
    );
}

#[test]
fn k_above_ground_truth_width_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (set, index) = small_index(dir.path());
    fails_with(
        waypoint()
            .arg("search")
            .arg(&index)
            .arg(&set.query)
            .arg("--gt")
            .arg(&set.gt)
            .args(["--k", "21"]),
        &[&format!(
            "{}: k = 21 is larger than the 20 ids per query it holds",
            display(&set.gt)
        )],
    );
}

#[test]
fn unknown_metric_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let set = small_set(dir.path(), Metric::L2Squared);
    let output = waypoint()
        .arg("load")
        .arg(&set.base)
        .args(["--metric", "hamming", "-o"])
        .arg(dir.path().join("x.wpi"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: invalid value 'hamming' for '--metric <METRIC>'")
            && stderr.contains("expected one of l2, cosine, ip"),
        "{stderr}"
    );
}

#[test]
fn unwritable_output_fails_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let set = small_set(dir.path(), Metric::L2Squared);
    let nowhere = dir.path().join("no-such-dir").join("out.wpi");
    fails_with(
        waypoint()
            .arg("load")
            .arg(&set.base)
            .args(["--metric", "l2", "-o"])
            .arg(&nowhere),
        &[
            &display(&nowhere),
            "cannot write here: directory",
            "does not exist",
        ],
    );
    fails_with(
        waypoint()
            .arg("gt")
            .arg(&set.base)
            .arg(&set.query)
            .args(["--metric", "l2", "-o"])
            .arg(dir.path()),
        &[&format!("{}: unknown extension", display(dir.path()))],
    );
    let folder = dir.path().join("taken.ivecs");
    std::fs::create_dir(&folder).unwrap();
    fails_with(
        waypoint()
            .arg("gt")
            .arg(&set.base)
            .arg(&set.query)
            .args(["--metric", "l2", "-o"])
            .arg(&folder),
        &[&format!(
            "{}: cannot write here: it is a directory",
            display(&folder)
        )],
    );
}

#[test]
fn index_that_fails_verification_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (set, index) = small_index(dir.path());
    let mut bytes = std::fs::read(&index).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&index, &bytes).unwrap();
    let corrupt = format!("corrupt index file {}", display(&index));
    fails_with(
        waypoint().arg("inspect").arg(&index).arg("--verify"),
        &[&corrupt],
    );
    fails_with(
        waypoint().arg("search").arg(&index).arg(&set.query),
        &[&corrupt],
    );
    let missing = dir.path().join("missing.wpi");
    fails_with(
        waypoint().arg("inspect").arg(&missing),
        &[&display(&missing)],
    );
}

#[test]
fn zero_vector_under_cosine_names_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut values = common::random_f32(5 * 3, 4);
    values[6..9].fill(0.0);
    let base = dir.path().join("zero.fvecs");
    write(&base, &Matrix::new(3, values).unwrap()).unwrap();
    fails_with(
        waypoint()
            .arg("load")
            .arg(&base)
            .args(["--metric", "cosine", "-o"])
            .arg(dir.path().join("x.wpi")),
        &[&format!(
            "{}: record 2: zero vector under the cosine metric",
            display(&base)
        )],
    );
}

#[test]
fn bad_ids_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let set = small_set(dir.path(), Metric::L2Squared);
    let with_ids = |ids: &Path| {
        let mut cmd = load(&set.base, dir.path());
        cmd.arg("--ids").arg(ids);
        cmd
    };
    let short = dir.path().join("short.ivecs");
    write(&short, &Matrix::new(1, (0..499).collect()).unwrap()).unwrap();
    fails_with(
        &mut with_ids(&short),
        &[&format!(
            "{}: 499 ids for the 500 vectors of {}",
            display(&short),
            display(&set.base)
        )],
    );
    let twice = dir.path().join("twice.ivecs");
    let mut ids: Vec<i32> = (0..500).collect();
    ids[300] = 7;
    write(&twice, &Matrix::new(1, ids).unwrap()).unwrap();
    fails_with(
        &mut with_ids(&twice),
        &[&format!(
            "{}: record 300: id 7 already appears at record 7",
            display(&twice)
        )],
    );
    let wide = dir.path().join("wide.ivecs");
    write(&wide, &Matrix::new(2, vec![0i32; 1000]).unwrap()).unwrap();
    fails_with(
        &mut with_ids(&wide),
        &[&format!("{}: ids must be one column", display(&wide))],
    );
}

#[test]
fn writing_over_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let set = small_set(dir.path(), Metric::L2Squared);
    let before = std::fs::read(&set.base).unwrap();
    fails_with(
        waypoint()
            .arg("load")
            .arg(&set.base)
            .args(["--metric", "l2", "-o"])
            .arg(&set.base),
        &["cannot write here: it is the input", "would destroy it"],
    );
    // gt writes .npy, so an .npy base is an output it could clobber.
    let base_npy = dir.path().join("base.npy");
    write(&base_npy, &waypoint_datasets::read_f32(&set.base).unwrap()).unwrap();
    fails_with(
        waypoint()
            .arg("gt")
            .arg(&base_npy)
            .arg(&set.query)
            .args(["--metric", "l2", "-o"])
            .arg(&base_npy),
        &["cannot write here: it is the input"],
    );
    assert_eq!(
        std::fs::read(&set.base).unwrap(),
        before,
        "the input changed"
    );
}

#[test]
fn an_absurd_thread_count_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let set = small_set(dir.path(), Metric::L2Squared);
    fails_with(
        load(&set.base, dir.path()).args(["--threads", "100000"]),
        &["--threads 100000 is more than the 1024 allowed"],
    );
}

/// TEXMEX `.fvecs` bytes of the given rows (each row its own dimension).
fn fvecs(rows: &[Vec<f32>]) -> Vec<u8> {
    let mut out = Vec::new();
    for row in rows {
        out.extend_from_slice(&(row.len() as i32).to_le_bytes());
        for x in row {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

#[test]
fn bad_vector_values_name_the_record_and_component() {
    let dir = tempfile::tempdir().unwrap();
    let good: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32, 1.0, 2.0]).collect();
    for (name, bad, says) in [
        (
            "nan",
            f32::NAN,
            "vector component 1 is not finite (NaN); every component must be a finite f32",
        ),
        (
            "inf",
            f32::INFINITY,
            "vector component 1 is not finite (inf)",
        ),
        (
            "ninf",
            f32::NEG_INFINITY,
            "vector component 1 is not finite (-inf)",
        ),
        (
            "big",
            1e30,
            "vector too large: its squared norm 1.000e60 is above 4.254e37",
        ),
    ] {
        let mut rows = good.clone();
        rows[4][1] = bad;
        let file = put(dir.path(), &format!("{name}.fvecs"), &fvecs(&rows));
        let expected = format!("{}: record 4: {says}", display(&file));
        fails_with(&mut load(&file, dir.path()), &[&expected]);
        assert!(
            !dir.path().join("out.wpi").exists(),
            "{name}: nothing written"
        );
    }
    // The same rows as queries against a good index.
    let base = put(dir.path(), "good.fvecs", &fvecs(&good));
    load(&base, dir.path()).assert().success();
    let queries = dir.path().join("nan.fvecs");
    fails_with(
        waypoint()
            .arg("search")
            .arg(dir.path().join("out.wpi"))
            .arg(&queries),
        &[&format!(
            "{}: record 4: vector component 1 is not finite (NaN)",
            display(&queries)
        )],
    );
}

#[test]
fn empty_and_absurd_dimensions_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = put(dir.path(), "empty.fvecs", &fvecs(&[vec![], vec![]]));
    fails_with(
        &mut load(&empty, dir.path()),
        &[&format!(
            "{}: record 0 at byte 0 declares dimension 0; it must be at least 1",
            display(&empty)
        )],
    );
    let mut absurd = 1_000_000_000i32.to_le_bytes().to_vec();
    absurd.extend_from_slice(&[0; 16]);
    let absurd = put(dir.path(), "absurd.fvecs", &absurd);
    fails_with(
        &mut load(&absurd, dir.path()),
        &[&format!(
            "{}: record 0 at byte 0 is truncated: it needs 4000000004 bytes, the file has 20 left",
            display(&absurd)
        )],
    );
}

#[test]
fn bad_build_and_search_parameters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let set = small_set(dir.path(), Metric::L2Squared);
    for (flag, value, says) in [
        ("--m", "0", "invalid parameter M: got 0, expected 2..=256"),
        ("--m", "1", "invalid parameter M: got 1, expected 2..=256"),
        (
            "--m",
            "257",
            "invalid parameter M: got 257, expected 2..=256",
        ),
        (
            "--ef-construction",
            "0",
            "invalid parameter ef_construction: got 0, expected at least 1",
        ),
    ] {
        fails_with(load(&set.base, dir.path()).args([flag, value]), &[says]);
    }
    // Values the flag's type cannot hold are usage errors (exit 2).
    let usage = |cmd: &mut assert_cmd::Command, says: &str| {
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    };
    usage(
        load(&set.base, dir.path()).args(["--ef-construction", "-5"]),
        "unexpected argument '-5'",
    );
    load(&set.base, dir.path()).assert().success();
    let search = || {
        let mut cmd = waypoint();
        cmd.arg("search")
            .arg(dir.path().join("out.wpi"))
            .arg(&set.query);
        cmd
    };
    usage(
        search().args(["--k", "0"]),
        "invalid value '0' for '--k <K>': number would be zero",
    );
    usage(
        search().args(["--ef", "16,0"]),
        "invalid value '0' for '--ef <EF>': number would be zero",
    );
    // k and ef far above the index size are answered exactly (all 500 points
    // visited), not refused and not allocated up front.
    let out = search()
        .args(["--k", "100000000000", "--ef", "18446744073709551615"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("k 100000000000"), "{stdout}");
}
