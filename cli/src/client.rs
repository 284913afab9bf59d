//! The connection to a minicloud server: which server and tenant a command uses (flags,
//! environment, config file, defaults, in that order) and the gRPC calls it makes.

use std::fmt;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use minicloud_common::server_files::ADMIN_KEY_FILE;
use minicloud_manifests::{Kind, Scope};
use minicloud_proto::api_key::Token;
use minicloud_proto::bearer::{Authorized, Bearer, authorized};
use minicloud_proto::metadata::{self, reason};
use minicloud_proto::v1::resource_service_client::ResourceServiceClient;
use minicloud_proto::v1::{self as pb};
use serde_json::Value;
use tonic::transport::{Channel, Endpoint};

use crate::config;

/// The server used when neither flags, environment nor config file name one.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7070";
/// The tenant used when neither flags nor config file name one.
pub const DEFAULT_TENANT: &str = "default";
/// How many times one apply waits out the server's rate limit before giving up.
const RATE_LIMIT_WAITS: u32 = 5;
/// Lists can be far larger than one object; this bounds what a reply may hold.
const MAX_REPLY_BYTES: usize = 256 * 1024 * 1024;

/// The flags every client command takes.
#[derive(Args, Clone, Debug)]
pub struct ConnectArgs {
    /// The server URL [default: the config file's current context, else http://127.0.0.1:7070].
    #[arg(long, env = "MINI_SERVER")]
    pub server: Option<String>,
    /// The tenant to work in (like kubectl's namespace) [default: the config file's, else the
    /// key's, else "default"].
    #[arg(long, short = 't')]
    pub tenant: Option<String>,
    /// The API key [default: the config file's, written by `mini login`].
    #[arg(long, env = "MINI_KEY", hide_env_values = true)]
    pub key: Option<String>,
}

/// The API key named by `key`, else the config file's; an error saying how to get one when
/// there is none.
pub fn api_key(key: Option<String>) -> Result<String> {
    match key.or(config::load()?.key) {
        Some(key) => Ok(key),
        None => bail!(
            "no API key: pass --key, set MINI_KEY or run `mini login --key KEY`; `mini server` \
             prints the admin key on its first start and keeps it in <data dir>/{ADMIN_KEY_FILE}"
        ),
    }
}

/// The tenant a key belongs to, read from its public prefix (`mc_acme_…`).
fn tenant_of_key(key: &str) -> Option<String> {
    Token::parse(key).and_then(|token| token.tenant)
}

/// The URL of the server named by `server`, else the config file, else the default, with a
/// scheme.
pub fn server_url(server: Option<String>) -> Result<String> {
    let server = server
        .or(config::load()?.server)
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    Ok(with_scheme(&server))
}

/// A failed request, with the server's human message and machine-readable reason.
#[derive(Debug)]
pub struct RequestFailed {
    status: tonic::Status,
}

impl RequestFailed {
    /// The server's reason (`NotFound`, `Expired`, …), when it sent one.
    pub fn reason(&self) -> Option<&str> {
        metadata::reason_of(&self.status)
    }

    /// For a request refused by the server's rate limit, how long it asks to wait.
    fn retry_after(&self) -> Option<Duration> {
        if self.reason() != Some(reason::RATE_LIMITED) {
            return None;
        }
        let seconds = self
            .status
            .metadata()
            .get(metadata::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .unwrap_or(1);
        Some(Duration::from_secs(seconds))
    }
}

impl fmt::Display for RequestFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.status.message())
    }
}

impl std::error::Error for RequestFailed {}

impl From<tonic::Status> for RequestFailed {
    fn from(status: tonic::Status) -> Self {
        Self { status }
    }
}

/// A connected client working in one tenant; clones share the connection.
#[derive(Clone)]
pub struct Client {
    grpc: ResourceServiceClient<Authorized>,
    channel: Authorized,
    tenant: String,
}

impl Client {
    /// Resolves the server and tenant and connects.
    pub async fn connect(args: &ConnectArgs) -> Result<Client> {
        let context = config::load()?;
        let server = args
            .server
            .clone()
            .or(context.server)
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let key = api_key(args.key.clone())?;
        let tenant = args
            .tenant
            .clone()
            .or(context.tenant)
            .or_else(|| tenant_of_key(&key))
            .unwrap_or_else(|| DEFAULT_TENANT.to_owned());
        let channel = open_channel(&with_scheme(&server)).await?;
        let channel = authorized(channel, Bearer::new(Some(&key))?);
        let grpc =
            ResourceServiceClient::new(channel.clone()).max_decoding_message_size(MAX_REPLY_BYTES);
        Ok(Client {
            grpc,
            channel,
            tenant,
        })
    }

