//! The embedded backend: the engine in process, the library saved as files
//! in one directory.
//!
//! Two cosine HNSW indexes: `keys` holds every key (point id
//! `expert · 1024 + j`, see [`key_point_id`]) for max over keys; `means`
//! holds each expert's normalised key mean (point id = expert id) for mean
//! of keys — the engine's `1 − cos(q, c/|c|)` is `1 − cos(q, c)`, so the
//! graph ranks by the mean-of-keys score. The graphs only propose
//! candidates: every returned score is recomputed exactly in f64 from the
//! unit keys held in memory ([`super::score`]).
//!
//! Files (written by [`Embedded::save`], each atomically by rename):
//! `library.json` (spec and expert records), `keys.wpi`, `means.wpi`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use waypoint_index::{Filter, Hnsw, HnswParams, HnswView, Metric, SearchParams};

use super::error::{Result, RouterError};
use super::expert::{Expert, ExpertFilter, LibrarySpec, MAX_KEYS_PER_EXPERT};
use super::{score, Aggregation, GlobalScores, RouteOptions, RoutedExpert};

const LIBRARY_FILE: &str = "library.json";
const KEYS_FILE: &str = "keys.wpi";
const MEANS_FILE: &str = "means.wpi";

/// Least HNSW `ef` of a route that gives none.
const DEFAULT_EF: usize = 64;

/// Keys up to which a max-over-keys route without `exact` set scores
/// exactly: up to here brute force was as fast as the HNSW graph or faster
/// (and it is exact). Measured with `waypoint route-eval --synthetic N`
/// (N experts × 4 random 384-d keys, 200 queries, top_k 3, one thread,
/// 2-core x86-64): see ARCHITECTURE.md for the numbers.
pub const EXACT_MAX_KEYS: usize = 800;

/// Experts up to which a mean-of-keys route without `exact` set scores
/// exactly (one mean per expert; measured as [`EXACT_MAX_KEYS`]).
pub const EXACT_MAX_EXPERTS: usize = 300;

/// The point id of key `j` of expert `expert`.
pub(crate) fn key_point_id(expert: u64, j: usize) -> u64 {
    expert * MAX_KEYS_PER_EXPERT as u64 + j as u64
}

/// The expert of a key point id.
fn expert_of_key(point: u64) -> u64 {
    point / MAX_KEYS_PER_EXPERT as u64
}

/// One registered expert with its unit keys and their mean.
struct Entry {
    expert: Expert,
    /// Row-major unit keys, `n · dim` floats.
    keys: Vec<f32>,
    mean: Vec<f64>,
    mean_norm: f64,
}

impl Entry {
    fn new(expert: Expert, keys: Vec<f32>, dim: usize) -> Result<Self> {
        let (mean, mean_norm) = score::mean_of_keys(&keys, dim);
        if mean_norm == 0.0 || !mean_norm.is_finite() {
            return Err(RouterError::ZeroVector);
        }
        Ok(Entry {
            expert,
            keys,
            mean,
            mean_norm,
        })
    }

    fn score(&self, query: &[f64], aggregation: Aggregation) -> f64 {
        match aggregation {
            Aggregation::MaxOverKeys => score::max_over_keys(query, &self.keys),
            Aggregation::MeanOfKeys => score::mean_score(query, &self.mean, self.mean_norm),
        }
    }
}

/// `library.json`.
#[derive(Serialize, Deserialize)]
struct LibraryFile {
    spec: LibrarySpec,
    /// Each expert and its number of keys (the keys are in `keys.wpi`).
    experts: Vec<(Expert, usize)>,
}

/// An expert library held in process.
pub(crate) struct Embedded {
    spec: LibrarySpec,
    dir: Option<PathBuf>,
    experts: BTreeMap<u64, Entry>,
    keys: Hnsw,
    means: Hnsw,
}

