//! Reading a tenant's usage records for a report: the caller may read only a tenant whose Apps
//! it may list (a tenant key, its own), over a checked range of whole hours, read with one
//! bounded range read of the store.

use minicloud_manifests::Kind;
use minicloud_proto::v1::{RecordsGrouping, RecordsReport, RecordsRequest};

use super::error::MeteringError;
use super::group::group;
use super::persist::decode;
use super::range::requested_hours;
use super::record::{HourRecord, MeterState, hour_in_key, hours_range, state_key};
use crate::api::{ApiError, RequestContext, ResourceApi, TenantScope};

/// The report `request` asks for, in `ctx`'s tenant (the request's, else the key's own).
pub async fn records(
    api: &ResourceApi,
    ctx: &RequestContext,
    request: &RecordsRequest,
) -> Result<RecordsReport, ApiError> {
    let tenant = ctx.default_tenant.clone();
    if tenant == "*" {
        return Err(ApiError::BadRequest(
            "usage is reported for one tenant at a time; name it with -t TENANT".into(),
        ));
    }
    ctx.check_listing(Kind::App, &TenantScope::One(tenant.clone()))?;
    let hours = requested_hours(request.from_unix_seconds, request.to_unix_seconds)?;
    let by = RecordsGrouping::try_from(request.by)
        .map_err(|_| ApiError::BadRequest(format!("unknown grouping {}", request.by)))?;
    let store = api.store();
    let page = store.range(&hours_range(&tenant, hours.0, hours.1)).await?;
    let recorded = page
        .items
        .iter()
        .filter_map(|stored| Some((hour_in_key(&stored.key)?, stored)))
        .map(|(hour, stored)| Ok((hour, decode::<HourRecord>(stored)?)))
        .collect::<Result<Vec<_>, MeteringError>>()?;
    let state = match store.get(&state_key(&tenant)).await? {
        Some(stored) => decode::<MeterState>(&stored)?,
        None => MeterState::default(),
    };
    Ok(RecordsReport {
        tenant,
        records: group(&recorded, by, hours),
        integrated_to_millis: state.integrated_to_millis,
    })
}
