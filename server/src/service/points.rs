//! `waypoint.v1.Points`: upsert (unary and streaming), delete, get, count,
//! search, batch search and grouped search.

use std::sync::Arc;

use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};
use waypoint_proto::v1 as pb;
use waypoint_proto::v1::points_server::Points;

use super::convert::{self, check_batch};
use super::status::{blocking, deadline, reply};
use crate::config::Limits;
use crate::storage::catalog::Catalog;
use crate::storage::StorageError;

/// The Points service over a [`Catalog`].
pub struct PointsService {
    catalog: Arc<Catalog>,
    limits: Limits,
}

impl PointsService {
    /// A service over `catalog` enforcing `limits`.
    pub fn new(catalog: Arc<Catalog>, limits: Limits) -> Self {
        PointsService { catalog, limits }
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
        let (upserted, lsn) = blocking(deadline, move || {
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
            let (n, lsn) = blocking(None, move || Self::upsert_batch(&catalog, &limits, batch))
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
        let (deleted, lsn) = blocking(deadline, move || {
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
        let points = blocking(deadline, move || {
            let r = request.into_inner();
            check_batch(r.ids.len(), limits.max_batch, "ids")?;
            let c = catalog.get(&r.collection)?;
            Ok(c.get(&r.ids, r.with_vectors, r.with_payload)
                .into_iter()
                .map(convert::point_record)
                .collect())
        })
        .await?;
        reply(pb::GetPointsResponse { points }, &self.limits)
    }

    async fn count(
        &self,
        request: Request<pb::CountRequest>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let deadline = deadline(&request);
        let (catalog, limits) = (Arc::clone(&self.catalog), self.limits);
        let count = blocking(deadline, move || {
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
        let hits = blocking(deadline, move || {
            let r = request.into_inner();
            let c = catalog.get(&r.collection)?;
            let query = convert::search_query(r, &limits)?;
            Ok(c.search(&query)?.into_iter().map(convert::scored).collect())
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
        let results = blocking(deadline, move || {
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
                    convert::search_query(s, &limits)
                        .map_err(|e| StorageError::InvalidArgument(format!("search {i}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(c.search_batch(&queries)?
                .into_iter()
                .map(|hits| pb::SearchResponse {
                    hits: hits.into_iter().map(convert::scored).collect(),
                })
                .collect())
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
        let groups = blocking(deadline, move || {
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
            let query = convert::query(
                r.vector,
                r.k,
                r.ef,
                r.exact,
                r.filter,
                r.with_payload,
                r.with_vectors,
                &limits,
            )?;
            Ok(c.search_groups(&query, &r.group_by, group_size)?
                .into_iter()
                .map(|g| pb::PointGroup {
                    key: Some(convert::value_out(g.key)),
                    hits: g.hits.into_iter().map(convert::scored).collect(),
                })
                .collect())
        })
        .await?;
        reply(pb::SearchGroupsResponse { groups }, &self.limits)
    }
}
