//! The HTTP API (axum): routes, bearer auth, JSON errors; the event stream is in `stream`.
//! Handlers only translate; all rules live in the service.

use super::service::{Caller, ControlPlane, ServiceError};
use crate::domain::{Actor, Environment, Flag, Role};
use crate::wire::{
    ActionRequest, ApprovalList, AuditPage, DecisionRequest, ErrorBody, ErrorDetail, MetricAck, MetricBatch,
    ProposalRequest, TokenCreated, TokenRequest,
};
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use std::sync::Arc;

mod stream;

/// Largest request body accepted.
pub const MAX_BODY: usize = 256 * 1024;
/// Most samples in one `POST /v1/metrics`.
pub const MAX_SAMPLES: usize = 5_000;

pub struct ApiError(ServiceError);

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail { code: e.code.to_string(), message: e.message, current_revision: e.current_revision },
        };
        (status, Json(body)).into_response()
    }
}

fn err(status: u16, code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError(ServiceError::new(status, code, msg))
}

fn body<T>(r: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    match r {
        Ok(Json(v)) => Ok(v),
        Err(JsonRejection::BytesRejection(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(err(413, "body_too_large", format!("request bodies are limited to {MAX_BODY} bytes")))
        }
        Err(JsonRejection::MissingJsonContentType(_)) => {
            Err(err(415, "unsupported_media_type", "send the body as JSON with `Content-Type: application/json`"))
        }
        Err(JsonRejection::JsonSyntaxError(e)) => Err(err(400, "invalid_json", format!("the body is not valid JSON: {}", e.body_text()))),
        Err(JsonRejection::JsonDataError(e)) => Err(err(422, "invalid_request", e.body_text())),
        Err(e) => Err(err(400, "invalid_request", e.body_text())),
    }
}

/// Bearer-token authentication for every route but `/healthz`.
async fn authenticate(State(cp): State<Arc<ControlPlane>>, mut req: Request, next: Next) -> Response {
    if req.uri().query().is_some_and(|q| q.split('&').any(|kv| kv.starts_with("token=") || kv.starts_with("access_token="))) {
        return err(400, "token_in_url", "tokens never go in a URL (they end up in logs); send `Authorization: Bearer <token>`")
            .into_response();
    }
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return err(401, "unauthenticated", "send `Authorization: Bearer <token>`; mint one with `flagtop token add NAME --role ROLE`")
            .into_response();
    };
    let cp2 = cp.clone();
    let token = token.to_string();
    let actor = tokio::task::spawn_blocking(move || cp2.authenticate(&token)).await.ok().flatten();
    match actor {
        Some(actor) => {
            req.extensions_mut().insert(actor);
            next.run(req).await
        }
        None => err(401, "unauthenticated", "the token is not valid (revoked, mistyped, or for another control plane)").into_response(),
    }
}

fn caller(actor: Actor, headers: &HeaderMap, default_source: &str) -> Caller {
    let source = headers
        .get("x-flagtop-source")
        .and_then(|v| v.to_str().ok())
        .filter(|s| matches!(*s, "tui" | "cli" | "api" | "mcp"))
        .unwrap_or(if actor.role == Role::Agent { "agent" } else { default_source })
        .to_string();
    Caller { actor, source }
}

/// Run blocking service work (it fsyncs) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| err(500, "internal", format!("the request failed inside the server: {e}")))?
        .map_err(ApiError)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn whoami(Extension(actor): Extension<Actor>) -> Json<Actor> {
    Json(actor)
}

async fn snapshot(State(cp): State<Arc<ControlPlane>>, Extension(actor): Extension<Actor>) -> Response {
    let snap = tokio::task::spawn_blocking(move || cp.snapshot(&actor)).await;
    match snap {
        Ok(s) => Json(s).into_response(),
        Err(e) => err(500, "internal", e.to_string()).into_response(),
    }
}

async fn act(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    req: Result<Json<ActionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = body(req)?;
    let key = headers.get("idempotency-key").map(|v| v.to_str().map(str::to_string));
    let key = match key {
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => return Err(err(422, "invalid_idempotency_key", "the Idempotency-Key header must be visible ASCII")),
        None => None,
    };
    let caller = caller(actor, &headers, "api");
    let outcome = blocking(move || cp.submit(&caller, &req, key.as_deref())).await?;
    let status = match outcome.outcome {
        crate::wire::OutcomeKind::Requested => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(outcome)).into_response())
}

async fn propose(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    req: Result<Json<ProposalRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = body(req)?;
    let caller = caller(actor, &headers, "api");
    let outcome = blocking(move || cp.propose(&caller, req)).await?;
    Ok((StatusCode::ACCEPTED, Json(outcome)).into_response())
}

async fn approvals(State(cp): State<Arc<ControlPlane>>) -> Json<ApprovalList> {
    let mut approvals = cp.approvals();
    approvals.sort_by_key(|a| std::cmp::Reverse(a.created_at));
    Json(ApprovalList { approvals })
}

