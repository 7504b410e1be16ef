//! The HTTP API (axum): routes, bearer auth, JSON errors; the event stream is in `stream`.
//! Handlers only translate; all rules live in the service.

use super::policy::{self, Op};
use super::service::{Caller, ControlPlane, ErrorKind, ServiceError};
use crate::domain::{Actor, Environment, Flag, Role};
use crate::wire::{
    ActionRequest, AuditPage, ErrorBody, ErrorDetail, MetricAck, MetricBatch, TokenCreated,
    TokenRequest,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

mod gate;
pub mod limits;
pub mod ofrep;
mod requests;
mod stream;
mod webhooks;

use gate::{TokenScope, allowed, authenticate, blocking, body, bounded_body, caller};

use limits::{Class, Limits};

/// Largest request body accepted.
pub const MAX_BODY: usize = 256 * 1024;
/// A request body must arrive whole within this (at least `MAX_BODY` / 10 s ≈ 26 KB/s).
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Most samples in one `POST /v1/metrics`.
pub const MAX_SAMPLES: usize = 5_000;

/// A refusal as the API sends it; `retry_after` (seconds) for the bounds that lift by themselves.
pub struct ApiError(ServiceError, Option<u64>);

/// How soon to retry a write refused `store_busy` (other replicas kept committing first).
pub const STORE_BUSY_RETRY_SECS: u64 = 1;

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let retry_after =
            (e.code == crate::control::error::STORE_BUSY).then_some(STORE_BUSY_RETRY_SECS);
        ApiError(e, retry_after)
    }
}

/// The one place a kind of refusal becomes an HTTP status.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::TooMany => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::OutcomeUnknown => StatusCode::BAD_GATEWAY,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError(e, retry_after) = self;
        let body = ErrorBody {
            error: ErrorDetail {
                code: e.code.to_string(),
                message: e.message,
                current_revision: e.current_revision,
            },
        };
        let mut r = (status_of(e.kind), Json(body)).into_response();
        if let Some(v) =
            retry_after.and_then(|s| axum::http::HeaderValue::from_str(&s.to_string()).ok())
        {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        r
    }
}

fn err(kind: ErrorKind, code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError(ServiceError::new(kind, code, msg), None)
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// The per-start key of this control plane's endpoint file (None for a server that has none).
#[derive(Clone, Default)]
pub struct EndpointKey(pub Option<Arc<String>>);

#[derive(Deserialize)]
struct HelloQuery {
    nonce: String,
}

/// `GET /v1/hello?nonce=N` (no token): proves this server holds its endpoint file's key, so a
/// client checks whom it talks to before it sends a token.
async fn hello(
    Extension(key): Extension<EndpointKey>,
    q: Result<Query<HelloQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q.map_err(|e| err(ErrorKind::BadRequest, "invalid_query", e.body_text()))?;
    if q.nonce.len() < 16
        || q.nonce.len() > 128
        || !q.nonce.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(err(
            ErrorKind::BadRequest,
            "invalid_nonce",
            "the nonce is 16–128 letters and digits",
        ));
    }
    let proof = key
        .0
        .as_deref()
        .map(|k| crate::wire::endpoint_proof(k, &q.nonce));
    Ok(Json(serde_json::json!({ "proof": proof })))
}

async fn whoami(Extension(actor): Extension<Actor>) -> Json<Actor> {
    Json(actor)
}

async fn snapshot(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
) -> Response {
    let snap = tokio::task::spawn_blocking(move || cp.snapshot(&actor)).await;
    match snap {
        Ok(s) => Json(s).into_response(),
        Err(e) => err(ErrorKind::Internal, "internal", e.to_string()).into_response(),
    }
}

async fn act(
    State(cp): State<Arc<ControlPlane>>,
    Extension(limits): Extension<Arc<Limits>>,
    Extension(actor): Extension<Actor>,
    Extension(scope): Extension<TokenScope>,
    headers: HeaderMap,
    req: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    allowed(&actor, Op::Act)?;
    limits.check(Class::Write, &scope.0)?;
    let req: ActionRequest = body(&headers, req)?;
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string));
    let key = match key {
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => {
            return Err(err(
                ErrorKind::Invalid,
                "invalid_idempotency_key",
                "the Idempotency-Key header must be visible ASCII",
            ));
        }
        None => None,
    };
    let caller = caller(actor, &scope, &headers, "api");
    let outcome = blocking(move || cp.submit(&caller, &req, key.as_deref())).await?;
    let status = match outcome.outcome {
        crate::wire::OutcomeKind::Requested => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(outcome)).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    flag: Option<String>,
    before: Option<u64>,
    limit: Option<usize>,
}

async fn audit(
    State(cp): State<Arc<ControlPlane>>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(q) = q.map_err(|e| err(ErrorKind::BadRequest, "invalid_query", e.body_text()))?;
    let (events, searched_back_to) =
        blocking(move || cp.audit_page(q.flag.as_deref(), q.before, q.limit.unwrap_or(100)))
            .await?;
    Ok(Json(AuditPage {
        events,
        searched_back_to,
    }))
}

async fn metrics(
    State(cp): State<Arc<ControlPlane>>,
    Extension(limits): Extension<Arc<Limits>>,
    Extension(actor): Extension<Actor>,
    Extension(scope): Extension<TokenScope>,
    headers: HeaderMap,
    req: Result<Bytes, BytesRejection>,
) -> Result<Json<MetricAck>, ApiError> {
    allowed(&actor, Op::PushMetrics)?;
    limits.check(Class::Metrics, &scope.0)?;
    let req: MetricBatch = body(&headers, req)?;
    if req.samples.len() > MAX_SAMPLES {
        return Err(err(
            ErrorKind::TooLarge,
            "too_many_samples",
            format!("at most {MAX_SAMPLES} samples per request"),
        ));
    }
    let accepted = blocking(move || cp.push_samples(&req.samples)).await?;
    Ok(Json(MetricAck { accepted }))
}

