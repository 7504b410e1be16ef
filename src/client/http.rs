//! HTTP requests to a control plane (reqwest, rustls): snapshot, actions, approvals, audit,
//! definitions. Every request has timeouts; errors keep the server's code and sentence. With
//! several replicas (`--backend A,B`) a request that loses its connection moves to the next one
//! (`send.rs` says when it is resent there).

use super::clean::Clean;
use super::failover::Backends;
use super::transport::Transport;
use crate::domain::{Actor, Environment, Flag};
use crate::wire::{
    ActionRequest, ApprovalList, AuditPage, DecisionRequest, DefineOutcome, MetricAck, MetricBatch,
    Outcome, ProposalRequest, Snapshot, TokenCreated, TokenRequest,
};
use reqwest::Method;
use send::Resend;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

mod error;
mod send;

pub use error::ClientError;
use error::inert;

#[derive(Clone)]
pub struct Client {
    /// The replicas and the one in use (shared by clones).
    backends: Backends,
    token: String,
    http: reqwest::Client,
    /// Sent as `X-Flagtop-Source` (tui, cli, api).
    source: &'static str,
    /// How long one request may take (`FLAGTOP_HTTP_TIMEOUT_SECS`, default 15 s).
    timeout: Duration,
}

/// A duration in seconds from an environment variable, or the default.
pub fn secs_from_env(var: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(var)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|s| *s > 0)
            .unwrap_or(default),
    )
}

impl Client {
    /// One control plane. Needs the process's TLS set-up (`app::init_tls`, done once at start).
    pub fn new(base: &str, token: &str, source: &'static str) -> Result<Client, ClientError> {
        Client::replicas(&[base], token, source)
    }

    /// As `new`, over `transport` (the owner's Unix socket for the plane on this data dir).
    pub fn with_transport(
        base: &str,
        token: &str,
        source: &'static str,
        transport: Transport,
    ) -> Result<Client, ClientError> {
        Client::build(&[base], token, source, transport)
    }

    /// Replicas of one control plane (one database), tried in order: requests and the stream
    /// move to the next on connection loss.
    pub fn replicas<S: AsRef<str>>(
        bases: &[S],
        token: &str,
        source: &'static str,
    ) -> Result<Client, ClientError> {
        Client::build(bases, token, source, Transport::Tcp)
    }

    fn build<S: AsRef<str>>(
        bases: &[S],
        token: &str,
        source: &'static str,
        transport: Transport,
    ) -> Result<Client, ClientError> {
        let backends = Backends::new(bases).map_err(ClientError::Protocol)?;
        let timeout = secs_from_env("FLAGTOP_HTTP_TIMEOUT_SECS", 15);
        // No client-wide read timeout: every request has its own total timeout, and the stream
        // has its idle timeout (a read timeout re-armed on every chunk would keep waking the
        // runtime while events flow).
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("flagtop/", env!("CARGO_PKG_VERSION")));
        // A private CA for a team server with its own certificate (FLAGTOP_CA_CERT=ca.pem).
        if let Ok(path) = std::env::var("FLAGTOP_CA_CERT") {
            let pem = std::fs::read(&path).map_err(|e| {
                ClientError::Protocol(format!("cannot read FLAGTOP_CA_CERT {path}: {e}"))
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                ClientError::Protocol(format!(
                    "FLAGTOP_CA_CERT {path} is not a PEM certificate: {e}"
                ))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        if let Transport::Unix(path) = transport {
            builder = builder.unix_socket(path);
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            backends,
            token: token.to_string(),
            http,
            source,
            timeout,
        })
    }

    /// The replica in use now.
    pub fn base(&self) -> &str {
        self.backends.current().1
    }

    /// Every replica and the one in use.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// A request to the replica at `base`, with the token and the source.
    pub(crate) fn request_to(
        &self,
        base: &str,
        method: Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&self.token)
            .header("x-flagtop-source", self.source)
    }

    pub(crate) fn map_send_error(base: &str, e: reqwest::Error) -> ClientError {
        let url = base.to_string();
        if e.is_timeout() {
            ClientError::Timeout { url }
        } else if e.is_connect() {
            ClientError::Unreachable {
                url,
                detail: inert(root_cause(&e)),
            }
        } else {
            ClientError::Interrupted {
                url,
                detail: inert(root_cause(&e)),
            }
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(Method::GET, path, Resend::Always, |rb| rb).await
    }

    /// A write without an idempotency key: moved to another replica only if it never left.
    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(Method::POST, path, Resend::IfUnsent, |rb| rb.json(body))
            .await
    }

