//! Exact scores in f64 — the definitions every backend is measured
//! against — and the ranking and softmax weights of a routed list.
//!
//! - max over keys: `score = max_j ⟨q, k_j⟩` over the expert's unit keys;
//! - mean of keys: `score = ⟨q, c⟩ / |c|` with `c` the arithmetic mean of
//!   the unit keys (not re-normalised before the mean).
//!
//! `q` is the unit query. Both are cosine similarities in [-1, 1].

use super::RoutedExpert;

/// `⟨a, b⟩` in f64. Eight independent partial sums let the compiler
/// vectorise the loop (a single running sum is one long dependency chain,
/// ~8× slower); the order changes only the last bits of the f64 result.
pub(crate) fn dot<A: Copy + Into<f64>>(a: &[A], b: &[f64]) -> f64 {
    const LANES: usize = 8;
    let mut partial = [0.0f64; LANES];
    let (a_body, a_tail) = a.split_at(a.len() - a.len() % LANES);
    let (b_body, b_tail) = b.split_at(a_body.len().min(b.len()));
    for (xa, xb) in a_body.chunks_exact(LANES).zip(b_body.chunks_exact(LANES)) {
        for lane in 0..LANES {
            partial[lane] += xa[lane].into() * xb[lane];
        }
    }
    let tail: f64 = a_tail.iter().zip(b_tail).map(|(&x, &y)| x.into() * y).sum();
    partial.iter().sum::<f64>() + tail
}

/// Max-over-keys score of unit `query` against row-major unit `keys`.
pub(crate) fn max_over_keys(query: &[f64], keys: &[f32]) -> f64 {
    keys.chunks_exact(query.len())
        .map(|key| dot(key, query))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// The mean of row-major unit `keys` in f64, and its norm.
pub(crate) fn mean_of_keys(keys: &[f32], dim: usize) -> (Vec<f64>, f64) {
    let rows = keys.len() / dim;
    let mut mean = vec![0.0f64; dim];
    for key in keys.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(key) {
            *m += f64::from(v);
        }
    }
    for m in &mut mean {
        *m /= rows as f64;
    }
    let norm = mean.iter().map(|m| m * m).sum::<f64>().sqrt();
    (mean, norm)
}

/// Mean-of-keys score: `⟨query, mean⟩ / norm`.
pub(crate) fn mean_score(query: &[f64], mean: &[f64], norm: f64) -> f64 {
    dot(query, mean) / norm
}

#[cfg(test)]
mod dot_tests {
    use super::dot;

    #[test]
    fn dot_matches_a_plain_sum_for_every_length() {
        for len in 0..40 {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..len).map(|i| (i as f64 * 0.11).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(&x, &y)| f64::from(x) * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-12, "len {len}");
        }
    }
}

/// Best first: descending score, equal scores → smaller expert id.
pub(crate) fn rank<T>(items: &mut [T], key: impl Fn(&T) -> (f64, u64)) {
    items.sort_by(|a, b| {
        let (sa, ia) = key(a);
        let (sb, ib) = key(b);
        sb.total_cmp(&sa).then(ia.cmp(&ib))
    });
}

/// Sets each expert's `weight` to the softmax of `score / temperature`
/// over the list (weights in [0, 1], summing to 1). Subtracts the maximum
/// first so that small temperatures do not overflow.
pub(crate) fn set_softmax_weights(routed: &mut [RoutedExpert], temperature: f64) {
    let max = routed
        .iter()
        .map(|r| r.score)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for r in routed.iter_mut() {
        r.weight = ((r.score - max) / temperature).exp();
        total += r.weight;
    }
    for r in routed.iter_mut() {
        r.weight /= total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_score_is_cosine_to_the_unnormalised_mean() {
        // keys e1 and e2: mean (0.5, 0.5), |c| = √0.5; query e1 → 0.5/√0.5 = √0.5.
        let keys = [1.0f32, 0.0, 0.0, 1.0];
        let (mean, norm) = mean_of_keys(&keys, 2);
        let score = mean_score(&[1.0, 0.0], &mean, norm);
        assert!((score - 0.5f64.sqrt()).abs() < 1e-15);
        assert_eq!(max_over_keys(&[1.0, 0.0], &keys), 1.0);
    }

    #[test]
    fn rank_breaks_ties_by_smaller_id() {
        let mut items = vec![(0.5, 7u64), (0.9, 9), (0.5, 3)];
        rank(&mut items, |&(s, id)| (s, id));
        assert_eq!(items, vec![(0.9, 9), (0.5, 3), (0.5, 7)]);
    }
}
