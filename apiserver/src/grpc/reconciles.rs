//! The gRPC face of the reconcile history: `minicloud.v1.Reconciles`, answered by
//! [`crate::reconciles`].

use std::sync::Arc;

use minicloud_proto::v1::reconciles_server::Reconciles;
use minicloud_proto::v1::{ListReconciles, ReconcileHistory, RecordReconciles, RecordedReconciles};
use tonic::{Request, Response, Status};

use crate::api::ResourceApi;
use crate::wire::context;

/// The gRPC service.
pub struct ReconcilesService {
    api: Arc<ResourceApi>,
}

impl ReconcilesService {
    /// Keeps the histories in `api`'s store.
    pub fn new(api: Arc<ResourceApi>) -> Self {
        Self { api }
    }
}

#[tonic::async_trait]
impl Reconciles for ReconcilesService {
    async fn record(
        &self,
        request: Request<RecordReconciles>,
    ) -> Result<Response<RecordedReconciles>, Status> {
        let ctx = context(&request, "")?;
        let records = request.into_inner().records;
        crate::reconciles::record(self.api.store().as_ref(), &ctx, records)
            .await
            .map(|()| Response::new(RecordedReconciles {}))
            .map_err(|error| error.grpc_status())
    }

    async fn list(
        &self,
        request: Request<ListReconciles>,
    ) -> Result<Response<ReconcileHistory>, Status> {
        let ctx = context(&request, &request.get_ref().tenant)?;
        let ListReconciles { kind, name, .. } = request.get_ref();
        crate::reconciles::list(&self.api, &ctx, (kind, name))
            .await
            .map(Response::new)
            .map_err(|error| error.grpc_status())
    }
}
