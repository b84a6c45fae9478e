//! The SIMD kernels agree with the scalar reference on every dimension.

mod common;

use waypoint_index::{scalar, Metric};

#[test]
fn simd_matches_scalar_for_every_metric_and_dims_1_to_1536() {
    let mut rng = common::Rng::new(1);
    for dim in 1..=1536 {
        let a = rng.vectors(1, dim);
        let b = rng.vectors(1, dim);
        // The products' magnitude sets the scale of rounding error.
        let scale: f64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| f64::from((x * y).abs()))
            .sum::<f64>()
            + a.iter()
                .zip(&b)
                .map(|(x, y)| f64::from((x - y).powi(2)))
                .sum::<f64>();
        for metric in [Metric::L2Squared, Metric::InnerProduct, Metric::Cosine] {
            let (pa, pb) = (
                metric.prepare(&a, dim).unwrap(),
                metric.prepare(&b, dim).unwrap(),
            );
            let simd = f64::from(metric.distance(&pa, &pb));
            let reference = scalar::distance(metric, &a, &b);
            let tol = 1e-4
                * reference
                    .abs()
                    .max(if metric == Metric::Cosine { 1.0 } else { scale });
            assert!(
                (simd - reference).abs() <= tol,
                "{metric} dim {dim}: simd {simd} vs scalar {reference}"
            );
        }
    }
}

#[test]
fn distances_are_smaller_for_closer_points() {
    let origin = [0.0f32, 0.0, 1.0];
    let near = [0.0f32, 0.1, 1.0];
    let far = [1.0f32, 0.0, 0.0];
    for metric in [Metric::L2Squared, Metric::Cosine] {
        let o = metric.prepare(&origin, 3).unwrap();
        let n = metric.prepare(&near, 3).unwrap();
        let f = metric.prepare(&far, 3).unwrap();
        assert!(
            metric.distance(&o, &n) < metric.distance(&o, &f),
            "{metric}"
        );
    }
    // Cosine distance is 1 − cos: orthogonal unit vectors are at distance 1.
    let cos = Metric::Cosine;
    let d = cos.distance(
        &cos.prepare(&origin, 3).unwrap(),
        &cos.prepare(&far, 3).unwrap(),
    );
    assert!((d - 1.0).abs() < 1e-6);
    // Inner product distance is 1 − dot.
    assert_eq!(
        Metric::InnerProduct.distance(&[2.0, 0.0], &[3.0, 1.0]),
        1.0 - 6.0
    );
}
