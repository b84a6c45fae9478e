//! Bad input gets the documented error and leaves the index unchanged.

use waypoint_index::{Error, Hnsw, HnswParams, Metric, SearchParams, MAX_NORM_SQ};

fn index(metric: Metric) -> Hnsw {
    let index = Hnsw::new(3, metric, HnswParams::default()).unwrap();
    index.insert(1, &[1.0, 2.0, 3.0]).unwrap();
    index
}

fn unchanged(index: &Hnsw) {
    assert_eq!(index.len(), 1);
    assert_eq!(index.node_count(), 1);
    let hits = index
        .search(&[1.0, 2.0, 3.0], 5, &SearchParams::default())
        .unwrap();
    assert_eq!(hits.len(), 1);
}

#[test]
fn wrong_dimension_is_rejected_with_expected_and_got() {
    let i = index(Metric::L2Squared);
    let err = i.insert(2, &[1.0, 2.0]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::DimensionMismatch {
                expected: 3,
                got: 2
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "dimension mismatch: expected 3 components, got 2"
    );
    let err = i
        .search(&[1.0; 4], 1, &SearchParams::default())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::DimensionMismatch {
            expected: 3,
            got: 4
        }
    ));
    unchanged(&i);
}

#[test]
fn empty_vector_is_a_dimension_mismatch() {
    let i = index(Metric::L2Squared);
    assert!(matches!(
        i.insert(2, &[]),
        Err(Error::DimensionMismatch {
            expected: 3,
            got: 0
        })
    ));
    assert!(matches!(
        i.search(&[], 1, &SearchParams::default()),
        Err(Error::DimensionMismatch { got: 0, .. })
    ));
    unchanged(&i);
}

#[test]
fn nan_and_infinities_are_rejected_naming_the_component() {
    let i = index(Metric::L2Squared);
    for (v, at) in [
        ([0.0, f32::NAN, 1.0], 1),
        ([f32::INFINITY, 0.0, 1.0], 0),
        ([0.0, 0.0, f32::NEG_INFINITY], 2),
    ] {
        match i.insert(2, &v).unwrap_err() {
            Error::NonFinite { index, .. } => assert_eq!(index, at),
            other => panic!("expected NonFinite, got {other}"),
        }
        assert!(matches!(
            i.search(&v, 1, &SearchParams::default()),
            Err(Error::NonFinite { .. })
        ));
    }
    unchanged(&i);
}

#[test]
fn huge_components_that_overflow_the_norm_are_rejected() {
    for metric in [Metric::L2Squared, Metric::InnerProduct, Metric::Cosine] {
        let i = index(metric);
        let err = i.insert(2, &[1e30, 0.0, 0.0]).unwrap_err();
        assert!(matches!(err, Error::NormOverflow { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("vector too large: its squared norm 1.000e60 is above 4.254e37"),
            "{err}"
        );
        let err = i
            .search(&[0.0, -1e30, 0.0], 1, &SearchParams::default())
            .unwrap_err();
        assert!(matches!(err, Error::NormOverflow { .. }), "{err}");
        unchanged(&i);
    }
}

/// The largest accepted vectors, at opposite corners, next to ordinary
/// ones: every distance stays finite, so the ranking is the exact one.
#[test]
fn the_largest_accepted_components_do_not_poison_the_ranking() {
    let big = (MAX_NORM_SQ / 3.0).sqrt() as f32 * 0.999;
    for metric in [Metric::L2Squared, Metric::InnerProduct] {
        let i = Hnsw::new(3, metric, HnswParams::default()).unwrap();
        let mut rows: Vec<[f32; 3]> = vec![[big; 3], [-big; 3], [big, -big, big]];
        rows.extend((0..40).map(|n| [n as f32, 1.0, -1.0]));
        for (id, row) in rows.iter().enumerate() {
            i.insert(id as u64, row).unwrap();
        }
        for query in [[0.5, 1.0, -1.0], [-big, -big, -big], [big, big, 0.0]] {
            let hits = i
                .search(&query, rows.len(), &SearchParams::default().with_ef(64))
                .unwrap();
            assert!(hits.iter().all(|h| h.distance.is_finite()), "{hits:?}");
            // Exact order in f64, ties broken by id as the engine does.
            let exact = |r: &[f32; 3]| -> f64 {
                let (q, r) = (query.map(f64::from), r.map(f64::from));
                match metric {
                    Metric::L2Squared => (0..3).map(|d| (q[d] - r[d]).powi(2)).sum(),
                    _ => 1.0 - (0..3).map(|d| q[d] * r[d]).sum::<f64>(),
                }
            };
            let mut expected: Vec<u64> = (0..rows.len() as u64).collect();
            expected.sort_by(|&a, &b| {
                exact(&rows[a as usize])
                    .total_cmp(&exact(&rows[b as usize]))
                    .then(a.cmp(&b))
            });
            let got: Vec<u64> = hits.iter().map(|h| h.id).collect();
            assert_eq!(got[..3], expected[..3], "{metric} query {query:?}");
            assert_eq!(got.len(), rows.len());
        }
    }
}

#[test]
fn zero_vector_under_cosine_is_rejected() {
    let i = index(Metric::Cosine);
    assert!(matches!(
        i.insert(2, &[0.0, 0.0, 0.0]),
        Err(Error::ZeroVector)
    ));
    assert!(matches!(
        i.search(&[0.0, 0.0, 0.0], 1, &SearchParams::default()),
        Err(Error::ZeroVector)
    ));
    unchanged(&i);
    // Under L2 the zero vector is an ordinary point.
    let l2 = index(Metric::L2Squared);
    l2.insert(2, &[0.0, 0.0, 0.0]).unwrap();
    assert_eq!(l2.len(), 2);
}

#[test]
fn k_zero_and_ef_zero_are_rejected() {
    let i = index(Metric::L2Squared);
    assert!(matches!(
        i.search(&[1.0, 2.0, 3.0], 0, &SearchParams::default()),
        Err(Error::ZeroK)
    ));
    let err = i
        .search(&[1.0, 2.0, 3.0], 1, &SearchParams::default().with_ef(0))
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidParameter { name: "ef", .. }),
        "{err}"
    );
    unchanged(&i);
}

