//! The gRPC face of the health history: `minicloud.v1.Health`, answered by [`crate::health`].

use std::sync::Arc;

use minicloud_proto::v1::health_server::Health;
use minicloud_proto::v1::{HealthReport, HealthRequest};
use tonic::{Request, Response, Status};

use crate::agents::Agents;
use crate::api::ResourceApi;
use crate::wire::context;

/// The gRPC service.
pub struct HealthService {
    api: Arc<ResourceApi>,
    agents: Agents,
}

impl HealthService {
    /// Reports the probes of the Instances in `api`, reading them from node agents through
    /// `agents`.
    pub fn new(api: Arc<ResourceApi>, agents: Agents) -> Self {
        Self { api, agents }
    }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn history(
        &self,
        request: Request<HealthRequest>,
    ) -> Result<Response<HealthReport>, Status> {
        let ctx = context(&request, &request.get_ref().tenant)?;
        crate::health::history(&self.api, &self.agents, &ctx, request.get_ref())
            .await
            .map(Response::new)
            .map_err(|error| error.grpc_status())
    }
}
