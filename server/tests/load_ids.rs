//! `waypoint load --ids`: the ids in the file are the ids search returns.

mod common;

use std::path::Path;

use common::{small_set, waypoint};
use waypoint_datasets::{read, write, Matrix};
use waypoint_index::Metric;

#[test]
fn custom_ids_are_returned_by_search() {
    let dir = tempfile::tempdir().unwrap();
    let set = small_set(dir.path(), Metric::L2Squared);
    // Ids shifted by 1000: recall against the row-number ground truth is 0,
    // against the shifted ground truth it is near 1.
    let ids = dir.path().join("ids.ivecs");
    write(&ids, &Matrix::new(1, (1000..1500).collect()).unwrap()).unwrap();
    let gt = read::<i32>(&set.gt).unwrap();
    let shifted = dir.path().join("shifted.ivecs");
    write(
        &shifted,
        &Matrix::new(gt.dim(), gt.as_slice().iter().map(|id| id + 1000).collect()).unwrap(),
    )
    .unwrap();
    let index = dir.path().join("ids.wpi");
    waypoint()
        .arg("load")
        .arg(&set.base)
        .args(["--metric", "l2", "--ids"])
        .arg(&ids)
        .arg("-o")
        .arg(&index)
        .assert()
        .success();
    let recall = |gt: &Path| {
        let output = waypoint()
            .arg("search")
            .arg(&index)
            .arg(&set.query)
            .arg("--gt")
            .arg(gt)
            .args(["--ef", "200", "--format", "csv"])
            .output()
            .unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        text.lines()
            .nth(1)
            .unwrap()
            .split(',')
            .nth(3)
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!(recall(&set.gt), 0.0);
    assert!(recall(&shifted) >= 0.99);
}

#[test]
fn gt_with_the_same_ids_file_names_the_index_ids() {
    let dir = tempfile::tempdir().unwrap();
    let set = small_set(dir.path(), Metric::L2Squared);
    let ids = dir.path().join("ids.ivecs");
    let shifted: Vec<i32> = (0..500).map(|i| 7 * i + 3).collect();
    write(&ids, &Matrix::new(1, shifted.clone()).unwrap()).unwrap();
    let named = dir.path().join("named.ivecs");
    waypoint()
        .arg("gt")
        .arg(&set.base)
        .arg(&set.query)
        .args(["--metric", "l2", "--k", "10", "--ids"])
        .arg(&ids)
        .arg("-o")
        .arg(&named)
        .assert()
        .success();
    // Row r of the plain ground truth, mapped through the ids file, is row r
    // of the named one.
    let plain = read::<i32>(&set.gt).unwrap();
    let named = read::<i32>(&named).unwrap();
    for (p, n) in plain.iter().zip(named.iter()) {
        let expected: Vec<i32> = p[..10].iter().map(|&row| shifted[row as usize]).collect();
        assert_eq!(n, &expected[..]);
    }
}