    /// The tenant this client works in.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The tenant to send for `kind`: cluster-scoped kinds take none.
    pub fn tenant_for(&self, kind: Kind) -> String {
        match kind.scope() {
            Scope::Cluster => String::new(),
            _ => self.tenant.clone(),
        }
    }

    /// Applies one manifest (its JSON). A refusal by the server's rate limit (a large
    /// `mini apply -f` with a tenant key) is waited out as the server asks, a few times.
    pub async fn apply(
        &mut self,
        object: &Value,
        dry_run: bool,
    ) -> Result<pb::ApplyResponse, RequestFailed> {
        let request = pb::ApplyRequest {
            json: object.to_string(),
            dry_run,
            default_tenant: self.tenant.clone(),
        };
        let mut waits = 0;
        loop {
            match self
                .grpc
                .apply(request.clone())
                .await
                .map_err(RequestFailed::from)
            {
                Ok(response) => return Ok(response.into_inner()),
                Err(failed) => match failed.retry_after() {
                    Some(wait) if waits < RATE_LIMIT_WAITS => {
                        waits += 1;
                        tokio::time::sleep(wait).await;
                    }
                    _ => return Err(failed),
                },
            }
        }
    }

    /// Reads one object.
    pub async fn get(&mut self, target: pb::ObjectRef) -> Result<Value> {
        let request = pb::GetRequest {
            r#ref: Some(target),
        };
        let object = self.grpc.get(request).await.map_err(RequestFailed::from)?;
        decode(&object.into_inner())
    }

    /// Lists a kind's objects (`tenant` "*" for every tenant) matching `selector`.
    pub async fn list(&mut self, kind: Kind, tenant: String, selector: &str) -> Result<Vec<Value>> {
        let request = pb::ListRequest {
            kind: kind.as_str().to_owned(),
            tenant,
            label_selector: selector.to_owned(),
        };
        let list = self.grpc.list(request).await.map_err(RequestFailed::from)?;
        list.into_inner().items.iter().map(decode).collect()
    }

    /// The merged output of an App's instances as `request` filters it, in this client's
    /// tenant unless the request names one.
    pub async fn app_logs(
        &self,
        mut request: pb::AppLogsRequest,
    ) -> Result<tonic::Streaming<pb::LogLine>> {
        if request.tenant.is_empty() {
            request.tenant = self.tenant.clone();
        }
        let mut logs = pb::app_logs_client::AppLogsClient::new(self.channel.clone());
        let lines = logs.stream(request).await.map_err(RequestFailed::from)?;
        Ok(lines.into_inner())
    }

    /// Issues an API key with `role` ("tenant-admin", ...) for `tenant` (empty: none, or the
    /// caller's own).
    pub async fn create_key(
        &self,
        role: &str,
        tenant: &str,
        description: &str,
    ) -> Result<pb::CreatedKey, RequestFailed> {
        let request = pb::CreateKeyRequest {
            role: role.to_owned(),
            tenant: tenant.to_owned(),
            description: description.to_owned(),
        };
        let mut keys = pb::keys_client::KeysClient::new(self.channel.clone());
        Ok(keys.create(request).await?.into_inner())
    }

    /// Seals every Secret under a new key (admin only).
    pub async fn rotate_secret_key(&self) -> Result<pb::RotateKeyResponse, RequestFailed> {
        let mut secrets = pb::secrets_client::SecretsClient::new(self.channel.clone());
        Ok(secrets
            .rotate_key(pb::RotateKeyRequest {})
            .await?
            .into_inner())
    }

