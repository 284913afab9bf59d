//! Who may call a standalone node agent: admin keys of the API server it joined, and nobody
//! else. The agent asks that server who each presented key is (`Keys.WhoAmI`) and remembers a
//! verdict for a few seconds, so a revoked key stops working on agents within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use minicloud_proto::v1::WhoAmIRequest;
use minicloud_proto::v1::keys_client::KeysClient;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::node::lazy_api_channel;

/// How long a key's verdict is reused before the API server is asked again.
const VERDICT_TTL: Duration = Duration::from_secs(5);
/// Verdicts remembered at most; the table is emptied when it would grow past this.
const MAX_VERDICTS: usize = 1024;

/// The check in front of a standalone agent's gRPC service.
#[derive(Clone)]
pub struct AdminKeys {
    api: Channel,
    verdicts: Arc<Mutex<HashMap<String, (Instant, Verdict)>>>,
}

/// What the API server said of a key.
#[derive(Clone, Debug)]
enum Verdict {
    Admin,
    Refused(Code, String),
}

impl AdminKeys {
    /// Checks keys against the API server at `api_url`.
    pub fn new(api_url: &str) -> Result<AdminKeys> {
        Ok(AdminKeys {
            api: lazy_api_channel(api_url)?,
            verdicts: Arc::default(),
        })
    }

    async fn verdict(&self, authorization: &str) -> Result<Verdict, Status> {
        let cached = self
            .verdicts
            .lock()
            .expect("verdict table is never poisoned")
            .get(authorization)
            .filter(|(at, _)| at.elapsed() < VERDICT_TTL)
            .map(|(_, verdict)| verdict.clone());
        if let Some(verdict) = cached {
            return Ok(verdict);
        }
        let mut request = tonic::Request::new(WhoAmIRequest {});
        let value = authorization
            .parse()
            .map_err(|_| Status::unauthenticated("the authorization header is not valid"))?;
        request.metadata_mut().insert("authorization", value);
        let verdict = match KeysClient::new(self.api.clone()).who_am_i(request).await {
            Ok(identity) if identity.get_ref().role == "admin" => Verdict::Admin,
            Ok(identity) => Verdict::Refused(
                Code::PermissionDenied,
                format!(
                    "the node agent takes admin keys only; key {} is {}",
                    identity.get_ref().key,
                    identity.get_ref().role
                ),
            ),
            Err(status)
                if matches!(
                    status.code(),
                    Code::Unauthenticated | Code::PermissionDenied
                ) =>
            {
                Verdict::Refused(status.code(), status.message().to_owned())
            }
            Err(status) => {
                return Err(Status::unavailable(format!(
                    "the node agent cannot check keys with its API server: {}",
                    status.message()
                )));
            }
        };
        let mut verdicts = self
            .verdicts
            .lock()
            .expect("verdict table is never poisoned");
        if verdicts.len() >= MAX_VERDICTS {
            verdicts.clear();
        }
        verdicts.insert(authorization.to_owned(), (Instant::now(), verdict.clone()));
        Ok(verdict)
    }
}

/// Lets `request` through when it presents an admin key; answers anything else with the
/// gRPC refusal.
pub async fn admins_only(State(keys): State<AdminKeys>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let Some(authorization) = presented else {
        let status = Status::unauthenticated(
            "no API key: the node agent takes admin keys only (authorization: Bearer <key>)",
        );
        return status.into_http();
    };
    match keys.verdict(&authorization).await {
        Ok(Verdict::Admin) => next.run(request).await,
        Ok(Verdict::Refused(code, message)) => Status::new(code, message).into_http(),
        Err(status) => status.into_http(),
    }
}
