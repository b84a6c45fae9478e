//! GLIDER's per-layer combination of local and global routing (Li et al.,
//! "Glider: Global and Local Instruction-Driven Expert Router", 2024):
//! `p = softmax(local + s · global)`, keep the top-k experts, renormalise
//! their probabilities to sum to 1. The paper uses k = 2, and s = 100 for
//! held-in tasks, s = 3 for held-out ones.

use super::error::{Result, RouterError};
use super::{score, GlobalScores};

/// One expert chosen by [`combine`] and its mixing weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExpertWeight {
    /// The expert's id.
    pub expert_id: u64,
    /// Its weight in [0, 1]; the weights of one [`combine`] sum to 1.
    pub weight: f64,
}

/// The top-`top_k` experts of `softmax(local_logits + scale · global)`,
/// renormalised, best first (ties: smaller expert id).
///
/// `local_logits[i]` is the local (token-level, per-layer) router's logit
/// for expert `global.expert_ids[i]`; `global` comes from
/// [`crate::router::ExpertLibrary::global_scores`]. `top_k` larger than the
/// number of experts keeps them all.
///
/// # Errors
/// [`RouterError::ZeroTopK`]; [`RouterError::InvalidCombine`] when the
/// lengths differ, there are no experts, or a logit, score or `scale` is
/// not finite.
pub fn combine(
    local_logits: &[f64],
    global: &GlobalScores,
    scale: f64,
    top_k: usize,
) -> Result<Vec<ExpertWeight>> {
    if top_k == 0 {
        return Err(RouterError::ZeroTopK);
    }
    if local_logits.len() != global.scores.len() {
        return Err(RouterError::InvalidCombine(format!(
            "{} local logits for {} experts",
            local_logits.len(),
            global.scores.len()
        )));
    }
    if local_logits.is_empty() {
        return Err(RouterError::InvalidCombine("no experts".into()));
    }
    if !scale.is_finite() {
        return Err(RouterError::InvalidCombine(format!("scale {scale}")));
    }
    let mut logits = Vec::with_capacity(local_logits.len());
    for ((&local, &global_score), &id) in local_logits
        .iter()
        .zip(&global.scores)
        .zip(&global.expert_ids)
    {
        let logit = local + scale * global_score;
        if !logit.is_finite() {
            return Err(RouterError::InvalidCombine(format!(
                "expert {id}: local {local} + {scale} · global {global_score} is not finite"
            )));
        }
        logits.push((id, logit));
    }
    // softmax over all experts, then keep and renormalise the top-k.
    let max = logits.iter().map(|l| l.1).fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = logits.iter().map(|l| (l.1 - max).exp()).sum();
    let mut probs: Vec<ExpertWeight> = logits
        .iter()
        .map(|&(expert_id, logit)| ExpertWeight {
            expert_id,
            weight: (logit - max).exp() / total,
        })
        .collect();
    score::rank(&mut probs, |p| (p.weight, p.expert_id));
    probs.truncate(top_k);
    let kept: f64 = probs.iter().map(|p| p.weight).sum();
    for p in &mut probs {
        p.weight /= kept;
    }
    Ok(probs)
}