fn storage(path: &Path, reason: impl ToString) -> RouterError {
    RouterError::Storage {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl Embedded {
    /// An empty library, saved under `dir` (if any) by [`Embedded::save`].
    pub(crate) fn new(spec: LibrarySpec, dir: Option<PathBuf>) -> Result<Self> {
        let params = HnswParams::default();
        Ok(Embedded {
            keys: Hnsw::new(spec.dim, Metric::Cosine, params)?,
            means: Hnsw::new(spec.dim, Metric::Cosine, params)?,
            spec,
            dir,
            experts: BTreeMap::new(),
        })
    }

    /// Opens a library saved in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(LIBRARY_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| storage(&path, e))?;
        let file: LibraryFile = serde_json::from_str(&text).map_err(|e| storage(&path, e))?;
        let keys = HnswView::open(dir.join(KEYS_FILE))?.to_index()?;
        let means = HnswView::open(dir.join(MEANS_FILE))?.to_index()?;
        let dim = file.spec.dim;
        let mut experts = BTreeMap::new();
        for (expert, n) in file.experts {
            let mut unit = Vec::with_capacity(n * dim);
            for j in 0..n {
                let key = keys.get_vector(key_point_id(expert.id, j)).ok_or_else(|| {
                    storage(&path, format!("key {j} of expert {} is missing", expert.id))
                })?;
                unit.extend(key);
            }
            experts.insert(expert.id, Entry::new(expert, unit, dim)?);
        }
        Ok(Embedded {
            spec: file.spec,
            dir: Some(dir.to_path_buf()),
            experts,
            keys,
            means,
        })
    }

    pub(crate) fn spec(&self) -> &LibrarySpec {
        &self.spec
    }

    pub(crate) fn len(&self) -> usize {
        self.experts.len()
    }

    /// Registers checked experts (unit keys); all or nothing.
    pub(crate) fn add_many(&mut self, experts: Vec<(Expert, Vec<f32>)>) -> Result<()> {
        let mut entries = Vec::with_capacity(experts.len());
        let mut seen = std::collections::HashSet::new();
        for (expert, keys) in experts {
            if self.experts.contains_key(&expert.id) || !seen.insert(expert.id) {
                return Err(RouterError::DuplicateExpert(expert.id));
            }
            entries.push(Entry::new(expert, keys, self.spec.dim)?);
        }
        for entry in entries {
            self.insert(entry)?;
        }
        Ok(())
    }

    fn insert(&mut self, entry: Entry) -> Result<()> {
        let id = entry.expert.id;
        let dim = self.spec.dim;
        let ids: Vec<u64> = (0..entry.keys.len() / dim)
            .map(|j| key_point_id(id, j))
            .collect();
        self.keys.insert_many(&ids, &entry.keys)?;
        let mean: Vec<f32> = entry.mean.iter().map(|&m| m as f32).collect();
        self.means.insert(id, &mean)?;
        self.experts.insert(id, entry);
        Ok(())
    }

    fn delete(&mut self, id: u64) -> Result<()> {
        let entry = self
            .experts
            .remove(&id)
            .ok_or(RouterError::UnknownExpert(id))?;
        for j in 0..entry.keys.len() / self.spec.dim {
            self.keys.delete(key_point_id(id, j))?;
        }
        self.means.delete(id)?;
        Ok(())
    }

    /// Replaces an expert's record and keys.
    pub(crate) fn update(&mut self, expert: Expert, keys: Vec<f32>) -> Result<()> {
        if !self.experts.contains_key(&expert.id) {
            return Err(RouterError::UnknownExpert(expert.id));
        }
        let entry = Entry::new(expert, keys, self.spec.dim)?;
        self.delete(entry.expert.id)?;
        self.insert(entry)
    }

    /// Removes an expert.
    pub(crate) fn remove(&mut self, id: u64) -> Result<()> {
        self.delete(id)
    }

    /// Candidates with exact scores (weights unset), in no particular order.
    pub(crate) fn route(&self, query: &[f64], options: &RouteOptions) -> Result<Vec<RoutedExpert>> {
        let filter = &options.filter;
        let routed = |entry: &Entry| RoutedExpert {
            expert: entry.expert.clone(),
            score: entry.score(query, options.aggregation),
            weight: 0.0,
        };
        let small = match options.aggregation {
            Aggregation::MaxOverKeys => self.keys.len() <= EXACT_MAX_KEYS,
            Aggregation::MeanOfKeys => self.experts.len() <= EXACT_MAX_EXPERTS,
        };
        if options.exact.unwrap_or(small) {
            // Score everything, clone only the top_k records.
            let mut scored: Vec<(f64, &Entry)> = self
                .experts
                .values()
                .filter(|e| filter.matches(&e.expert))
                .map(|e| (e.score(query, options.aggregation), e))
                .collect();
            score::rank(&mut scored, |s| (s.0, s.1.expert.id));
            scored.truncate(options.top_k);
            return Ok(scored
                .into_iter()
                .map(|(score, entry)| RoutedExpert {
                    expert: entry.expert.clone(),
                    score,
                    weight: 0.0,
                })
                .collect());
        }
        let candidates = self.candidates(query, options)?;
        Ok(candidates
            .into_iter()
            .filter_map(|id| self.experts.get(&id))
            .map(routed)
            .collect())
    }

    /// Expert ids proposed by the HNSW graph for `query`.
    fn candidates(&self, query: &[f64], options: &RouteOptions) -> Result<Vec<u64>> {
        let query32: Vec<f32> = query.iter().map(|&q| q as f32).collect();
        let filter = &options.filter;
        let keys_per_expert = match options.aggregation {
            Aggregation::MaxOverKeys => self.keys.len().div_ceil(self.experts.len().max(1)),
            Aggregation::MeanOfKeys => 1,
        };
        let ef = options.ef.unwrap_or_else(|| {
            DEFAULT_EF.max(
                options
                    .top_k
                    .saturating_mul(keys_per_expert)
                    .saturating_mul(4),
            )
        });
        let matches = |expert: u64| {
            self.experts
                .get(&expert)
                .is_some_and(|e| filter.matches(&e.expert))
        };
        match options.aggregation {
            Aggregation::MeanOfKeys => {
                if self.means.is_empty() {
                    return Ok(Vec::new());
                }
                let predicate = |id: u64| matches(id);
                let k = options.top_k.saturating_mul(2);
                let params = search_params(ef.max(k), filter, &predicate);
                Ok(self
                    .means
                    .search(&query32, k, &params)?
                    .into_iter()
                    .map(|n| n.id)
                    .collect())
            }
            Aggregation::MaxOverKeys => {
                let total = self.keys.len();
                if total == 0 {
                    return Ok(Vec::new());
                }
                let predicate = |point: u64| matches(expert_of_key(point));
                // Several keys of one expert may fill the k nearest: widen
                // the search until top_k distinct experts are found.
                let mut k = options.top_k.saturating_mul(4).max(16).min(total);
                loop {
                    let params = search_params(ef.max(k), filter, &predicate);
                    let hits = self.keys.search(&query32, k, &params)?;
                    let mut experts: Vec<u64> = Vec::new();
                    for hit in &hits {
                        let expert = expert_of_key(hit.id);
                        if !experts.contains(&expert) {
                            experts.push(expert);
                        }
                    }
                    if experts.len() >= options.top_k || hits.len() < k || k == total {
                        return Ok(experts);
                    }
                    k = k.saturating_mul(2).min(total);
                }
            }
        }
    }

    /// Exact scores of every matching expert, in expert-id order.
    pub(crate) fn global_scores(
        &self,
        query: &[f64],
        aggregation: Aggregation,
        filter: &ExpertFilter,
    ) -> GlobalScores {
        let mut out = GlobalScores::default();
        for (&id, entry) in &self.experts {
            if filter.matches(&entry.expert) {
                out.expert_ids.push(id);
                out.scores.push(entry.score(query, aggregation));
            }
        }
        out
    }

    /// Writes the library's files to its directory (a no-op for a library
    /// made without one).
    pub(crate) fn save(&self) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        self.keys.save(dir.join(KEYS_FILE))?;
        self.means.save(dir.join(MEANS_FILE))?;
        let file = LibraryFile {
            spec: self.spec.clone(),
            experts: self
                .experts
                .values()
                .map(|e| (e.expert.clone(), e.keys.len() / self.spec.dim))
                .collect(),
        };
        let path = dir.join(LIBRARY_FILE);
        let tmp = dir.join(format!("{LIBRARY_FILE}.tmp"));
        let text = serde_json::to_string(&file).map_err(|e| storage(&path, e))?;
        std::fs::write(&tmp, text).map_err(|e| storage(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| storage(&path, e))
    }
}

/// Search parameters with the filter's predicate when it restricts anything.
fn search_params<'a>(
    ef: usize,
    filter: &ExpertFilter,
    predicate: &'a (dyn Fn(u64) -> bool + Sync),
) -> SearchParams<'a> {
    let params = SearchParams::default().with_ef(ef);
    if filter.is_empty() {
        params
    } else {
        params.with_filter(Filter::Predicate(predicate))
    }
}

/// Whether `dir` already holds a library.
pub(crate) fn exists(dir: &Path) -> bool {
    dir.join(LIBRARY_FILE).exists()
}