async fn list_flags(State(cp): State<Arc<ControlPlane>>) -> Json<Vec<Arc<Flag>>> {
    Json(cp.state().flags.into_values().collect())
}

async fn get_flag(
    State(cp): State<Arc<ControlPlane>>,
    Path(key): Path<String>,
) -> Result<Json<Arc<Flag>>, ApiError> {
    cp.state()
        .flags
        .remove(key.as_str())
        .map(Json)
        .ok_or_else(|| {
            err(
                ErrorKind::NotFound,
                "unknown_flag",
                format!("unknown flag `{key}`"),
            )
        })
}

async fn put_flag(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    Extension(scope): Extension<TokenScope>,
    headers: HeaderMap,
    Path(key): Path<String>,
    req: Result<Bytes, BytesRejection>,
) -> Result<Json<crate::wire::DefineOutcome>, ApiError> {
    allowed(&actor, Op::Define)?;
    let flag: Flag = body(&headers, req)?;
    if flag.key.as_str() != key {
        return Err(err(
            ErrorKind::Invalid,
            "key_mismatch",
            format!("the body defines `{}` but the path says `{key}`", flag.key),
        ));
    }
    let caller = caller(actor, &scope, &headers, "api");
    Ok(Json(blocking(move || cp.define_flag(&caller, flag)).await?))
}

async fn put_env(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    Extension(scope): Extension<TokenScope>,
    headers: HeaderMap,
    Path(key): Path<String>,
    req: Result<Bytes, BytesRejection>,
) -> Result<Json<crate::wire::DefineOutcome>, ApiError> {
    allowed(&actor, Op::Define)?;
    let env: Environment = body(&headers, req)?;
    if env.key.as_str() != key {
        return Err(err(
            ErrorKind::Invalid,
            "key_mismatch",
            format!("the body defines `{}` but the path says `{key}`", env.key),
        ));
    }
    let caller = caller(actor, &scope, &headers, "api");
    Ok(Json(
        blocking(move || cp.define_environment(&caller, env)).await?,
    ))
}

async fn add_token(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    Extension(scope): Extension<TokenScope>,
    headers: HeaderMap,
    req: Result<Bytes, BytesRejection>,
) -> Result<Json<TokenCreated>, ApiError> {
    allowed(&actor, Op::MintToken)?;
    let req: TokenRequest = body(&headers, req)?;
    let caller = caller(actor, &scope, &headers, "api");
    let (name, role, envs) = (req.name.clone(), req.role, req.environments.clone());
    let token = blocking(move || cp.add_token_for(&caller, &name, role, envs)).await?;
    Ok(Json(TokenCreated {
        name: req.name,
        role: req.role,
        environments: req.environments,
        token,
    }))
}

async fn not_found() -> ApiError {
    err(
        ErrorKind::NotFound,
        "not_found",
        "no such endpoint; see docs/api.md",
    )
}

/// The whole API, with fresh bounds.
pub fn router(cp: Arc<ControlPlane>) -> Router {
    let (_, closing) = tokio::sync::watch::channel(false);
    let extras = Extras {
        limits: Arc::new(Limits::default()),
        closing,
        key: EndpointKey::default(),
        exposed: Default::default(),
    };
    router_with(cp, extras)
}

/// What the API needs besides the control plane: its bounds, the shutdown signal for streams,
/// the endpoint file's key, and the simulator's exposition.
pub struct Extras {
    pub limits: Arc<Limits>,
    pub closing: tokio::sync::watch::Receiver<bool>,
    pub key: EndpointKey,
    pub exposed: super::exposition::Exposed,
}

/// The whole API, with these bounds (shared with whoever watches them); streams end when
/// `closing` turns true.
pub fn router_with(cp: Arc<ControlPlane>, extras: Extras) -> Router {
    let Extras {
        limits,
        closing,
        key,
        exposed,
    } = extras;
    let authed = Router::new()
        .route("/v1/whoami", get(whoami))
        .route("/v1/snapshot", get(snapshot))
        .route("/v1/stream", get(stream::stream))
        .route("/v1/actions", post(act))
        .route("/v1/proposals", post(requests::propose))
        .route("/v1/approvals", get(requests::approvals))
        .route("/v1/approvals/{id}/{verb}", post(requests::decide))
        .route("/v1/audit", get(audit))
        .route("/v1/metrics", post(metrics))
        .route("/v1/flags", get(list_flags))
        .route("/v1/flags/{key}", get(get_flag).put(put_flag))
        .route("/v1/environments/{key}", put(put_env))
        .route("/v1/tokens", post(add_token))
        .route("/v1/webhooks", get(webhooks::list))
        .route("/v1/webhooks/log", get(webhooks::log))
        .route(
            "/v1/webhooks/{name}",
            put(webhooks::put).delete(webhooks::remove),
        )
        .merge(ofrep::routes())
        .route_layer(middleware::from_fn_with_state(cp.clone(), authenticate));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/hello", get(hello))
        .route("/metrics", get(super::exposition::serve))
        .merge(authed)
        .fallback(not_found)
        .layer(Extension(limits))
        .layer(Extension(key))
        .layer(Extension(exposed))
        .layer(Extension(stream::Closing(closing)))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(bounded_body))
        .with_state(cp)
}

#[cfg(test)]
mod tests;