    /// The newest audit records concerning `tenant` (empty: all the key may read) since
    /// `since` (RFC 3339; empty: no bound), at most `limit` (0: the server's default).
    pub async fn audit(
        &self,
        tenant: &str,
        since: &str,
        limit: u32,
    ) -> Result<Vec<pb::AuditRecord>, RequestFailed> {
        let request = pb::ListAuditRequest {
            tenant: tenant.to_owned(),
            since: since.to_owned(),
            limit,
        };
        let mut audit = pb::audit_client::AuditClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_REPLY_BYTES);
        Ok(audit.list(request).await?.into_inner().records)
    }

    /// What the instances of `tenant` (`*`: every tenant) use now, and, when `nodes` (admins
    /// only), the nodes.
    pub async fn top(&self, tenant: &str, nodes: bool) -> Result<pb::TopReport, RequestFailed> {
        let mut usage = pb::usage_client::UsageClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_REPLY_BYTES);
        let request = pb::TopRequest {
            tenant: tenant.to_owned(),
            nodes,
        };
        Ok(usage.top(request).await?.into_inner())
    }

    /// A tenant's usage records, as `request` asks for them.
    pub async fn usage_records(
        &self,
        request: pb::RecordsRequest,
    ) -> Result<pb::RecordsReport, RequestFailed> {
        let mut metering = pb::metering_client::MeteringClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_REPLY_BYTES);
        Ok(metering.records(request).await?.into_inner())
    }

    /// The latest health probes of `app`'s instances (or of `instance` only) in this tenant.
    pub async fn health(
        &self,
        app: &str,
        instance: &str,
    ) -> Result<pb::HealthReport, RequestFailed> {
        let mut health = pb::health_client::HealthClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_REPLY_BYTES);
        let request = pb::HealthRequest {
            tenant: self.tenant.clone(),
            app: app.to_owned(),
            instance: instance.to_owned(),
        };
        Ok(health.history(request).await?.into_inner())
    }

    /// The latest reconcile decisions about the object `kind`/`name`.
    pub async fn reconciles(
        &self,
        kind: Kind,
        name: &str,
    ) -> Result<pb::ReconcileHistory, RequestFailed> {
        let mut reconciles = pb::reconciles_client::ReconcilesClient::new(self.channel.clone());
        let request = pb::ListReconciles {
            kind: kind.as_str().to_owned(),
            tenant: self.tenant_for(kind),
            name: name.to_owned(),
        };
        Ok(reconciles.list(request).await?.into_inner())
    }

    /// Who the server says this client's key is.
    pub async fn who_am_i(&self) -> Result<pb::Identity, RequestFailed> {
        let mut keys = pb::keys_client::KeysClient::new(self.channel.clone());
        Ok(keys.who_am_i(pb::WhoAmIRequest {}).await?.into_inner())
    }

    /// Deletes one object.
    pub async fn delete(
        &mut self,
        target: pb::ObjectRef,
    ) -> Result<pb::DeleteResponse, RequestFailed> {
        let request = pb::DeleteRequest {
            r#ref: Some(target),
            resource_version: String::new(),
        };
        Ok(self.grpc.delete(request).await?.into_inner())
    }

    /// Opens a watch stream.
    pub async fn watch(
        &mut self,
        request: pb::WatchRequest,
    ) -> Result<tonic::Streaming<pb::WatchEvent>, RequestFailed> {
        Ok(self.grpc.watch(request).await?.into_inner())
    }

    /// Names `name` of `kind` in this client's tenant (none for cluster-scoped kinds).
    pub fn object_ref(&self, kind: Kind, name: &str) -> pb::ObjectRef {
        pb::ObjectRef {
            kind: kind.as_str().to_owned(),
            tenant: self.tenant_for(kind),
            name: name.to_owned(),
        }
    }
}

/// Parses the JSON of an object the server sent.
pub fn decode(object: &pb::Object) -> Result<Value> {
    serde_json::from_str(&object.json).context("the server sent an object that is not JSON")
}

/// Accepts `host:port` as well as a URL.
fn with_scheme(server: &str) -> String {
    if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    }
}

async fn open_channel(server: &str) -> Result<Channel> {
    let endpoint = Endpoint::from_shared(server.to_owned())
        .with_context(|| format!("{server:?} is not a valid server URL"))?
        .connect_timeout(Duration::from_secs(5));
    endpoint.connect().await.map_err(|error| {
        anyhow::anyhow!(
            "cannot reach the minicloud server at {server}: {}; is `mini server` running?",
            root_cause(&error)
        )
    })
}

/// The innermost error: tonic's own message ("transport error") says nothing useful.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// A request the server refused for `reason`, saying `message`.
#[cfg(test)]
pub fn refused(code: tonic::Code, reason: &'static str, message: &str) -> RequestFailed {
    let mut status = tonic::Status::new(code, message);
    status
        .metadata_mut()
        .insert(metadata::REASON, reason.parse().expect("reasons are ASCII"));
    RequestFailed::from(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_address_gets_the_http_scheme() {
        assert_eq!(with_scheme("127.0.0.1:7070"), "http://127.0.0.1:7070");
        assert_eq!(with_scheme("https://mini.example"), "https://mini.example");
    }

    #[test]
    fn the_root_cause_is_the_innermost_error() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let outer = anyhow::Error::new(inner).context("transport error");
        assert_eq!(root_cause(outer.as_ref()), "refused");
    }

    #[test]
    fn the_reason_comes_from_the_status_metadata() {
        let failed = refused(tonic::Code::OutOfRange, reason::EXPIRED, "too old");
        assert_eq!(failed.reason(), Some("Expired"));
        assert_eq!(failed.to_string(), "too old");
    }
}
