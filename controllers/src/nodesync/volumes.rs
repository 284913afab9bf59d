//! Writes what a node's agent observed of the Volumes bound to the node into their status (the
//! observed fields only, see `storage::observed_status`), where it changed.

use std::collections::BTreeMap;
use std::time::SystemTime;

use minicloud_manifests::Volume;
use minicloud_proto::v1::ObservedState;

use super::desired::volume_id;
use super::plan::{VolumeId, volume_of};
use crate::client::ApiClient;
use crate::error::{Result, api};
use crate::object::ObjectKey;
use crate::storage::{Seen, modify_volume_status, observed_status};
use crate::time;

/// What one node sync round learnt about its node's volumes.
pub struct Round<'a> {
    /// The node.
    pub node: &'a str,
    /// What its agent reported after the plan.
    pub observed: &'a ObservedState,
    /// Volumes held back, with why.
    pub held: &'a BTreeMap<VolumeId, String>,
    /// Volumes the plan ensured, with the size.
    pub ensured: &'a BTreeMap<VolumeId, u64>,
}

/// Records the observed status of every Volume bound to the round's node.
pub async fn record(client: &ApiClient, volumes: &[Volume], round: &Round<'_>) -> Result<()> {
    let now = time::format(SystemTime::now());
    let bound = volumes
        .iter()
        .filter(|v| v.status.as_ref().and_then(|s| s.node.as_deref()) == Some(round.node));
    for volume in bound {
        let id = volume_id(volume);
        let seen = seen(round, &id);
        if volume.status.as_ref() == Some(&observed_status(volume, &seen, &now)) {
            continue;
        }
        modify_volume_status(client, &ObjectKey::of(volume), |fresh| {
            observed_status(fresh, &seen, &now)
        })
        .await
        .map_err(api("write a Volume's observed status"))?;
    }
    Ok(())
}

fn seen<'a>(round: &Round<'a>, id: &VolumeId) -> Seen<'a> {
    let volume = round
        .observed
        .volumes
        .iter()
        .find(|v| volume_of(v).as_ref() == Some(id));
    Seen {
        volume,
        mechanism: round.observed.volume_mechanism.as_ref(),
        containers: &round.observed.containers,
        held: round.held.get(id).map(String::as_str),
        ensured: round.ensured.get(id).copied(),
    }
}
