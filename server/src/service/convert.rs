//! Messages of `waypoint.v1` to and from storage types. Every incoming field
//! is checked here; errors name the field (and point) at fault.

use waypoint_index::Metric;
use waypoint_proto::v1 as pb;

use crate::config::Limits;
use crate::storage::cancel::Cancel;
use crate::storage::collection::{Config, Health, Query, Record, Stats, WalSync};
use crate::storage::filter::{Condition, Filter};
use crate::storage::payload::{Payload, Term, Value};
use crate::storage::wal::PointWrite;
use crate::storage::StorageError;

fn invalid(message: impl Into<String>) -> StorageError {
    StorageError::InvalidArgument(message.into())
}

/// Refuses `n` items above `max` (`what` names them).
pub fn check_batch(n: usize, max: usize, what: &str) -> Result<(), StorageError> {
    if n > max {
        return Err(StorageError::LimitExceeded(format!(
            "{n} {what} in one request; the limit is {max}"
        )));
    }
    Ok(())
}

/// `CreateCollectionRequest` → [`Config`], defaults filled in.
pub fn create_config(
    r: pb::CreateCollectionRequest,
    limits: &Limits,
) -> Result<Config, StorageError> {
    let dim = r.dim as usize;
    if dim == 0 || dim > limits.max_dim {
        return Err(invalid(format!(
            "dim must be 1..={} (the server's max dim), got {dim}",
            limits.max_dim
        )));
    }
    let metric = match pb::Metric::try_from(r.metric) {
        Ok(pb::Metric::L2) => Metric::L2Squared,
        Ok(pb::Metric::Cosine) => Metric::Cosine,
        Ok(pb::Metric::Ip) => Metric::InnerProduct,
        _ => {
            return Err(invalid(format!(
                "metric must be METRIC_L2, METRIC_COSINE or METRIC_IP, got {}",
                r.metric
            )))
        }
    };
    let wal_sync = match pb::WalSync::try_from(r.wal_sync) {
        Ok(pb::WalSync::Unspecified | pb::WalSync::Always) => WalSync::Always,
        Ok(pb::WalSync::Never) => WalSync::Never,
        Ok(pb::WalSync::Periodic) => WalSync::Periodic,
        Err(_) => return Err(invalid(format!("unknown wal_sync {}", r.wal_sync))),
    };
    let or = |v: u64, default: u64| if v == 0 { default } else { v };
    Ok(Config {
        name: r.name,
        dim,
        metric,
        m: or(u64::from(r.m), 16) as usize,
        ef_construction: or(u64::from(r.ef_construction), 200) as usize,
        segment_max_points: or(r.segment_max_points, 100_000),
        wal_sync,
        wal_sync_interval_ms: or(u64::from(r.wal_sync_interval_ms), 100) as u32,
    })
}

/// [`Config`] and [`Stats`] → `CollectionInfo`.
pub fn collection_info(config: &Config, stats: Stats, health: Health) -> pb::CollectionInfo {
    let (state, state_reason) = match health {
        Health::ReadWrite => (pb::CollectionState::ReadWrite, String::new()),
        Health::ReadOnly { reason } => (pb::CollectionState::ReadOnly, reason),
        Health::Damaged { reason } => (pb::CollectionState::Damaged, reason),
    };
    pb::CollectionInfo {
        state: state as i32,
        state_reason,
        config: Some(pb::CollectionConfig {
            name: config.name.clone(),
            dim: config.dim as u32,
            metric: match config.metric {
                Metric::L2Squared => pb::Metric::L2,
                Metric::Cosine => pb::Metric::Cosine,
                Metric::InnerProduct => pb::Metric::Ip,
            } as i32,
            m: config.m as u32,
            ef_construction: config.ef_construction as u32,
            segment_max_points: config.segment_max_points,
            wal_sync: match config.wal_sync {
                WalSync::Always => pb::WalSync::Always,
                WalSync::Never => pb::WalSync::Never,
                WalSync::Periodic => pb::WalSync::Periodic,
            } as i32,
            wal_sync_interval_ms: config.wal_sync_interval_ms,
        }),
        stats: Some(pb::CollectionStats {
            points: stats.points,
            deleted: stats.deleted,
            segments: stats.segments,
            bytes: stats.bytes,
        }),
    }
}

/// `Point`s → [`PointWrite`]s.
pub fn points(points: Vec<pb::Point>) -> Result<Vec<PointWrite>, StorageError> {
    points
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let payload = p
                .payload
                .map(payload_in)
                .transpose()
                .map_err(|e| invalid(format!("point {i} (id {}): {e}", p.id)))?
                .unwrap_or_default();
            Ok(PointWrite {
                id: p.id,
                vector: p.vector,
                payload,
            })
        })
        .collect()
}

fn payload_in(p: pb::Payload) -> Result<Payload, StorageError> {
    p.fields
        .into_iter()
        .map(|(key, v)| {
            let value = match v.kind {
                Some(pb::value::Kind::Keyword(s)) => Value::Keyword(s),
                Some(pb::value::Kind::Integer(i)) => Value::Integer(i),
                Some(pb::value::Kind::Float(f)) => Value::Float(f),
                Some(pb::value::Kind::Boolean(b)) => Value::Bool(b),
                Some(pb::value::Kind::Keywords(k)) => Value::Keywords(k.values),
                None => return Err(invalid(format!("payload value of {key:?} has no kind set"))),
            };
            Ok((key, value))
        })
        .collect()
}

