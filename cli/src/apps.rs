//! An App as `mini rollout` and `mini restart` read and change it: with its Releases and
//! Instances (found by the app label), and written back as a compare-and-swap that reads again
//! when someone else changed the App in between, so that no concurrent change is lost.

use anyhow::{Context as _, Result};
use minicloud_common::read_modify_write::{Conflicting, KeptChanging, ReadModifyWrite};
use minicloud_manifests::{App, Kind, Release};
use minicloud_proto::metadata::reason;
use minicloud_proto::object_labels;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{Client, RequestFailed};

/// An object the server sent, as its typed kind.
pub fn typed<T: DeserializeOwned>(kind: Kind, object: Value) -> Result<T> {
    serde_json::from_value(object)
        .with_context(|| format!("the server sent a {kind} this mini cannot read"))
}

/// The App `name` of the client's tenant.
pub async fn read_app(client: &mut Client, name: &str) -> Result<App> {
    let object = client.get(client.object_ref(Kind::App, name)).await?;
    typed(Kind::App, object)
}

/// Every object of `kind` labelled as `app`'s.
pub async fn list_of<T: DeserializeOwned>(
    client: &mut Client,
    kind: Kind,
    app: &App,
) -> Result<Vec<T>> {
    let tenant = app.metadata.tenant.clone().unwrap_or_default();
    let selector = format!("{}={}", object_labels::APP, app.metadata.name);
    let objects = client.list(kind, tenant, &selector).await?;
    objects.into_iter().map(|o| typed(kind, o)).collect()
}

/// What to do to an App, and what to tell the user about it.
pub enum Change<T> {
    /// Write this App.
    Write(Box<App>, T),
    /// Leave the App as it is.
    Skip(T),
}

/// Reads the App `name` and its Releases, lets `decide` say what to do, and writes the App it
/// returns as a compare-and-swap on the version read — reading again when someone else
/// changed the App in between. Returns what was done.
pub async fn change_app<T>(
    client: &Client,
    name: &str,
    decide: impl Fn(&App, &[Release]) -> Result<Change<T>>,
) -> Result<Change<T>> {
    let decide = &decide;
    ReadModifyWrite::new(format!("app/{name}"), "updated")
        .run(|| {
            let mut client = client.clone();
            async move {
                let app = read_app(&mut client, name).await?;
                let releases = list_of::<Release>(&mut client, Kind::Release, &app).await?;
                let change = decide(&app, &releases)?;
                if let Change::Write(changed, _) = &change {
                    let json = serde_json::to_value(changed).expect("Apps always serialize");
                    client.apply(&json, false).await?;
                }
                Ok(change)
            }
        })
        .await
        .map_err(|AttemptFailed(error)| error)
}

/// Why one attempt at changing an object failed; a write the server refused as a conflict is
/// tried again.
#[derive(Debug)]
pub struct AttemptFailed(pub anyhow::Error);

impl From<anyhow::Error> for AttemptFailed {
    fn from(error: anyhow::Error) -> Self {
        Self(error)
    }
}

impl From<RequestFailed> for AttemptFailed {
    fn from(error: RequestFailed) -> Self {
        Self(error.into())
    }
}

impl From<KeptChanging> for AttemptFailed {
    fn from(error: KeptChanging) -> Self {
        Self(error.into())
    }
}

impl Conflicting for AttemptFailed {
    fn is_conflict(&self) -> bool {
        self.0
            .downcast_ref::<RequestFailed>()
            .is_some_and(|failed| failed.reason() == Some(reason::CONFLICT))
    }
}
