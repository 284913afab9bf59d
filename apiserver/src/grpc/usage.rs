//! The gRPC face of measured use: `minicloud.v1.Usage`, answered by [`crate::usage`].

use std::sync::Arc;

use minicloud_proto::v1::usage_server::Usage;
use minicloud_proto::v1::{TopReport, TopRequest};
use tonic::{Request, Response, Status};

use crate::agents::Agents;
use crate::api::ResourceApi;
use crate::wire::context;

/// The gRPC service.
pub struct UsageService {
    api: Arc<ResourceApi>,
    agents: Agents,
}

impl UsageService {
    /// Reports the use of the objects in `api`, reading samples from node agents through
    /// `agents`.
    pub fn new(api: Arc<ResourceApi>, agents: Agents) -> Self {
        Self { api, agents }
    }
}

#[tonic::async_trait]
impl Usage for UsageService {
    async fn top(&self, request: Request<TopRequest>) -> Result<Response<TopReport>, Status> {
        let ctx = context(&request, &request.get_ref().tenant)?;
        let TopRequest { tenant, nodes } = request.get_ref();
        crate::usage::top(&self.api, &self.agents, &ctx, (tenant, *nodes))
            .await
            .map(Response::new)
            .map_err(|error| error.grpc_status())
    }
}