/// A storage [`Value`] → `Value`.
pub fn value_out(v: Value) -> pb::Value {
    let kind = match v {
        Value::Keyword(s) => pb::value::Kind::Keyword(s),
        Value::Integer(i) => pb::value::Kind::Integer(i),
        Value::Float(f) => pb::value::Kind::Float(f),
        Value::Bool(b) => pb::value::Kind::Boolean(b),
        Value::Keywords(list) => pb::value::Kind::Keywords(pb::Keywords { values: list }),
    };
    pb::Value { kind: Some(kind) }
}

fn payload_out(p: Payload) -> pb::Payload {
    pb::Payload {
        fields: p.into_iter().map(|(k, v)| (k, value_out(v))).collect(),
    }
}

/// `Filter` → [`Filter`]. Conditions, and the ids or terms of each, are
/// at most `limits.max_batch`: evaluating a filter costs time and memory
/// per id and per condition.
pub fn filter(f: pb::Filter, limits: &Limits) -> Result<Filter, StorageError> {
    let conditions = f.must.len() + f.should.len() + f.must_not.len();
    check_batch(conditions, limits.max_batch, "filter conditions")?;
    let list = |conds: Vec<pb::Condition>, which: &str| -> Result<Vec<Condition>, StorageError> {
        conds
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let at = |e: StorageError| match e {
                    StorageError::LimitExceeded(m) => {
                        StorageError::LimitExceeded(format!("filter {which}[{i}]: {m}"))
                    }
                    e => invalid(format!("filter {which}[{i}]: {e}")),
                };
                condition(c, limits).map_err(at)
            })
            .collect()
    };
    Ok(Filter {
        must: list(f.must, "must")?,
        should: list(f.should, "should")?,
        must_not: list(f.must_not, "must_not")?,
    })
}

fn condition(c: pb::Condition, limits: &Limits) -> Result<Condition, StorageError> {
    match c.condition {
        Some(pb::condition::Condition::HasId(h)) => {
            check_batch(h.ids.len(), limits.max_batch, "has_id ids")?;
            Ok(Condition::HasId(h.ids))
        }
        Some(pb::condition::Condition::Match(m)) => {
            if m.key.is_empty() {
                return Err(invalid("match key is empty"));
            }
            use pb::r#match::Value as V;
            let terms = match m.value {
                Some(V::Keyword(s)) => vec![Term::Keyword(s)],
                Some(V::Integer(i)) => vec![Term::Integer(i)],
                Some(V::Boolean(b)) => vec![Term::Bool(b)],
                Some(V::AnyKeyword(k)) => {
                    check_batch(k.values.len(), limits.max_batch, "match terms")?;
                    k.values.into_iter().map(Term::Keyword).collect()
                }
                Some(V::AnyInteger(k)) => {
                    check_batch(k.values.len(), limits.max_batch, "match terms")?;
                    k.values.into_iter().map(Term::Integer).collect()
                }
                None => return Err(invalid(format!("match on {:?} has no value set", m.key))),
            };
            Ok(Condition::Match { key: m.key, terms })
        }
        None => Err(invalid("condition has neither match nor has_id set")),
    }
}

/// A search's fields → [`Query`], checking `k` against the limit.
#[allow(clippy::too_many_arguments)] // the fields of two messages
pub fn query(
    vector: Vec<f32>,
    k: u32,
    ef: u32,
    exact: bool,
    f: Option<pb::Filter>,
    with_payload: bool,
    with_vectors: bool,
    limits: &Limits,
) -> Result<Query, StorageError> {
    let k = k as usize;
    if k == 0 {
        return Err(invalid("k must be at least 1"));
    }
    if k > limits.max_k {
        return Err(invalid(format!(
            "k = {k} is above the server's max k of {}",
            limits.max_k
        )));
    }
    Ok(Query {
        vector,
        k,
        ef: (ef > 0).then_some(ef as usize),
        exact,
        filter: f.map(|f| filter(f, limits)).transpose()?,
        with_payload,
        with_vectors,
        cancel: Cancel::default(),
    })
}

/// A `SearchRequest` → [`Query`].
pub fn search_query(r: pb::SearchRequest, limits: &Limits) -> Result<Query, StorageError> {
    query(
        r.vector,
        r.k,
        r.ef,
        r.exact,
        r.filter,
        r.with_payload,
        r.with_vectors,
        limits,
    )
}

/// A [`Record`] → `ScoredPoint`.
pub fn scored(r: Record) -> pb::ScoredPoint {
    pb::ScoredPoint {
        id: r.id,
        distance: r.distance,
        payload: r.payload.map(payload_out),
        vector: r.vector.map(|values| pb::Vector { values }),
    }
}

/// A [`Record`] → `PointRecord`.
pub fn point_record(r: Record) -> pb::PointRecord {
    pb::PointRecord {
        id: r.id,
        vector: r.vector.map(|values| pb::Vector { values }),
        payload: r.payload.map(payload_out),
    }
}
