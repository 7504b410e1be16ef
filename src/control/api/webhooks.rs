//! The webhook routes: `PUT`/`DELETE /v1/webhooks/{name}` (define, remove: admin),
//! `GET /v1/webhooks/log` (attempts and health), `GET /v1/webhooks` (the definitions as they
//! may be shown: no secret, no URL path). Handlers only translate.

use super::gate::{TokenScope, allowed, blocking, body, caller};
use super::{ApiError, err};
use crate::control::policy::Op;
use crate::control::service::webhooks::shown;
use crate::control::service::{ControlPlane, ErrorKind};
use crate::domain::{Actor, Webhook};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use std::sync::Arc;

pub(super) async fn put(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    Extension(scope): Extension<TokenScope>,
    headers: HeaderMap,
    Path(name): Path<String>,
    req: Result<Bytes, BytesRejection>,
) -> Result<Json<crate::wire::DefineOutcome>, ApiError> {
    allowed(&actor, Op::Define)?;
    let hook: Webhook = body(&headers, req)?;
    if hook.name != name {
        return Err(err(
            ErrorKind::Invalid,
            "key_mismatch",
            format!(
                "the body defines `{}` but the path says `{name}`",
                crate::sanitize::clean(&hook.name, 100)
            ),
        ));
    }
    let caller = caller(actor, &scope, &headers, "api");
    Ok(Json(
        blocking(move || cp.define_webhook(&caller, hook)).await?,
    ))
}

pub(super) async fn remove(
    State(cp): State<Arc<ControlPlane>>,
    Extension(actor): Extension<Actor>,
    Extension(scope): Extension<TokenScope>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<crate::wire::DefineOutcome>, ApiError> {
    allowed(&actor, Op::Define)?;
    let caller = caller(actor, &scope, &headers, "api");
    Ok(Json(
        blocking(move || cp.remove_webhook(&caller, &name)).await?,
    ))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LogQuery {
    hook: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn log(
    State(cp): State<Arc<ControlPlane>>,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Json<crate::wire::webhook::DeliveryLog>, ApiError> {
    let Query(q) = q.map_err(|e| err(ErrorKind::BadRequest, "invalid_query", e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    Ok(Json(
        blocking(move || cp.webhook_log(q.hook.as_deref(), limit)).await?,
    ))
}

pub(super) async fn list(State(cp): State<Arc<ControlPlane>>) -> Json<serde_json::Value> {
    let hooks: Vec<serde_json::Value> = cp.webhooks().iter().map(shown).collect();
    Json(serde_json::json!({ "webhooks": hooks }))
}
