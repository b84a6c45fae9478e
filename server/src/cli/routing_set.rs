//! A routing set on disk, as `route-eval` reads it: `PREFIX.json` (the
//! embedding model and dimension), `PREFIX_experts.jsonl` (one expert per
//! line), the keys and queries with the expert of each, and optionally the
//! brute-force top-3 baselines. The bundled set (`datasets/data/routing_*`)
//! is the default.

use std::path::{Path, PathBuf};

use waypoint_client::router::Expert;

use super::CliError;

/// A routing set as stored.
pub(crate) struct RoutingSet {
    /// The embedding model's name (the first word of `model` in `PREFIX.json`).
    pub model: String,
    /// Vector dimension, the same for keys and queries.
    pub dim: usize,
    /// Each expert with its keys, in file order.
    pub experts: Vec<(Expert, Vec<Vec<f32>>)>,
    pub queries: Vec<Vec<f32>>,
    /// The true expert of each query.
    pub truth: Vec<u64>,
    /// The expected top-3 per query (max over keys, mean of keys), when the
    /// baseline files are there.
    pub top3_max: Option<Vec<Vec<u64>>>,
    pub top3_mean: Option<Vec<Vec<u64>>>,
}

fn bad_file(path: &Path, reason: impl ToString) -> CliError {
    CliError::RoutingSet {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// One id per row (an n × k int32 file), as u64.
fn ids(path: &Path) -> Result<Vec<Vec<u64>>, CliError> {
    let m = waypoint_datasets::read::<i32>(path)?;
    m.iter()
        .enumerate()
        .map(|(row, ids)| {
            ids.iter()
                .map(|&v| {
                    u64::try_from(v)
                        .map_err(|_| bad_file(path, format!("row {row}: negative id {v}")))
                })
                .collect()
        })
        .collect()
}

/// The rows of a float file, checked to have dimension `dim`.
fn rows(path: &Path, dim: usize, reference: &Path) -> Result<Vec<Vec<f32>>, CliError> {
    let m = waypoint_datasets::read_f32(path)?;
    if m.dim() != dim {
        return Err(CliError::DimensionMismatch {
            path: path.to_path_buf(),
            got: m.dim(),
            reference: reference.to_path_buf(),
            expected: dim,
        });
    }
    Ok(m.iter().map(<[f32]>::to_vec).collect())
}

/// One id per row, `rows` rows.
fn one_column(path: &Path, rows: usize) -> Result<Vec<u64>, CliError> {
    let ids = ids(path)?;
    if ids.len() != rows || ids.iter().any(|r| r.len() != 1) {
        return Err(bad_file(
            path,
            format!("expected {rows} rows of one id, found {} rows", ids.len()),
        ));
    }
    Ok(ids.into_iter().map(|r| r[0]).collect())
}

/// `(model, dim)` from `PREFIX.json`.
fn describe(path: &Path) -> Result<(String, usize), CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| bad_file(path, e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad_file(path, e))?;
    let model = v["model"]
        .as_str()
        .and_then(|m| m.split_whitespace().next());
    let dim = v["dim"].as_u64().and_then(|d| usize::try_from(d).ok());
    match (model, dim) {
        (Some(model), Some(dim)) if dim > 0 => Ok((model.to_string(), dim)),
        _ => Err(bad_file(
            path,
            "expected a JSON object with \"model\" (the embedding model's name) and \"dim\" (a positive integer)",
        )),
    }
}

/// Reads the set `prefix` from `dir`.
pub(crate) fn load(dir: &Path, prefix: &str) -> Result<RoutingSet, CliError> {
    let file = |suffix: &str| -> PathBuf { dir.join(format!("{prefix}{suffix}")) };
    let (model, dim) = describe(&file(".json"))?;
    let reference = file(".json");
    let keys = rows(&file("_keys.fvecs"), dim, &reference)?;
    let key_expert = one_column(&file("_keys_expert.ivecs"), keys.len())?;
    let queries = rows(&file("_queries.fvecs"), dim, &reference)?;
    let truth = one_column(&file("_queries_expert.ivecs"), queries.len())?;
    let path = file("_experts.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| bad_file(&path, e))?;
    let mut experts = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let at = |reason: &str| bad_file(&path, format!("line {}: {reason}", line_no + 1));
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| at(&e.to_string()))?;
        let (Some(id), Some(task)) = (v["expert_id"].as_u64(), v["task"].as_str()) else {
            return Err(at("expected expert_id (an integer) and task (a string)"));
        };
        let mut expert = Expert::new(id, task);
        if let Some(uri) = v["adapter_uri"].as_str() {
            expert = expert.with_adapter_uri(uri);
        }
        if let Some(model) = v["base_model"].as_str() {
            expert = expert.with_base_model(model);
        }
        let own = keys
            .iter()
            .zip(&key_expert)
            .filter(|(_, e)| **e == id)
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>();
        if own.is_empty() {
            return Err(at(&format!(
                "expert {id} has no key in {prefix}_keys_expert.ivecs"
            )));
        }
        experts.push((expert, own));
    }
    let baseline = |name: &str| -> Result<Option<Vec<Vec<u64>>>, CliError> {
        let path = file(name);
        if !path.exists() {
            return Ok(None);
        }
        let top = ids(&path)?;
        if top.len() != queries.len() {
            return Err(bad_file(
                &path,
                format!(
                    "{} rows, but there are {} queries",
                    top.len(),
                    queries.len()
                ),
            ));
        }
        Ok(Some(top))
    };
    Ok(RoutingSet {
        model,
        dim,
        top3_max: baseline("_baseline_top3_max.ivecs")?,
        top3_mean: baseline("_baseline_top3_mean.ivecs")?,
        experts,
        queries,
        truth,
    })
}