    pub async fn healthz(&self) -> Result<(), ClientError> {
        let base = self.base();
        let resp = self
            .http
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .map_err(|e| Client::map_send_error(base, e))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(ClientError::Protocol(format!(
                "healthz answered {}",
                resp.status()
            )))
        }
    }

    /// Whether the server at this address holds `key` (its endpoint file's per-start key):
    /// asked with a fresh nonce and no token, so a squatter learns nothing.
    pub async fn proves(&self, key: &str) -> bool {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let resp = self
            .http
            .get(format!("{}/v1/hello?nonce={nonce}", self.base()))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        let Ok(resp) = resp else { return false };
        if !resp.status().is_success() {
            return false;
        }
        let body: serde_json::Value = match resp.json().await {
            Ok(b) => b,
            Err(_) => return false,
        };
        body["proof"]
            .as_str()
            .is_some_and(|p| crate::wire::verify_endpoint_proof(key, &nonce, p))
    }

    pub async fn whoami(&self) -> Result<Actor, ClientError> {
        self.get("/v1/whoami").await
    }

    /// The whole state, exactly as the server sent it (for programs: `status --json`).
    pub async fn snapshot(&self) -> Result<Snapshot, ClientError> {
        self.get("/v1/snapshot").await
    }

    /// The whole state for a screen: every string neutralised.
    pub async fn snapshot_clean(&self) -> Result<Clean<Snapshot>, ClientError> {
        self.snapshot().await.map(Clean::new)
    }

    /// Submit an action; `idempotency_key` makes retries safe (the same key returns the first
    /// outcome). When the connection is lost after sending, the same request with the same key
    /// goes to the next replica: it answers with the recorded outcome if the first one committed
    /// it (`replayed`), never applies it twice, and applies it otherwise.
    pub async fn act(
        &self,
        req: &ActionRequest,
        idempotency_key: &str,
    ) -> Result<Outcome, ClientError> {
        self.send(Method::POST, "/v1/actions", Resend::Always, |rb| {
            rb.header("idempotency-key", idempotency_key).json(req)
        })
        .await
    }

    pub async fn propose(&self, req: &ProposalRequest) -> Result<Outcome, ClientError> {
        self.post("/v1/proposals", req).await
    }

    pub async fn approvals(&self) -> Result<ApprovalList, ClientError> {
        self.get("/v1/approvals").await
    }

    pub async fn decide(
        &self,
        id: &str,
        approve: bool,
        reason: &str,
    ) -> Result<Outcome, ClientError> {
        let verb = if approve { "approve" } else { "reject" };
        let id: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        self.post(
            &format!("/v1/approvals/{id}/{verb}"),
            &DecisionRequest {
                reason: reason.to_string(),
            },
        )
        .await
    }

    /// Withdraw the caller's own pending request (`POST /v1/approvals/{id}/withdraw`).
    pub async fn withdraw(&self, id: &str, reason: &str) -> Result<Outcome, ClientError> {
        let id: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        self.post(
            &format!("/v1/approvals/{id}/withdraw"),
            &DecisionRequest {
                reason: reason.to_string(),
            },
        )
        .await
    }

    pub async fn audit(&self, flag: Option<&str>, limit: usize) -> Result<AuditPage, ClientError> {
        let mut path = format!("/v1/audit?limit={limit}");
        if let Some(f) = flag {
            // Flag keys are restricted to URL-safe characters; drop anything else.
            path.push_str(&format!("&flag={}", url_key(f)));
        }
        self.get(&path).await
    }

    /// A page of the audit trail: events older than `before` (an audit id), newest first.
    pub async fn audit_page(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<AuditPage, ClientError> {
        let mut path = format!("/v1/audit?limit={limit}");
        if let Some(b) = before {
            path.push_str(&format!("&before={b}"));
        }
        if let Some(f) = flag {
            path.push_str(&format!("&flag={}", url_key(f)));
        }
        self.get(&path).await
    }

    /// One audit event by id (None when there is no such event).
    pub async fn audit_event(
        &self,
        id: u64,
    ) -> Result<Option<crate::domain::AuditEvent>, ClientError> {
        let page: AuditPage = self
            .get(&format!(
                "/v1/audit?limit=1&before={}",
                id.saturating_add(1)
            ))
            .await?;
        Ok(page.events.into_iter().find(|e| e.id.0 == id))
    }

    /// A definition: moved to another replica only if it never left (each one is audited).
    pub async fn put_flag(&self, flag: &Flag) -> Result<DefineOutcome, ClientError> {
        let path = format!("/v1/flags/{}", url_key(&flag.key));
        self.send(Method::PUT, &path, Resend::IfUnsent, |rb| rb.json(flag))
            .await
    }

    pub async fn put_environment(&self, env: &Environment) -> Result<DefineOutcome, ClientError> {
        let path = format!("/v1/environments/{}", url_key(&env.key));
        self.send(Method::PUT, &path, Resend::IfUnsent, |rb| rb.json(env))
            .await
    }

    pub async fn put_webhook(
        &self,
        hook: &crate::domain::Webhook,
    ) -> Result<DefineOutcome, ClientError> {
        let path = format!("/v1/webhooks/{}", url_key(&hook.name));
        self.send(Method::PUT, &path, Resend::IfUnsent, |rb| rb.json(hook))
            .await
    }

    pub async fn delete_webhook(&self, name: &str) -> Result<DefineOutcome, ClientError> {
        let path = format!("/v1/webhooks/{}", url_key(name));
        self.send(Method::DELETE, &path, Resend::IfUnsent, |rb| rb)
            .await
    }

    pub async fn webhook_log(
        &self,
        hook: Option<&str>,
        limit: usize,
    ) -> Result<crate::wire::webhook::DeliveryLog, ClientError> {
        let mut path = format!("/v1/webhooks/log?limit={limit}");
        if let Some(h) = hook {
            path.push_str(&format!("&hook={}", url_key(h)));
        }
        self.get(&path).await
    }

    pub async fn push_metrics(&self, batch: &MetricBatch) -> Result<MetricAck, ClientError> {
        self.post("/v1/metrics", batch).await
    }

    pub async fn add_token(&self, req: &TokenRequest) -> Result<TokenCreated, ClientError> {
        self.post("/v1/tokens", req).await
    }
}

/// A key as it may appear in a URL: keys are restricted to URL-safe characters; anything else
/// is dropped.
fn url_key(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A fresh idempotency key.
pub fn idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}
