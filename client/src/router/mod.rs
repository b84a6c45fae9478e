//! The GLIDER-style expert router (Li et al., "Glider: Global and Local
//! Instruction-Driven Expert Router", 2024).
//!
//! A model-serving stack holds a library of experts (LoRA adapters, one
//! task each) and must pick which to apply to each request. GLIDER's
//! **global** router embeds an instruction describing the request's task and
//! scores every expert by the cosine similarity of that embedding with the
//! expert's task-instruction embeddings (`routing_bias = cos(E_experts,
//! e_query)`); its **local** per-layer router adds those scores, scaled by
//! `s`, to its own logits and keeps the top-k ([`combine`]).
//!
//! - [`ExpertLibrary`]: register experts with one or more keys, then
//!   [`route`](ExpertLibrary::route) (top experts with scores and softmax
//!   weights) or [`global_scores`](ExpertLibrary::global_scores) (the dense
//!   routing bias). Two backends behind one API: embedded (the engine in
//!   process, files in a directory) and remote (a `waypoint serve`).
//! - [`Aggregation`]: how an expert's keys make one score.
//!
//! Scores are cosine similarities in [-1, 1]; weights are in [0, 1] and sum
//! to 1 over one answer. The router never loads adapters or embeds text: it
//! is given embeddings and returns expert records.

mod combine;
mod embedded;
mod error;
mod expert;
mod library;
mod remote;
mod score;

pub use combine::{combine, ExpertWeight};
pub use embedded::{EXACT_MAX_EXPERTS, EXACT_MAX_KEYS};
pub use error::{Result, RouterError};
pub use expert::{
    Embedding, Expert, ExpertFilter, LibrarySpec, MAX_EXPERT_ID, MAX_KEYS_PER_EXPERT,
};
pub use library::ExpertLibrary;

/// How an expert's keys are turned into one score for a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregation {
    /// The best cosine over the expert's keys (`max_j cos(q, k_j)`).
    #[default]
    MaxOverKeys,
    /// The cosine to the mean of the expert's unit keys (`cos(q, c)`,
    /// `c = mean_j k_j`, not re-normalised before the mean).
    MeanOfKeys,
}

/// Options of [`ExpertLibrary::route`].
#[derive(Debug, Clone, PartialEq)]
pub struct RouteOptions {
    /// Experts wanted, at least 1 (GLIDER uses 2). Fewer come back when
    /// fewer experts match.
    pub top_k: usize,
    /// Key aggregation.
    pub aggregation: Aggregation,
    /// Softmax temperature `T > 0`: `weight ∝ exp(score / T)`. GLIDER's
    /// scale `s` corresponds to `T = 1/s`.
    pub temperature: f64,
    /// Hard pre-filter on base model and tags.
    pub filter: ExpertFilter,
    /// `Some(true)`: score every (matching) expert exactly, the brute-force
    /// answer. `Some(false)`: search the HNSW graph. `None` (the default):
    /// the embedded backend scores exactly while the library holds at most
    /// [`EXACT_MAX_KEYS`] keys (max over keys) or [`EXACT_MAX_EXPERTS`]
    /// experts (mean of keys), sizes up to which exact was measured to be at
    /// least as fast, and searches the graph above; the remote backend
    /// searches the graph.
    pub exact: Option<bool>,
    /// HNSW `ef` for the approximate path; `None`: at least 64, raised to
    /// `4 · top_k · keys per expert` (embedded; the server's default on the
    /// remote backend) so that the `top_k` best experts' keys all fit in
    /// the candidate list.
    pub ef: Option<usize>,
}

impl Default for RouteOptions {
    /// `top_k = 2`, max over keys, `T = 1`, no filter, exact or HNSW by size.
    fn default() -> Self {
        RouteOptions {
            top_k: 2,
            aggregation: Aggregation::MaxOverKeys,
            temperature: 1.0,
            filter: ExpertFilter::default(),
            exact: None,
            ef: None,
        }
    }
}

impl RouteOptions {
    /// Sets `top_k`.
    pub fn with_top_k(mut self, top_k: usize) -> Self {
        self.top_k = top_k;
        self
    }

    /// Sets the aggregation.
    pub fn with_aggregation(mut self, aggregation: Aggregation) -> Self {
        self.aggregation = aggregation;
        self
    }

    /// Sets the temperature.
    pub fn with_temperature(mut self, temperature: f64) -> Self {
        self.temperature = temperature;
        self
    }

    /// Sets the filter.
    pub fn with_filter(mut self, filter: ExpertFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Forces exact scoring (`true`) or the HNSW graph (`false`).
    pub fn with_exact(mut self, exact: bool) -> Self {
        self.exact = Some(exact);
        self
    }

    /// Sets the HNSW `ef`.
    pub fn with_ef(mut self, ef: usize) -> Self {
        self.ef = Some(ef);
        self
    }
}

/// One routed expert.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedExpert {
    /// The expert's record.
    pub expert: Expert,
    /// Cosine similarity in [-1, 1] under the chosen aggregation.
    pub score: f64,
    /// Softmax of `score / temperature` over the returned experts: in
    /// [0, 1], summing to 1.
    pub weight: f64,
}

/// GLIDER's routing bias: one exact score per (matching) expert.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GlobalScores {
    /// Expert ids, ascending.
    pub expert_ids: Vec<u64>,
    /// `scores[i]`: cosine similarity of expert `expert_ids[i]`, in [-1, 1].
    pub scores: Vec<f64>,
}
