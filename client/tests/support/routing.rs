//! The routing set bundled in `datasets/data/` (`routing_*`): loads it and
//! registers its experts in a library. Shared by the embedded tests
//! (client/tests) and the remote ones (server/tests) through `#[path]`.
#![allow(dead_code)] // each test binary uses a different subset

use waypoint_client::router::{Embedding, Expert, ExpertLibrary};

/// The embedding model of the routing set.
pub const MODEL: &str = "all-MiniLM-L6-v2";

/// The routing set, as stored.
pub struct RoutingSet {
    /// `(expert_id, task, adapter_uri)` in file order.
    pub experts: Vec<(u64, String, String)>,
    /// 384-d unit key vectors, row-major.
    pub keys: Vec<f32>,
    /// The expert of each key.
    pub key_expert: Vec<u64>,
    /// 384-d unit query vectors, row-major.
    pub queries: Vec<f32>,
    /// The true expert of each query.
    pub query_expert: Vec<u64>,
    /// Expected top-3 expert ids per query, max over keys.
    pub top3_max: Vec<Vec<u64>>,
    /// Expected top-3 expert ids per query, mean of keys.
    pub top3_mean: Vec<Vec<u64>>,
    /// The dimension (384).
    pub dim: usize,
}

/// The bundled routing set; panics if its files are missing or unreadable.
pub fn load() -> RoutingSet {
    let dir = waypoint_datasets::sample::bundled_data_dir();
    let ints = |name: &str| -> Vec<Vec<u64>> {
        let m = waypoint_datasets::read::<i32>(dir.join(name))
            .unwrap_or_else(|e| panic!("bundled routing set: {name}: {e}"));
        m.iter()
            .map(|row| row.iter().map(|&v| v as u64).collect())
            .collect()
    };
    let floats = |name: &str| -> (Vec<f32>, usize) {
        let m = waypoint_datasets::read_f32(dir.join(name))
            .unwrap_or_else(|e| panic!("bundled routing set: {name}: {e}"));
        (m.as_slice().to_vec(), m.dim())
    };
    let path = dir.join("routing_experts.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("bundled routing set: {}: {e}", path.display()));
    let experts = text
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("an expert record");
            (
                v["expert_id"].as_u64().expect("expert_id"),
                v["task"].as_str().expect("task").to_string(),
                v["adapter_uri"].as_str().expect("adapter_uri").to_string(),
            )
        })
        .collect();
    let (keys, dim) = floats("routing_keys.fvecs");
    let (queries, _) = floats("routing_queries.fvecs");
    let first = |rows: Vec<Vec<u64>>| rows.into_iter().map(|r| r[0]).collect();
    RoutingSet {
        experts,
        keys,
        key_expert: first(ints("routing_keys_expert.ivecs")),
        queries,
        query_expert: first(ints("routing_queries_expert.ivecs")),
        top3_max: ints("routing_baseline_top3_max.ivecs"),
        top3_mean: ints("routing_baseline_top3_mean.ivecs"),
        dim,
    }
}

impl RoutingSet {
    /// Query `i`.
    pub fn query(&self, i: usize) -> Embedding<'_> {
        Embedding::new(MODEL, &self.queries[i * self.dim..(i + 1) * self.dim])
    }

    /// Number of queries.
    pub fn n_queries(&self) -> usize {
        self.query_expert.len()
    }

    /// The base model given to expert `id` in tests: two families, so that
    /// filters have something to exclude.
    pub fn base_model(id: u64) -> &'static str {
        if id.is_multiple_of(2) {
            "t5-xl-lm-adapt"
        } else {
            "t5-large-lm-adapt"
        }
    }

    /// Registers every expert with its keys.
    pub async fn register(&self, library: &mut ExpertLibrary) {
        let mut batch = Vec::new();
        for (id, task, uri) in &self.experts {
            let family = task.split('/').next().unwrap_or(task);
            let expert = Expert::new(*id, task.clone())
                .with_adapter_uri(uri.clone())
                .with_base_model(Self::base_model(*id))
                .with_tag(family.to_string());
            let keys: Vec<Embedding> = self
                .key_expert
                .iter()
                .enumerate()
                .filter(|(_, &e)| e == *id)
                .map(|(row, _)| {
                    Embedding::new(MODEL, &self.keys[row * self.dim..(row + 1) * self.dim])
                })
                .collect();
            batch.push((expert, keys));
        }
        library.add_many(batch).await.expect("register the experts");
    }

    /// Top-1 and top-3 accuracy of routed id lists (one per query).
    pub fn accuracy(&self, routed: &[Vec<u64>]) -> (f64, f64) {
        let hits = |k: usize| {
            routed
                .iter()
                .zip(&self.query_expert)
                .filter(|(r, truth)| r.iter().take(k).any(|id| id == *truth))
                .count() as f64
                / routed.len() as f64
        };
        (hits(1), hits(3))
    }
}
