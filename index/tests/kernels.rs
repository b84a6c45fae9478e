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

/// Every L2 and cosine distance of `a` (prepared) to `b` (prepared) is
/// `>= 0`, and `a` is at exactly `+0.0` from itself.
fn assert_non_negative_and_zero_to_self(a: &[f32], b: &[f32]) {
    let dim = a.len();
    for metric in [Metric::L2Squared, Metric::Cosine] {
        let (pa, pb) = (
            metric.prepare(a, dim).unwrap(),
            metric.prepare(b, dim).unwrap(),
        );
        let own = metric.distance(&pa, &pa);
        assert!(
            own == 0.0 && own.is_sign_positive(),
            "{metric} dim {dim}: {a:?} is at {own:e} from itself"
        );
        let d = metric.distance(&pa, &pb);
        assert!(d >= 0.0, "{metric} dim {dim}: negative distance {d:e}");
    }
}

#[test]
fn l2_and_cosine_are_never_negative_and_zero_to_self_for_dims_1_to_1536() {
    let mut rng = common::Rng::new(7);
    // Every dimension covers each kernel's tail handling after its SIMD width.
    for dim in 1..=1536 {
        for _ in 0..4 {
            let a = rng.vectors(1, dim);
            let b = rng.vectors(1, dim);
            assert_non_negative_and_zero_to_self(&a, &b);
            // Nearly parallel vectors: the cosine close to 1 that rounding pushes over.
            let near: Vec<f32> = a.iter().map(|x| x * 3.0 + 1e-7).collect();
            assert_non_negative_and_zero_to_self(&a, &near);
        }
    }
}

#[test]
fn small_integer_vectors_are_at_exactly_zero_from_themselves() {
    // The reported cases ([2, 2, 1], [2, 0, 3], [3, 2, 0]) and every other
    // vector with components in 0..=4.
    for x in 0..=4u8 {
        for y in 0..=4u8 {
            for z in 1..=4u8 {
                let v = [f32::from(x), f32::from(y), f32::from(z)];
                let w = [f32::from(z), f32::from(x), f32::from(y)];
                assert_non_negative_and_zero_to_self(&v, &w);
            }
        }
    }
}

#[test]
fn inner_product_distance_may_be_negative_as_documented() {
    // 1 − ⟨a, b⟩ for ⟨a, b⟩ = 6: the metric's meaning, not clamped.
    assert_eq!(
        Metric::InnerProduct.distance(&[2.0, 0.0], &[3.0, 0.0]),
        -5.0
    );
}
