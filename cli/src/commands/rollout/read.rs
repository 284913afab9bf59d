//! Reading an App and the objects the app controller labels as its, as their typed kinds.

use anyhow::{Context as _, Result};
use minicloud_manifests::{App, Kind};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Client;

/// The label by which the app controller marks the Releases and Instances of an App.
const APP_LABEL: &str = "app";

/// An object the server sent, as its typed kind.
pub(super) fn typed<T: DeserializeOwned>(kind: Kind, object: Value) -> Result<T> {
    serde_json::from_value(object)
        .with_context(|| format!("the server sent a {kind} this mini cannot read"))
}

/// The App `name` of the client's tenant.
pub(super) async fn read_app(client: &mut Client, name: &str) -> Result<App> {
    let object = client.get(client.object_ref(Kind::App, name)).await?;
    typed(Kind::App, object)
}

/// Every object of `kind` labelled as `app`'s.
pub(super) async fn list_of<T: DeserializeOwned>(
    client: &mut Client,
    kind: Kind,
    app: &App,
) -> Result<Vec<T>> {
    let tenant = app.metadata.tenant.clone().unwrap_or_default();
    let selector = format!("{APP_LABEL}={}", app.metadata.name);
    let objects = client.list(kind, tenant, &selector).await?;
    objects.into_iter().map(|o| typed(kind, o)).collect()
}
