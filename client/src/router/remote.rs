//! The remote backend: the library lives in a `waypoint serve`, reached
//! through [`Client`].
//!
//! A library named `L` is three collections:
//! - `L-keys` (cosine): one point per key, id `expert · 1024 + j`, payload
//!   `expert_id` (integer) and the expert's record (below). Max over keys is
//!   a `SearchGroups` grouped by `expert_id` with one hit per group: the
//!   group's best key is the expert's score.
//! - `L-means` (cosine): one point per expert, id = expert id, vector = the
//!   mean of its unit keys (the server's cosine to it is the mean-of-keys
//!   score), same payload.
//! - `L-meta` (1-d): point 0 records the embedding model and dimension.
//!
//! Record payload: `expert_id` (integer), `name`, `adapter_uri`,
//! `base_model` (keywords), `tags` (keyword list), `meta.<key>` (keyword per
//! metadata entry). Filters become payload filters applied by the server
//! during the search. Scores are `1 − distance` as the server computes them
//! (f32). Writes are not transactional across the collections: an update
//! interrupted by a failure may leave an expert's old keys deleted.

use std::collections::BTreeMap;

use waypoint_proto::v1 as pb;

use super::embedded::key_point_id;
use super::error::{Result, RouterError};
use super::expert::{Expert, ExpertFilter, LibrarySpec};
use super::{score, Aggregation, GlobalScores, RouteOptions, RoutedExpert};
use crate::client::Client;

/// Points per upsert request, under the server's default max batch.
const UPSERT_BATCH: usize = 5_000;

/// An expert library stored in a server.
pub(crate) struct Remote {
    client: Client,
    name: String,
    spec: LibrarySpec,
}

fn keyword(s: &str) -> pb::Value {
    pb::Value {
        kind: Some(pb::value::Kind::Keyword(s.to_string())),
    }
}

fn integer(i: i64) -> pb::Value {
    pb::Value {
        kind: Some(pb::value::Kind::Integer(i)),
    }
}

fn match_condition(key: &str, value: pb::r#match::Value) -> pb::Condition {
    pb::Condition {
        condition: Some(pb::condition::Condition::Match(pb::Match {
            key: key.to_string(),
            value: Some(value),
        })),
    }
}

/// The payload filter of an expert filter (`None` when it keeps all).
fn payload_filter(filter: &ExpertFilter) -> Option<pb::Filter> {
    if filter.is_empty() {
        return None;
    }
    let mut must = Vec::new();
    if let Some(model) = &filter.base_model {
        must.push(match_condition(
            "base_model",
            pb::r#match::Value::Keyword(model.clone()),
        ));
    }
    for tag in &filter.tags {
        must.push(match_condition(
            "tags",
            pb::r#match::Value::Keyword(tag.clone()),
        ));
    }
    Some(pb::Filter {
        must,
        ..Default::default()
    })
}

fn expert_id_filter(id: u64) -> pb::Filter {
    pb::Filter {
        must: vec![match_condition(
            "expert_id",
            pb::r#match::Value::Integer(id as i64),
        )],
        ..Default::default()
    }
}

/// The payload recording `expert`.
fn expert_payload(expert: &Expert) -> pb::Payload {
    let mut fields = std::collections::HashMap::new();
    fields.insert("expert_id".to_string(), integer(expert.id as i64));
    fields.insert("name".to_string(), keyword(&expert.name));
    fields.insert("adapter_uri".to_string(), keyword(&expert.adapter_uri));
    fields.insert("base_model".to_string(), keyword(&expert.base_model));
    fields.insert(
        "tags".to_string(),
        pb::Value {
            kind: Some(pb::value::Kind::Keywords(pb::Keywords {
                values: expert.tags.clone(),
            })),
        },
    );
    for (key, value) in &expert.metadata {
        fields.insert(format!("meta.{key}"), keyword(value));
    }
    pb::Payload { fields }
}

