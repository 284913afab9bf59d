//! Reading a tenant's usage records for a report: the caller may read only a tenant whose Apps
//! it may list (a tenant key, its own), over a checked range of whole hours; the hours and the
//! watermark come from one range read, so they agree.

use minicloud_manifests::Kind;
use minicloud_proto::v1::{RecordsGrouping, RecordsReport, RecordsRequest};

use super::group::group;
use super::persist::decode;
use super::range::requested_hours;
use super::record::{HourRecord, MeterState, hour_in_key, hours_and_state, state_key};
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
    let page = api
        .store()
        .range(&hours_and_state(&tenant, hours.0))
        .await?;
    let mut recorded = Vec::new();
    let mut state = MeterState::default();
    for stored in &page.items {
        if stored.key == state_key(&tenant) {
            state = decode(stored)?;
        } else if let Some(hour) = hour_in_key(&stored.key).filter(|hour| *hour < hours.1) {
            recorded.push((hour, decode::<HourRecord>(stored)?));
        }
    }
    Ok(RecordsReport {
        tenant,
        records: group(&recorded, by, hours),
        integrated_to_millis: state.integrated_to_millis,
    })
}
