//! The CLI end to end on real data: load the bundled wordnet-10k sample,
//! search it with ground truth, inspect it, regenerate its ground truth, and
//! the quickstart.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::{small_set, waypoint};
use waypoint_datasets::sample::{bundled_data_dir, WORDNET_10K};
use waypoint_index::Metric;

/// The bundled sample loaded once per test run with `waypoint load`
/// (cosine, 2 threads); returns the index path.
fn bundled_index() -> &'static PathBuf {
    static INDEX: OnceLock<PathBuf> = OnceLock::new();
    INDEX.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("waypoint-cli-sample");
        std::fs::create_dir_all(&dir).unwrap();
        let index = dir.join("wordnet-10k.wpi");
        let output = waypoint()
            .arg("load")
            .arg(WORDNET_10K.base_path(&bundled_data_dir()))
            .args(["--metric", "cosine", "--threads", "2", "-o"])
            .arg(&index)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let summary = String::from_utf8(output.stdout).unwrap();
        for line in [
            "points           10000",
            "dim              384",
            "metric           cosine",
            "threads          2",
            "build seconds    ",
        ] {
            assert!(summary.contains(line), "missing {line:?} in\n{summary}");
        }
        let size = std::fs::metadata(&index).unwrap().len();
        assert!(
            summary.contains(&format!("file size        {size} bytes")),
            "{summary}"
        );
        index
    })
}

/// Runs `waypoint search` on the bundled index with extra arguments;
/// returns stdout.
fn search(args: &[&str]) -> String {
    let data = bundled_data_dir();
    let output = waypoint()
        .arg("search")
        .arg(bundled_index())
        .arg(WORDNET_10K.query_path(&data))
        .arg("--gt")
        .arg(WORDNET_10K.groundtruth_path(&data))
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The CSV rows as (ef, threads, recall).
fn csv_rows(csv: &str) -> Vec<(usize, usize, f64)> {
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("ef,k,threads,recall,qps,p50_us,p95_us,p99_us")
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 8, "{line}");
            let qps: f64 = f[4].parse().unwrap();
            assert!(qps > 0.0, "{line}");
            let (p50, p95, p99): (f64, f64, f64) = (
                f[5].parse().unwrap(),
                f[6].parse().unwrap(),
                f[7].parse().unwrap(),
            );
            assert!(0.0 < p50 && p50 <= p95 && p95 <= p99, "{line}");
            (
                f[0].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn loaded_sample_reaches_recall_095_at_ef_128() {
    let rows = csv_rows(&search(&["--k", "10", "--ef", "16,128", "--format", "csv"]));
    assert_eq!(rows.len(), 2);
    let (ef, threads, recall) = rows[1];
    assert_eq!((ef, threads), (128, 1));
    assert!(recall >= 0.95, "recall@10 at ef 128 is {recall}");
    assert!(
        rows[0].2 <= recall,
        "recall should not fall as ef grows: {rows:?}"
    );
}

#[test]
fn parallel_search_reports_the_same_recall() {
    let single = csv_rows(&search(&["--ef", "64", "--format", "csv"]));
    let parallel = csv_rows(&search(&[
        "--ef",
        "64",
        "--format",
        "csv",
        "--threads",
        "2",
    ]));
    assert_eq!(parallel[0].1, 2);
    // The search is deterministic, so the thread count cannot change results.
    assert_eq!(single[0].2, parallel[0].2);
}

#[test]
fn table_and_json_formats_carry_the_recall() {
    let table = search(&["--ef", "128"]);
    assert!(table.contains("384"), "{table}");
    let header = table
        .lines()
        .find(|l| l.contains("recall@10"))
        .expect("a table header");
    assert!(
        header.contains("QPS") && header.contains("p99 us"),
        "{header}"
    );
    let json = search(&["--ef", "32,64", "--format", "json"]);
    assert!(json.starts_with("[\n") && json.ends_with("]\n"), "{json}");
    assert_eq!(json.matches("\"recall\": 0.").count(), 2, "{json}");
    assert!(
        json.contains("\"ef\": 64, \"k\": 10, \"threads\": 1"),
        "{json}"
    );
}

#[test]
fn inspect_prints_header_sections_and_verdict() {
    let output = waypoint()
        .arg("inspect")
        .arg(bundled_index())
        .arg("--verify")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    for line in [
        "dim              384",
        "metric           cosine",
        "M                16",
        "M0               32",
        "ef_construction  200",
        "nodes            10000",
        "live             10000",
        "deleted          0",
        "verified: OK",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    for section in [
        "vectors",
        "links0",
        "upper_links",
        "external_ids",
        "tombstones",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(section)),
            "no {section} in\n{text}"
        );
    }
    // The histogram's counts add up to the nodes.
    let total: usize = text
        .lines()
        .skip_while(|l| !(l.starts_with("level") && l.ends_with("nodes")))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            l.split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, 10_000);
}

#[test]
fn gt_command_regenerates_the_bundled_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gt.ivecs");
    let data = bundled_data_dir();
    waypoint()
        .arg("gt")
        .arg(WORDNET_10K.base_path(&data))
        .arg(WORDNET_10K.query_path(&data))
        .args(["--k", "100", "--metric", "cosine", "-o"])
        .arg(&out)
        .assert()
        .success();
    let regenerated = std::fs::read(&out).unwrap();
    let bundled = std::fs::read(WORDNET_10K.groundtruth_path(&data)).unwrap();
    assert!(
        regenerated == bundled,
        "waypoint gt no longer reproduces the bundled file"
    );
}

#[test]
fn quickstart_builds_and_searches_the_sample_in_a_sample_dir() {
    // A small stand-in for the sample, under the sample's file names: this
    // checks the WAYPOINT_SAMPLE_DIR override and keeps the test fast.
    // WAYPOINT_DATA_DIR is the server's collections directory: ignored here.
    let dir = tempfile::tempdir().unwrap();
    let set = small_set(dir.path(), Metric::Cosine);
    let data = bundled_data_dir();
    std::fs::rename(&set.base, dir.path().join(WORDNET_10K.base)).unwrap();
    std::fs::rename(&set.query, dir.path().join(WORDNET_10K.query)).unwrap();
    std::fs::rename(&set.gt, dir.path().join(WORDNET_10K.groundtruth)).unwrap();
    assert_ne!(dir.path(), data);
    let output = waypoint()
        .arg("quickstart")
        .env("WAYPOINT_SAMPLE_DIR", dir.path())
        .env("WAYPOINT_DATA_DIR", dir.path().join("not-a-sample"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("500 base vectors × 16"), "{text}");
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip_while(|l| !l.contains("recall@10"))
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    let efs: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(efs, ["16", "32", "64", "128"]);
    let recall: f64 = rows[3][1].parse().unwrap();
    assert!(recall >= 0.95, "{text}");
}
