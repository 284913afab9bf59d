//! The gRPC face of usage records: `minicloud.v1.Metering`, answered by [`crate::metering`].

use std::sync::Arc;

use minicloud_proto::v1::metering_server::Metering;
use minicloud_proto::v1::{RecordsReport, RecordsRequest};
use tonic::{Request, Response, Status};

use crate::api::ResourceApi;
use crate::wire::context;

/// The gRPC service.
pub struct MeteringService {
    api: Arc<ResourceApi>,
}

impl MeteringService {
    /// Reports the usage records kept in `api`'s store.
    pub fn new(api: Arc<ResourceApi>) -> Self {
        Self { api }
    }
}

#[tonic::async_trait]
impl Metering for MeteringService {
    async fn records(
        &self,
        request: Request<RecordsRequest>,
    ) -> Result<Response<RecordsReport>, Status> {
        let ctx = context(&request, &request.get_ref().tenant)?;
        crate::metering::records(&self.api, &ctx, request.get_ref())
            .await
            .map(Response::new)
            .map_err(|error| error.grpc_status())
    }
}
