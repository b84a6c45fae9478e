//! Exact ground truth: agrees with an f64 reference, breaks ties by the
//! smaller id, refuses bad input, and reproduces the bundled and the shared
//! ground-truth files.

mod common;

use waypoint_datasets::sample::{bundled_data_dir, WORDNET_10K};
use waypoint_datasets::{ground_truth, read, read_f32, GroundTruthError, Matrix};
use waypoint_index::{scalar, Metric};

/// The reference distance of base row `id` to `query`, in f64.
fn reference(metric: Metric, base: &Matrix<f32>, query: &[f32], id: i32) -> f64 {
    scalar::distance(metric, query, base.row(id as usize))
}

/// Asserts that `ids` is an exact top-k of `query`: column by column, its
/// reference distance equals that of the reference ranking within `tol`
/// (so ids may differ only where distances tie).
fn assert_exact_top_k(metric: Metric, base: &Matrix<f32>, query: &[f32], ids: &[i32], tol: f64) {
    let mut order: Vec<(f64, i32)> = (0..base.rows() as i32)
        .map(|id| (reference(metric, base, query, id), id))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (j, &id) in ids.iter().enumerate() {
        let got = reference(metric, base, query, id);
        assert!(
            (got - order[j].0).abs() <= tol,
            "column {j}: id {id} at {got}, reference id {} at {}",
            order[j].1,
            order[j].0
        );
    }
}

#[test]
fn ground_truth_is_an_exact_top_k_for_every_metric() {
    let (dim, n, nq, k) = (24, 500, 20, 15);
    let base = Matrix::new(dim, common::random_f32(n * dim, 7)).unwrap();
    let queries = Matrix::new(dim, common::random_f32(nq * dim, 8)).unwrap();
    for metric in [Metric::L2Squared, Metric::Cosine, Metric::InnerProduct] {
        let gt = ground_truth(&base, &queries, k, metric).unwrap();
        assert_eq!((gt.rows(), gt.dim()), (nq, k));
        for (q, ids) in queries.iter().zip(gt.iter()) {
            assert_exact_top_k(metric, &base, q, ids, 1e-5);
        }
    }
}

#[test]
fn ties_go_to_the_smaller_id() {
    // Rows 6, 2 and 4 are the same point; row 0 is farther.
    let rows = [
        [9.0, 9.0],
        [5.0, 5.0],
        [1.0, 2.0],
        [7.0, 7.0],
        [1.0, 2.0],
        [8.0, 8.0],
        [1.0, 2.0],
    ];
    let base = Matrix::new(2, rows.concat()).unwrap();
    let queries = Matrix::new(2, vec![1.0, 2.0]).unwrap();
    let gt = ground_truth(&base, &queries, 4, Metric::L2Squared).unwrap();
    assert_eq!(gt.row(0), &[2, 4, 6, 1]);
}

#[test]
fn bad_input_is_refused_with_the_row() {
    let base = Matrix::new(2, vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0]).unwrap();
    let queries = Matrix::new(2, vec![1.0, 1.0, 0.0, 0.0]).unwrap();
    let good_queries = Matrix::new(2, vec![1.0, 1.0]).unwrap();
    assert!(matches!(
        ground_truth(&base, &good_queries, 4, Metric::L2Squared),
        Err(GroundTruthError::KTooLarge { k: 4, rows: 3 })
    ));
    assert!(matches!(
        ground_truth(&base, &good_queries, 0, Metric::L2Squared),
        Err(GroundTruthError::ZeroK)
    ));
    let wide = Matrix::new(3, vec![1.0, 1.0, 1.0]).unwrap();
    assert_eq!(
        ground_truth(&base, &wide, 1, Metric::L2Squared)
            .unwrap_err()
            .to_string(),
        "queries have dimension 3, base vectors 2"
    );
    let err = ground_truth(&base, &good_queries, 1, Metric::Cosine).unwrap_err();
    assert!(matches!(err, GroundTruthError::Base { record: 2, .. }));
    assert!(err
        .to_string()
        .starts_with("base vector 2: zero vector under the cosine metric"));
    let ok_base = Matrix::new(2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    let err = ground_truth(&ok_base, &queries, 1, Metric::Cosine).unwrap_err();
    assert!(matches!(err, GroundTruthError::Query { record: 1, .. }));
}

#[test]
fn bundled_sample_ground_truth_is_reproduced_exactly() {
    let dir = bundled_data_dir();
    let base = read_f32(WORDNET_10K.base_path(&dir)).unwrap();
    let queries = read_f32(WORDNET_10K.query_path(&dir)).unwrap();
    let bundled = read::<i32>(WORDNET_10K.groundtruth_path(&dir)).unwrap();
    assert_eq!((base.rows(), base.dim()), (10_000, 384));
    assert_eq!(
        (queries.rows(), bundled.rows(), bundled.dim()),
        (200, 200, 100)
    );
    let gt = ground_truth(&base, &queries, WORDNET_10K.k, WORDNET_10K.metric).unwrap();
    assert_eq!(gt, bundled);
}

#[test]
fn bundled_sample_is_a_prefix_of_the_shared_wordnet_set() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = bundled_data_dir();
    for (bundled, full) in [
        (
            WORDNET_10K.base_path(&dir),
            "wordnet-minilm-384-angular_base.fvecs",
        ),
        (
            WORDNET_10K.query_path(&dir),
            "wordnet-minilm-384-angular_query.fvecs",
        ),
    ] {
        let small = std::fs::read(&bundled).unwrap();
        let large = std::fs::read(shared.join(full)).unwrap();
        assert!(
            large.starts_with(&small),
            "{} is not a prefix of {full}",
            bundled.display()
        );
    }
}

#[test]
fn wordnet_ground_truth_reproduces_the_shared_file() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let base = read_f32(shared.join("wordnet-minilm-384-angular_base.fvecs")).unwrap();
    let queries = read_f32(shared.join("wordnet-minilm-384-angular_query.fvecs")).unwrap();
    let expected =
        read::<i32>(shared.join("wordnet-minilm-384-angular_groundtruth.ivecs")).unwrap();
    assert_eq!(
        (base.rows(), queries.rows(), expected.rows()),
        (55_000, 1_000, 1_000)
    );
    let k = 10;
    let gt = ground_truth(&base, &queries, k, Metric::Cosine).unwrap();
    let mut swaps = 0;
    for q in 0..queries.rows() {
        for j in 0..k {
            let (ours, theirs) = (gt.row(q)[j], expected.row(q)[j]);
            if ours != theirs {
                let d_ours = reference(Metric::Cosine, &base, queries.row(q), ours);
                let d_theirs = reference(Metric::Cosine, &base, queries.row(q), theirs);
                assert!(
                    (d_ours - d_theirs).abs() <= 1e-6,
                    "query {q} column {j}: ours {ours} at {d_ours}, expected {theirs} at {d_theirs}"
                );
                swaps += 1;
            }
        }
    }
    println!("{swaps} tie swaps in {} ids", queries.rows() * k);
}

/// A test that skips for lack of data says so in the plain harness output
/// (no `--nocapture`): this test binary is run again on that one test,
/// without `WAYPOINT_SHARED_DATA`.
#[test]
fn a_skipped_test_is_named_in_the_normal_test_output() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "bundled_sample_is_a_prefix_of_the_shared_wordnet_set",
            "--exact",
        ])
        .env_remove("WAYPOINT_SHARED_DATA")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "SKIPPED bundled_sample_is_a_prefix_of_the_shared_wordnet_set: WAYPOINT_SHARED_DATA is not set"
        ),
        "{stderr}"
    );
}