#[test]
fn a_batch_with_one_bad_row_inserts_nothing_and_names_the_row() {
    let i = index(Metric::L2Squared);
    let rows = [0.0, 1.0, 2.0, 3.0, f32::NAN, 5.0];
    match i.insert_many(&[7, 8], &rows).unwrap_err() {
        Error::Row { row, source } => {
            assert_eq!(row, 1);
            assert!(
                matches!(*source, Error::NonFinite { index: 1, .. }),
                "{source}"
            );
        }
        other => panic!("expected a Row error, got {other}"),
    }
    assert!(matches!(
        i.insert_many(&[7, 8], &rows[..5]),
        Err(Error::DimensionMismatch { .. })
    ));
    unchanged(&i);
}

#[test]
fn an_impossible_capacity_is_an_allocation_error_not_an_abort() {
    let err =
        Hnsw::with_capacity(3, Metric::L2Squared, HnswParams::default(), usize::MAX).unwrap_err();
    assert!(matches!(err, Error::Allocation { .. }), "{err}");
    assert!(err.to_string().starts_with("out of memory"), "{err}");
}

#[test]
fn deleting_an_unknown_id_is_an_error() {
    let i = index(Metric::L2Squared);
    assert!(matches!(i.delete(77), Err(Error::UnknownId(77))));
    unchanged(&i);
}

#[test]
fn invalid_build_parameters_are_rejected() {
    for (dim, m, efc) in [
        (0, 16, 200),
        (70_000, 16, 200),
        (4, 0, 200),
        (4, 1, 200),
        (4, 16, 0),
    ] {
        let params = HnswParams::default().with_m(m).with_ef_construction(efc);
        let err = Hnsw::new(dim, Metric::L2Squared, params).unwrap_err();
        assert!(
            matches!(err, Error::InvalidParameter { .. }),
            "dim {dim} M {m} efc {efc}: {err}"
        );
    }
}

#[test]
fn duplicate_ids_in_one_batch_keep_the_last_row() {
    let i = Hnsw::new(2, Metric::L2Squared, HnswParams::default()).unwrap();
    i.insert_many(&[5, 6, 5], &[0.0, 0.0, 1.0, 1.0, 9.0, 9.0])
        .unwrap();
    assert_eq!(i.len(), 2);
    assert_eq!(i.get_vector(5).unwrap(), vec![9.0, 9.0]);
}

#[test]
fn ids_near_u64_max_work() {
    let i = Hnsw::new(2, Metric::L2Squared, HnswParams::default()).unwrap();
    i.insert(u64::MAX, &[1.0, 0.0]).unwrap();
    i.insert(u64::MAX - 1, &[0.0, 1.0]).unwrap();
    let hits = i.search(&[1.0, 0.1], 2, &SearchParams::default()).unwrap();
    assert_eq!(hits[0].id, u64::MAX);
    assert_eq!(hits[1].id, u64::MAX - 1);
}

#[test]
fn huge_ef_and_k_do_not_allocate_by_the_parameter() {
    for efc in [usize::MAX, u32::MAX as usize, 1 << 40] {
        let params = HnswParams::default().with_ef_construction(efc);
        let i = Hnsw::new(3, Metric::L2Squared, params).unwrap();
        for n in 0..50u64 {
            i.insert(n, &[n as f32, 1.0, 2.0]).unwrap();
        }
        for (k, ef) in [(usize::MAX, 1), (1, usize::MAX), (usize::MAX, usize::MAX)] {
            let hits = i
                .search(&[0.0, 1.0, 2.0], k, &SearchParams::default().with_ef(ef))
                .unwrap();
            assert_eq!(hits.len(), k.min(50));
            assert_eq!(hits[0].id, 0);
        }
    }
}
