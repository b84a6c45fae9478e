//! `waypoint.v1.Collections`: create, get, list and delete collections.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use waypoint_proto::v1 as pb;
use waypoint_proto::v1::collections_server::Collections;

use super::convert;
use super::status::{deadline, Work};
use crate::config::Limits;
use crate::storage::catalog::Catalog;

/// The Collections service over a [`Catalog`].
pub struct CollectionsService {
    catalog: Arc<Catalog>,
    limits: Limits,
    work: Work,
}

impl CollectionsService {
    /// A service over `catalog` enforcing `limits`, running storage calls
    /// through `work`.
    pub fn new(catalog: Arc<Catalog>, limits: Limits, work: Work) -> Self {
        CollectionsService {
            catalog,
            limits,
            work,
        }
    }
}

#[tonic::async_trait]
impl Collections for CollectionsService {
    async fn create(
        &self,
        request: Request<pb::CreateCollectionRequest>,
    ) -> Result<Response<pb::CreateCollectionResponse>, Status> {
        let deadline = deadline(&request);
        let (catalog, limits) = (Arc::clone(&self.catalog), self.limits);
        let info = self
            .work
            .run(deadline, move |_| {
                let config = convert::create_config(request.into_inner(), &limits)?;
                let c = catalog.create(config)?;
                Ok(convert::collection_info(c.config(), c.stats(), c.health()))
            })
            .await?;
        tracing::info!(collection = %info.config.as_ref().map_or("", |c| c.name.as_str()), "collection created");
        Ok(Response::new(pb::CreateCollectionResponse {
            info: Some(info),
        }))
    }

    async fn get(
        &self,
        request: Request<pb::GetCollectionRequest>,
    ) -> Result<Response<pb::GetCollectionResponse>, Status> {
        let deadline = deadline(&request);
        let catalog = Arc::clone(&self.catalog);
        let info = self
            .work
            .run(deadline, move |_| {
                let c = catalog.get(&request.into_inner().name)?;
                Ok(convert::collection_info(c.config(), c.stats(), c.health()))
            })
            .await?;
        Ok(Response::new(pb::GetCollectionResponse {
            info: Some(info),
        }))
    }

    async fn list(
        &self,
        request: Request<pb::ListCollectionsRequest>,
    ) -> Result<Response<pb::ListCollectionsResponse>, Status> {
        let catalog = Arc::clone(&self.catalog);
        let collections = self
            .work
            .run(deadline(&request), move |_| {
                Ok(catalog
                    .list()
                    .iter()
                    .map(|c| convert::collection_info(c.config(), c.stats(), c.health()))
                    .collect())
            })
            .await?;
        Ok(Response::new(pb::ListCollectionsResponse { collections }))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteCollectionRequest>,
    ) -> Result<Response<pb::DeleteCollectionResponse>, Status> {
        let deadline = deadline(&request);
        let catalog = Arc::clone(&self.catalog);
        let name = request.into_inner().name;
        let logged = name.clone();
        self.work
            .run(deadline, move |_| catalog.delete(&name))
            .await?;
        tracing::info!(collection = %logged, "collection deleted");
        Ok(Response::new(pb::DeleteCollectionResponse {}))
    }
}
