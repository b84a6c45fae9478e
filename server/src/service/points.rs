//! `waypoint.v1.Points`: upsert (unary and streaming), delete, get, count,
//! search, batch search and grouped search.

use std::collections::HashSet;
use std::sync::Arc;

use prost::Message;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};
use waypoint_proto::v1 as pb;
use waypoint_proto::v1::points_server::Points;

use super::convert::{self, check_batch};
use super::status::{deadline, reply, ResponseSize, Work};
use crate::config::Limits;
use crate::storage::catalog::Catalog;
use crate::storage::collection::{Collection, Query, Record};
use crate::storage::StorageError;

/// Records read per step of a `Get`.
const GET_CHUNK: usize = 16;
/// Queries searched per step of a `SearchBatch`.
const BATCH_CHUNK: usize = 64;

/// Encoded bytes of one hit of `query` at least (id, distance and, when
/// asked for, a vector of `dim`; payloads are counted as they come).
fn hit_bytes(query: &Query, dim: usize) -> usize {
    let vector = if query.with_vectors { 4 * dim + 4 } else { 0 };
    8 + vector
}

/// `hits` as `ScoredPoint`s, their payloads and vectors (when `query`
/// asks) read a few at a time and counted in `size`, so an answer too
/// large is refused holding little more than `max_message_bytes`. A hit
/// deleted between the search and this read is left out.
fn hydrate(
    c: &Collection,
    query: &Query,
    hits: Vec<Record>,
    size: &mut ResponseSize<'_>,
) -> Result<Vec<pb::ScoredPoint>, StorageError> {
    let mut out = Vec::with_capacity(hits.len());
    if !query.with_payload && !query.with_vectors {
        for hit in hits {
            let point = convert::scored(hit);
            size.add(point.encoded_len())?;
            out.push(point);
        }
        return Ok(out);
    }
    for chunk in hits.chunks(GET_CHUNK) {
        query.cancel.check()?;
        let ids: Vec<u64> = chunk.iter().map(|h| h.id).collect();
        let mut records = c
            .get(&ids, query.with_vectors, query.with_payload)?
            .into_iter()
            .peekable();
        for hit in chunk {
            let Some(record) = records.next_if(|r| r.id == hit.id) else {
                continue;
            };
            let point = convert::scored(Record {
                distance: hit.distance,
                ..record
            });
            size.add(point.encoded_len())?;
            out.push(point);
        }
    }
    Ok(out)
}

/// `query` without payloads and vectors: [`hydrate`] reads those.
fn bare(query: &Query) -> Query {
    Query {
        with_payload: false,
        with_vectors: false,
        ..query.clone()
    }
}

/// The Points service over a [`Catalog`].
pub struct PointsService {
    catalog: Arc<Catalog>,
    limits: Limits,
    work: Work,
}

impl PointsService {
    /// A service over `catalog` enforcing `limits`, running storage calls
    /// through `work`.
    pub fn new(catalog: Arc<Catalog>, limits: Limits, work: Work) -> Self {
        PointsService {
            catalog,
            limits,
            work,
        }
    }

    /// Applies one upsert batch (checked against the limits); returns
    /// `(points, lsn)`.
    fn upsert_batch(
        catalog: &Catalog,
        limits: &Limits,
        r: pb::UpsertRequest,
    ) -> Result<(u64, u64), StorageError> {
        check_batch(r.points.len(), limits.max_batch, "points")?;
        let c = catalog.get(&r.collection)?;
        if r.points.is_empty() {
            // Nothing to write: no WAL record, LSN 0 (as a delete of nothing).
            return Ok((0, 0));
        }
        let points = convert::points(r.points)?;
        let n = points.len() as u64;
        let lsn = c.upsert(points)?;
        Ok((n, lsn))
    }
}

#[tonic::async_trait]
impl Points for PointsService {
    async fn upsert(
        &self,
        request: Request<pb::UpsertRequest>,
    ) -> Result<Response<pb::UpsertResponse>, Status> {
        let deadline = deadline(&request);
        let (catalog, limits) = (Arc::clone(&self.catalog), self.limits);
        let (upserted, lsn) = self
            .work
            .run(deadline, move |_| {
                Self::upsert_batch(&catalog, &limits, request.into_inner())
            })
            .await?;
        Ok(Response::new(pb::UpsertResponse { upserted, lsn }))
    }