impl Remote {
    fn inconsistent(&self, reason: impl Into<String>) -> RouterError {
        RouterError::Inconsistent {
            library: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn collection(&self, part: &str) -> String {
        format!("{}-{part}", self.name)
    }

    /// Creates the library's collections on the server.
    pub(crate) async fn create(client: Client, name: &str, spec: LibrarySpec) -> Result<Self> {
        check_name(name)?;
        let remote = Remote {
            client,
            name: name.to_string(),
            spec,
        };
        let dim = u32::try_from(remote.spec.dim).unwrap_or(u32::MAX);
        for (part, dim, metric) in [
            ("meta", 1, pb::Metric::L2),
            ("keys", dim, pb::Metric::Cosine),
            ("means", dim, pb::Metric::Cosine),
        ] {
            remote
                .client
                .create_collection(pb::CreateCollectionRequest {
                    name: remote.collection(part),
                    dim,
                    metric: metric as i32,
                    ..Default::default()
                })
                .await?;
        }
        let mut fields = std::collections::HashMap::new();
        fields.insert("model".to_string(), keyword(&remote.spec.model));
        fields.insert("dim".to_string(), integer(remote.spec.dim as i64));
        remote
            .client
            .upsert(pb::UpsertRequest {
                collection: remote.collection("meta"),
                points: vec![pb::Point {
                    id: 0,
                    vector: vec![0.0],
                    payload: Some(pb::Payload { fields }),
                }],
            })
            .await?;
        Ok(remote)
    }

    /// Opens a library created earlier on the server.
    pub(crate) async fn open(client: Client, name: &str) -> Result<Self> {
        check_name(name)?;
        let mut remote = Remote {
            client,
            name: name.to_string(),
            spec: LibrarySpec::new("", 0),
        };
        let answer = remote
            .client
            .get_points(pb::GetPointsRequest {
                collection: remote.collection("meta"),
                ids: vec![0],
                with_vectors: false,
                with_payload: true,
            })
            .await?;
        let fields = answer
            .points
            .into_iter()
            .next()
            .and_then(|p| p.payload)
            .map(|p| p.fields)
            .ok_or_else(|| remote.inconsistent("no library record in the meta collection"))?;
        match (
            fields.get("model").and_then(|v| v.kind.clone()),
            fields.get("dim").and_then(|v| v.kind.clone()),
        ) {
            (Some(pb::value::Kind::Keyword(model)), Some(pb::value::Kind::Integer(dim)))
                if dim > 0 =>
            {
                remote.spec = LibrarySpec::new(model, dim as usize);
                Ok(remote)
            }
            _ => Err(remote.inconsistent("the library record lacks model or dim")),
        }
    }

    pub(crate) fn spec(&self) -> &LibrarySpec {
        &self.spec
    }

    pub(crate) async fn len(&self) -> Result<usize> {
        self.count(None).await
    }

    async fn count(&self, filter: Option<pb::Filter>) -> Result<usize> {
        let answer = self
            .client
            .count(pb::CountRequest {
                collection: self.collection("means"),
                filter,
            })
            .await?;
        Ok(answer.count as usize)
    }

    /// Which of `ids` are registered.
    async fn present(&self, ids: &[u64]) -> Result<Vec<u64>> {
        let mut present = Vec::new();
        for chunk in ids.chunks(UPSERT_BATCH) {
            let answer = self
                .client
                .get_points(pb::GetPointsRequest {
                    collection: self.collection("means"),
                    ids: chunk.to_vec(),
                    with_vectors: false,
                    with_payload: false,
                })
                .await?;
            present.extend(answer.points.iter().map(|p| p.id));
        }
        Ok(present)
    }

    /// Registers checked experts (unit keys). Refuses the whole call when an
    /// id is already registered or given twice.
    pub(crate) async fn add_many(&mut self, experts: Vec<(Expert, Vec<f32>)>) -> Result<()> {
        let mut ids: Vec<u64> = experts.iter().map(|(e, _)| e.id).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(RouterError::DuplicateExpert(w[0]));
        }
        if let Some(&id) = self.present(&ids).await?.first() {
            return Err(RouterError::DuplicateExpert(id));
        }
        self.write(&experts).await
    }

    /// Upserts the key and mean points of checked experts.
    async fn write(&self, experts: &[(Expert, Vec<f32>)]) -> Result<()> {
        let dim = self.spec.dim;
        let mut keys = Vec::new();
        let mut means = Vec::new();
        for (expert, unit) in experts {
            let payload = expert_payload(expert);
            for (j, key) in unit.chunks_exact(dim).enumerate() {
                keys.push(pb::Point {
                    id: key_point_id(expert.id, j),
                    vector: key.to_vec(),
                    payload: Some(payload.clone()),
                });
            }
            let (mean, norm) = score::mean_of_keys(unit, dim);
            if norm == 0.0 {
                return Err(RouterError::ZeroVector);
            }
            means.push(pb::Point {
                id: expert.id,
                vector: mean.iter().map(|&m| m as f32).collect(),
                payload: Some(payload),
            });
        }
        for (part, points) in [("keys", keys), ("means", means)] {
            let mut points = points.into_iter().peekable();
            while points.peek().is_some() {
                let batch: Vec<pb::Point> = points.by_ref().take(UPSERT_BATCH).collect();
                self.client
                    .upsert(pb::UpsertRequest {
                        collection: self.collection(part),
                        points: batch,
                    })
                    .await?;
            }
        }
        Ok(())
    }

    async fn delete(&self, id: u64) -> Result<()> {
        if self.present(&[id]).await?.is_empty() {
            return Err(RouterError::UnknownExpert(id));
        }
        for part in ["keys", "means"] {
            self.client
                .delete_points(pb::DeletePointsRequest {
                    collection: self.collection(part),
                    selector: Some(pb::delete_points_request::Selector::Filter(
                        expert_id_filter(id),
                    )),
                })
                .await?;
        }
        Ok(())
    }

    /// Replaces an expert's record and keys.
    pub(crate) async fn update(&mut self, expert: Expert, keys: Vec<f32>) -> Result<()> {
        self.delete(expert.id).await?;
        self.write(&[(expert, keys)]).await
    }

    /// Removes an expert.
    pub(crate) async fn remove(&mut self, id: u64) -> Result<()> {
        self.delete(id).await
    }

    /// The top experts as the server ranks them (weights unset).
    pub(crate) async fn route(
        &self,
        query: &[f64],
        options: &RouteOptions,
    ) -> Result<Vec<RoutedExpert>> {
        let vector: Vec<f32> = query.iter().map(|&q| q as f32).collect();
        let k = u32::try_from(options.top_k).unwrap_or(u32::MAX);
        let ef = options
            .ef
            .map_or(0, |ef| u32::try_from(ef).unwrap_or(u32::MAX));
        let filter = payload_filter(&options.filter);
        let hits: Vec<pb::ScoredPoint> = match options.aggregation {
            Aggregation::MaxOverKeys => self
                .client
                .search_groups(pb::SearchGroupsRequest {
                    collection: self.collection("keys"),
                    vector,
                    group_by: "expert_id".into(),
                    k,
                    group_size: 1,
                    ef,
                    exact: options.exact.unwrap_or(false),
                    filter,
                    with_payload: true,
                    with_vectors: false,
                })
                .await?
                .groups
                .into_iter()
                .filter_map(|g| g.hits.into_iter().next())
                .collect(),
            Aggregation::MeanOfKeys => {
                self.client
                    .search(pb::SearchRequest {
                        collection: self.collection("means"),
                        vector,
                        k,
                        ef,
                        exact: options.exact.unwrap_or(false),
                        filter,
                        with_payload: true,
                        ..Default::default()
                    })
                    .await?
                    .hits
            }
        };
        hits.into_iter()
            .map(|hit| {
                Ok(RoutedExpert {
                    expert: self.expert_from_payload(hit.payload)?,
                    score: 1.0 - f64::from(hit.distance),
                    weight: 0.0,
                })
            })
            .collect()
    }

    /// Scores of every matching expert (exact search), in expert-id order.
    pub(crate) async fn global_scores(
        &self,
        query: &[f64],
        aggregation: Aggregation,
        filter: &ExpertFilter,
    ) -> Result<GlobalScores> {
        let filter = payload_filter(filter);
        let n = self.count(filter.clone()).await?;
        if n == 0 {
            return Ok(GlobalScores::default());
        }
        let vector: Vec<f32> = query.iter().map(|&q| q as f32).collect();
        let k = u32::try_from(n).unwrap_or(u32::MAX);
        let mut scores: Vec<(u64, f64)> = match aggregation {
            Aggregation::MaxOverKeys => {
                let groups = self
                    .client
                    .search_groups(pb::SearchGroupsRequest {
                        collection: self.collection("keys"),
                        vector,
                        group_by: "expert_id".into(),
                        k,
                        group_size: 1,
                        exact: true,
                        filter,
                        ..Default::default()
                    })
                    .await?
                    .groups;
                let mut scores = Vec::with_capacity(groups.len());
                for group in groups {
                    let id = match group.key.and_then(|k| k.kind) {
                        Some(pb::value::Kind::Integer(id)) => id as u64,
                        _ => return Err(self.inconsistent("a group key is not an integer")),
                    };
                    let hit = group
                        .hits
                        .first()
                        .ok_or_else(|| self.inconsistent("an empty group"))?;
                    scores.push((id, 1.0 - f64::from(hit.distance)));
                }
                scores
            }
            Aggregation::MeanOfKeys => self
                .client
                .search(pb::SearchRequest {
                    collection: self.collection("means"),
                    vector,
                    k,
                    exact: true,
                    filter,
                    ..Default::default()
                })
                .await?
                .hits
                .into_iter()
                .map(|hit| (hit.id, 1.0 - f64::from(hit.distance)))
                .collect(),
        };
        scores.sort_unstable_by_key(|s| s.0);
        Ok(GlobalScores {
            expert_ids: scores.iter().map(|s| s.0).collect(),
            scores: scores.iter().map(|s| s.1).collect(),
        })
    }

    fn expert_from_payload(&self, payload: Option<pb::Payload>) -> Result<Expert> {
        let fields = payload.map(|p| p.fields).unwrap_or_default();
        let text = |key: &str| match fields.get(key).and_then(|v| v.kind.as_ref()) {
            Some(pb::value::Kind::Keyword(s)) => Ok(s.clone()),
            _ => Err(self.inconsistent(format!("a point lacks keyword {key:?}"))),
        };
        let id = match fields.get("expert_id").and_then(|v| v.kind.as_ref()) {
            Some(pb::value::Kind::Integer(id)) => *id as u64,
            _ => return Err(self.inconsistent("a point lacks integer \"expert_id\"")),
        };
        let tags = match fields.get("tags").and_then(|v| v.kind.as_ref()) {
            Some(pb::value::Kind::Keywords(list)) => list.values.clone(),
            _ => Vec::new(),
        };
        let mut metadata = BTreeMap::new();
        for (key, value) in &fields {
            if let (Some(key), Some(pb::value::Kind::Keyword(value))) =
                (key.strip_prefix("meta."), value.kind.as_ref())
            {
                metadata.insert(key.to_string(), value.clone());
            }
        }
        Ok(Expert {
            id,
            name: text("name")?,
            adapter_uri: text("adapter_uri")?,
            base_model: text("base_model")?,
            tags,
            metadata,
        })
    }
}

/// A library name leaves room for the `-means` suffix in a collection name.
fn check_name(name: &str) -> Result<()> {
    let ok = (1..=58).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(RouterError::InvalidName(name.to_string()))
    }
}