async fn decide(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Result<Json<DecisionRequest>, JsonRejection>,
) -> Result<Json<crate::wire::Outcome>, ApiError> {
    let Path((id, verb)) = path.map_err(|e| err(404, "not_found", e.body_text()))?;
    let req = body(req)?;
    let caller = caller(actor, &headers, "api");
    let outcome = match verb.as_str() {
        "approve" => blocking(move || cp.approve(&caller, &id, &req.reason)).await?,
        "reject" => blocking(move || cp.reject(&caller, &id, &req.reason)).await?,
        _ => return Err(err(404, "not_found", "use /v1/approvals/{id}/approve or /v1/approvals/{id}/reject")),
    };
    Ok(Json(outcome))
}

#[derive(Deserialize)]
struct AuditQuery {
    flag: Option<String>,
    before: Option<u64>,
    limit: Option<usize>,
}

async fn audit(State(cp): State<Arc<ControlPlane>>, q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>) -> Result<Json<AuditPage>, ApiError> {
    let Query(q) = q.map_err(|e| err(400, "invalid_query", e.body_text()))?;
    let events = blocking(move || cp.audit(q.flag.as_deref(), q.before, q.limit.unwrap_or(100))).await?;
    Ok(Json(AuditPage { events }))
}

async fn metrics(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    req: Result<Json<MetricBatch>, JsonRejection>,
) -> Result<Json<MetricAck>, ApiError> {
    if actor.role == Role::Viewer {
        return Err(err(403, "forbidden", "viewers cannot push metrics"));
    }
    let req = body(req)?;
    if req.samples.len() > MAX_SAMPLES {
        return Err(err(413, "too_many_samples", format!("at most {MAX_SAMPLES} samples per request")));
    }
    let accepted = blocking(move || cp.push_samples(&req.samples)).await?;
    Ok(Json(MetricAck { accepted }))
}

async fn list_flags(State(cp): State<Arc<ControlPlane>>) -> Json<Vec<Arc<Flag>>> {
    Json(cp.state().flags.into_values().collect())
}

async fn get_flag(State(cp): State<Arc<ControlPlane>>, Path(key): Path<String>) -> Result<Json<Arc<Flag>>, ApiError> {
    cp.state().flags.remove(key.as_str()).map(Json).ok_or_else(|| err(404, "unknown_flag", format!("unknown flag `{key}`")))
}

async fn put_flag(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Path(key): Path<String>,
    req: Result<Json<Flag>, JsonRejection>,
) -> Result<Json<crate::wire::DefineOutcome>, ApiError> {
    let flag = body(req)?;
    if flag.key.as_str() != key {
        return Err(err(422, "key_mismatch", format!("the body defines `{}` but the path says `{key}`", flag.key)));
    }
    let caller = caller(actor, &headers, "api");
    Ok(Json(blocking(move || cp.define_flag(&caller, flag)).await?))
}

async fn put_env(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Path(key): Path<String>,
    req: Result<Json<Environment>, JsonRejection>,
) -> Result<Json<crate::wire::DefineOutcome>, ApiError> {
    let env = body(req)?;
    if env.key.as_str() != key {
        return Err(err(422, "key_mismatch", format!("the body defines `{}` but the path says `{key}`", env.key)));
    }
    let caller = caller(actor, &headers, "api");
    Ok(Json(blocking(move || cp.define_environment(&caller, env)).await?))
}

async fn add_token(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    req: Result<Json<TokenRequest>, JsonRejection>,
) -> Result<Json<TokenCreated>, ApiError> {
    if actor.role != Role::Admin {
        return Err(err(403, "forbidden", "only admins mint tokens"));
    }
    let req = body(req)?;
    let (name, role) = (req.name.clone(), req.role);
    let token = blocking(move || cp.add_token(&name, role)).await?;
    Ok(Json(TokenCreated { name: req.name, role: req.role, token }))
}

async fn not_found() -> ApiError {
    err(404, "not_found", "no such endpoint; see docs/api.md")
}

/// The whole API.
pub fn router(cp: Arc<ControlPlane>) -> Router {
    let authed = Router::new()
        .route("/v1/whoami", get(whoami))
        .route("/v1/snapshot", get(snapshot))
        .route("/v1/stream", get(stream::stream))
        .route("/v1/actions", post(act))
        .route("/v1/proposals", post(propose))
        .route("/v1/approvals", get(approvals))
        .route("/v1/approvals/{id}/{verb}", post(decide))
        .route("/v1/audit", get(audit))
        .route("/v1/metrics", post(metrics))
        .route("/v1/flags", get(list_flags))
        .route("/v1/flags/{key}", get(get_flag).put(put_flag))
        .route("/v1/environments/{key}", put(put_env))
        .route("/v1/tokens", post(add_token))
        .route_layer(middleware::from_fn_with_state(cp.clone(), authenticate));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(super::exposition::serve))
        .merge(authed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(cp)
}