    async fn upsert_stream(
        &self,
        request: Request<Streaming<pb::UpsertRequest>>,
    ) -> Result<Response<pb::UpsertStreamResponse>, Status> {
        let mut stream = request.into_inner();
        let mut done = pb::UpsertStreamResponse::default();
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let (catalog, limits) = (Arc::clone(&self.catalog), self.limits);
            let (n, lsn) = self
                .work
                .run(None, move |_| Self::upsert_batch(&catalog, &limits, batch))
                .await
                .map_err(|s| {
                    Status::new(
                        s.code(),
                        format!(
                            "batch {} of the stream: {} (the {} batches before it are written)",
                            done.batches,
                            s.message(),
                            done.batches
                        ),
                    )
                })?;
            done.batches += 1;
            done.points += n;
            done.last_lsn = lsn;
        }
        Ok(Response::new(done))
    }

    async fn delete(
        &self,
        request: Request<pb::DeletePointsRequest>,
    ) -> Result<Response<pb::DeletePointsResponse>, Status> {
        let deadline = deadline(&request);
        let (catalog, limits) = (Arc::clone(&self.catalog), self.limits);
        let (deleted, lsn) = self
            .work
            .run(deadline, move |_| {
                let r = request.into_inner();
                let c = catalog.get(&r.collection)?;
                match r.selector {
                    Some(pb::delete_points_request::Selector::Ids(ids)) => {
                        check_batch(ids.ids.len(), limits.max_batch, "ids")?;
                        c.delete_ids(&ids.ids)
                    }
                    Some(pb::delete_points_request::Selector::Filter(f)) => {
                        c.delete_filtered(&convert::filter(f, &limits)?)
                    }
                    None => Err(StorageError::InvalidArgument(
                        "delete needs a selector: ids or filter".into(),
                    )),
                }
            })
            .await?;
        Ok(Response::new(pb::DeletePointsResponse { deleted, lsn }))
    }

    async fn get(
        &self,
        request: Request<pb::GetPointsRequest>,
    ) -> Result<Response<pb::GetPointsResponse>, Status> {
        let deadline = deadline(&request);
        let (catalog, limits) = (Arc::clone(&self.catalog), self.limits);
        let points = self
            .work
            .run(deadline, move |cancel| {
                let r = request.into_inner();
                check_batch(r.ids.len(), limits.max_batch, "ids")?;
                let c = catalog.get(&r.collection)?;
                // An id asked for twice is answered once.
                let mut seen = HashSet::with_capacity(r.ids.len());
                let ids: Vec<u64> = r.ids.into_iter().filter(|id| seen.insert(*id)).collect();
                let mut size = ResponseSize::new(&limits);
                let mut points = Vec::new();
                // A few records at a time, so a response that is too large is
                // refused holding little more than the limit.
                for chunk in ids.chunks(GET_CHUNK) {
                    cancel.check()?;
                    for record in c.get(chunk, r.with_vectors, r.with_payload)? {
                        let point = convert::point_record(record);
                        size.add(point.encoded_len())?;
                        points.push(point);
                    }
                }
                Ok(points)
            })
            .await?;
        Ok(Response::new(pb::GetPointsResponse { points }))
    }

    async fn count(
        &self,
        request: Request<pb::CountRequest>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let deadline = deadline(&request);
        let (catalog, limits) = (Arc::clone(&self.catalog), self.limits);
        let count = self
            .work
            .run(deadline, move |_| {
                let r = request.into_inner();
                let c = catalog.get(&r.collection)?;
                let filter = r.filter.map(|f| convert::filter(f, &limits)).transpose()?;
                Ok(c.count(filter.as_ref()))
            })
            .await?;
        Ok(Response::new(pb::CountResponse { count }))
    }

    async fn search(
        &self,
        request: Request<pb::SearchRequest>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        let deadline = deadline(&request);
        let (catalog, limits) = (Arc::clone(&self.catalog), self.limits);
        let hits = self
            .work
            .run(deadline, move |cancel| {
                let r = request.into_inner();
                let c = catalog.get(&r.collection)?;
                let mut query = convert::search_query(r, &limits)?;
                query.cancel = cancel;
                let hits = c.search(&bare(&query))?;
                hydrate(&c, &query, hits, &mut ResponseSize::new(&limits))
            })
            .await?;
        reply(pb::SearchResponse { hits }, &self.limits)
    }

    async fn search_batch(
        &self,
        request: Request<pb::SearchBatchRequest>,
    ) -> Result<Response<pb::SearchBatchResponse>, Status> {
        let deadline = deadline(&request);
        let (catalog, limits) = (Arc::clone(&self.catalog), self.limits);
        let results = self
            .work
            .run(deadline, move |cancel| {
                let r = request.into_inner();
                check_batch(r.searches.len(), limits.max_batch, "searches")?;
                let c = catalog.get(&r.collection)?;
                let queries = r
                    .searches
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| {
                        if !s.collection.is_empty() && s.collection != r.collection {
                            return Err(StorageError::InvalidArgument(format!(
                                "search {i} names collection {:?}, the batch {:?}",
                                s.collection, r.collection
                            )));
                        }
                        let mut query = convert::search_query(s, &limits).map_err(|e| {
                            StorageError::InvalidArgument(format!("search {i}: {e}"))
                        })?;
                        query.cancel = cancel.clone();
                        Ok(query)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut size = ResponseSize::new(&limits);
                // Refuse before searching when the hits asked for cannot fit.
                let live = c.stats().points as usize;
                let expected: usize = queries
                    .iter()
                    .map(|q| q.k.min(live).saturating_mul(hit_bytes(q, c.config().dim)))
                    .fold(0, usize::saturating_add);
                size.check(expected, "up to about")?;
                let mut results = Vec::with_capacity(queries.len());
                for chunk in queries.chunks(BATCH_CHUNK) {
                    let bare: Vec<Query> = chunk.iter().map(bare).collect();
                    for (query, hits) in chunk.iter().zip(c.search_batch(&bare)?) {
                        let hits = hydrate(&c, query, hits, &mut size)?;
                        results.push(pb::SearchResponse { hits });
                    }
                }
                Ok(results)
            })
            .await?;
        reply(pb::SearchBatchResponse { results }, &self.limits)
    }

    async fn search_groups(
        &self,
        request: Request<pb::SearchGroupsRequest>,
    ) -> Result<Response<pb::SearchGroupsResponse>, Status> {
        let deadline = deadline(&request);
        let (catalog, limits) = (Arc::clone(&self.catalog), self.limits);
        let groups = self
            .work
            .run(deadline, move |cancel| {
                let r = request.into_inner();
                let c = catalog.get(&r.collection)?;
                if r.group_by.is_empty() {
                    return Err(StorageError::InvalidArgument("group_by is empty".into()));
                }
                let group_size = r.group_size.max(1) as usize;
                let total = (r.k as usize).saturating_mul(group_size);
                if total > limits.max_k {
                    return Err(StorageError::InvalidArgument(format!(
                        "k · group_size = {total} is above the server's max k of {}",
                        limits.max_k
                    )));
                }
                let mut query = convert::query(
                    r.vector,
                    r.k,
                    r.ef,
                    r.exact,
                    r.filter,
                    r.with_payload,
                    r.with_vectors,
                    &limits,
                )?;
                query.cancel = cancel;
                let mut size = ResponseSize::new(&limits);
                c.search_groups(&bare(&query), &r.group_by, group_size)?
                    .into_iter()
                    .map(|g| {
                        Ok(pb::PointGroup {
                            key: Some(convert::value_out(g.key)),
                            hits: hydrate(&c, &query, g.hits, &mut size)?,
                        })
                    })
                    .collect()
            })
            .await?;
        reply(pb::SearchGroupsResponse { groups }, &self.limits)
    }
}
