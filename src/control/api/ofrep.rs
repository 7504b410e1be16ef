//! OpenFeature Remote Evaluation Protocol (OFREP 0.3.0): applications evaluate flagtop's flags
//! with `sdk` tokens, through the domain's own evaluation (sticky bucketing), so what the
//! screen shows is what applications get. Counts what was served (`control::exposure`).
//! Reads state only; never changes it.

mod context;
mod events;

pub use context::{
    MAX_ATTRIBUTE_BYTES, MAX_CONTEXT_DEPTH, MAX_CONTEXT_KEYS, MAX_SEGMENTS, MAX_TARGETING_KEY,
};

use super::limits::{Class, Limits};
use super::{ApiError, TokenScope};
use crate::control::exposure::Served;
use crate::control::policy::{self, Op};
use crate::control::service::ControlPlane;
use crate::domain::eval::{User, evaluate};
use crate::domain::reason::reason;
use crate::domain::{Actor, EnvKey, Flag, FlagKind, State as FlagState};
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

/// Flags in one bulk answer at most (sorted by key); beyond, the answer says it was cut
/// (`metadata.truncated`) and the rest are evaluated one by one.
pub const MAX_BULK_FLAGS: usize = 5_000;
/// The header that picks one of an `sdk` token's environments (needed when it has several).
pub const ENV_HEADER: &str = "x-flagtop-env";
/// What the bulk answer tells clients about closing an idle event stream.
const INACTIVITY_DELAY_SECS: u64 = 120;

/// The environments an `sdk` token was minted for (set by the auth middleware).
#[derive(Clone, Default)]
pub(crate) struct TokenEnvs(pub(crate) Vec<EnvKey>);

/// An OFREP failure body: `{key?, errorCode, errorDetails}`; `{errorDetails}` without a code.
fn failure(
    status: StatusCode,
    key: Option<&str>,
    code: Option<&str>,
    details: &str,
) -> Box<Response> {
    let mut body = serde_json::Map::new();
    if let Some(k) = key {
        body.insert("key".into(), Value::String(crate::sanitize::clean(k, 200)));
    }
    if let Some(c) = code {
        body.insert("errorCode".into(), Value::String(c.into()));
    }
    body.insert("errorDetails".into(), Value::String(details.into()));
    Box::new((status, Json(Value::Object(body))).into_response())
}

/// Who asks: what the auth middleware found (the token's actor, scope and environments) and
/// the API's bounds.
pub(super) struct Asker {
    actor: Actor,
    scope: TokenScope,
    envs: TokenEnvs,
    limits: Arc<Limits>,
}

impl<S: Send + Sync> FromRequestParts<S> for Asker {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let x = &parts.extensions;
        let unauthenticated = || {
            *failure(
                StatusCode::UNAUTHORIZED,
                None,
                None,
                "send `Authorization: Bearer <sdk token>` or `X-API-Key`",
            )
        };
        Ok(Asker {
            actor: x.get::<Actor>().cloned().ok_or_else(unauthenticated)?,
            scope: x.get::<TokenScope>().cloned().ok_or_else(unauthenticated)?,
            envs: x.get::<TokenEnvs>().cloned().unwrap_or_default(),
            limits: x
                .get::<Arc<Limits>>()
                .cloned()
                .ok_or_else(unauthenticated)?,
        })
    }
}

/// Authorise (403 before anything else), rate-limit (429 + Retry-After) and pick the
/// environment the request evaluates in.
fn admit(asker: &Asker, headers: &HeaderMap) -> Result<EnvKey, Box<Response>> {
    let (actor, envs) = (&asker.actor, &asker.envs);
    policy::may(actor.kind, actor.role, Op::Evaluate)
        .map_err(|why| failure(StatusCode::FORBIDDEN, None, None, why))?;
    asker
        .limits
        .check(Class::Evaluate, &asker.scope.0)
        .map_err(|t| Box::new(ApiError::from(t).into_response()))?;
    let asked = headers
        .get(ENV_HEADER)
        .map(|v| v.to_str().unwrap_or_default().to_string());
    match (asked, envs.0.as_slice()) {
        (None, [only]) => Ok(only.clone()),
        (None, _) => Err(failure(
            StatusCode::BAD_REQUEST,
            None,
            Some("GENERAL"),
            "this token evaluates in several environments: name one with the X-Flagtop-Env header",
        )),
        (Some(e), mine) if mine.iter().any(|m| m.as_str() == e) => Ok(EnvKey::from(e.as_str())),
        (Some(_), _) => Err(failure(
            StatusCode::FORBIDDEN,
            None,
            None,
            "this token may not evaluate in that environment",
        )),
    }
}

/// One flag's OFREP result for `user` in `env`, and what was served (for exposure). None when
/// the flag is not defined in that environment.
fn evaluate_flag<'a>(flag: &'a Flag, env: &'a str, user: &User) -> Option<(Value, Served<'a>)> {
    let fe = flag.env(env)?;
    let e = evaluate(flag.key.as_str(), fe, user);
    let value = match flag.kind {
        FlagKind::Boolean => Value::Bool(e.variation == "on"),
        FlagKind::Multivariate => Value::String(e.variation.to_string()),
    };
    let mut metadata = serde_json::Map::new();
    metadata.insert("environment".into(), json!(env));
    metadata.insert("revision".into(), json!(flag.revision.0));
    if let Some(c) = e.cohort {
        metadata.insert("cohort".into(), json!(c));
    }
    let body = json!({
        "key": flag.key.as_str(),
        "value": value,
        "variant": e.variation,
        "reason": reason(fe, &e).as_str(),
        "metadata": metadata,
    });
    Some((
        body,
        Served {
            flag: flag.key.as_str(),
            env,
            cohort: e.cohort,
            variation: e.variation,
            exposed: e.exposed,
        },
    ))
}

/// `POST /ofrep/v1/evaluate/flags/{key}`.
async fn evaluate_one(
    State(cp): State<Arc<ControlPlane>>,
    asker: Asker,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let env = match admit(&asker, &headers) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let user = match context::parse(&body) {
        Ok((u, _)) => u,
        Err(b) => {
            return *failure(
                StatusCode::BAD_REQUEST,
                Some(&key),
                Some(b.code),
                &b.details,
            );
        }
    };
    let now = cp.clock.now();
    let served = cp.read_state(|s| {
        let flag = s.flags.get(key.as_str())?;
        let (body, served) = evaluate_flag(flag, env.as_str(), &user)?;
        cp.exposure.record(now, [served]);
        Some(body)
    });
    match served {
        Some(body) => (StatusCode::OK, Json(body)).into_response(),
        None => *failure(
            StatusCode::NOT_FOUND,
            Some(&key),
            Some("FLAG_NOT_FOUND"),
            "no flag with this key in the token's environment",
        ),
    }
}

/// What every result in `env` depends on besides the context: the data dir, the newest flag
/// revision and the number of flags. Changes exactly when a flag changes (or one is added).
fn config_version(s: &FlagState, epoch: &str, env: &str) -> String {
    let newest = s.flags.values().map(|f| f.revision.0).max().unwrap_or(0);
    let hash = crate::control::auth::hash(&format!("{epoch}|{env}|{newest}|{}", s.flags.len()));
    hash[..32].to_string()
}

/// The bulk ETag: the configuration's version and the context (results depend on both).
fn bulk_etag(config: &str, context: &Value) -> String {
    let hash = crate::control::auth::hash(&format!("{config}|{context}"));
    format!("\"{}\"", &hash[..32])
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|t| {
                t.trim() == etag || t.trim().trim_start_matches("W/") == etag || t.trim() == "*"
            })
        })
}

/// `POST /ofrep/v1/evaluate/flags`: every flag of the environment, with an ETag (304 when the
/// client's `If-None-Match` still holds) and the event stream to watch for changes.
async fn evaluate_bulk(
    State(cp): State<Arc<ControlPlane>>,
    asker: Asker,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let env = match admit(&asker, &headers) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let (user, context) = match context::parse(&body) {
        Ok(p) => p,
        Err(b) => return *failure(StatusCode::BAD_REQUEST, None, Some(b.code), &b.details),
    };
    let now = cp.clock.now();
    let epoch = cp.epoch().to_string();
    let answer = cp.read_state(|s| {
        let etag = bulk_etag(&config_version(s, &epoch, &env), &context);
        if matches_etag(&headers, &etag) {
            return (etag, None);
        }
        let mut flags = Vec::new();
        let mut served = Vec::new();
        let mut truncated = false;
        for flag in s.flags.values() {
            if flags.len() >= MAX_BULK_FLAGS {
                truncated = true;
                break;
            }
            if let Some((body, s)) = evaluate_flag(flag, env.as_str(), &user) {
                flags.push(body);
                served.push(s);
            }
        }
        cp.exposure.record(now, served);
        let mut metadata = json!({ "environment": env.as_str(), "revision": s.revision.0 });
        if truncated {
            metadata["truncated"] = json!(true);
        }
        let body = json!({
            "flags": flags,
            "metadata": metadata,
            "eventStreams": [{ "type": "sse", "endpoint": { "requestUri": events::PATH }, "inactivityDelaySec": INACTIVITY_DELAY_SECS }],
        });
        (etag, Some(body))
    });
    let (etag, body) = answer;
    let mut r = match body {
        None => StatusCode::NOT_MODIFIED.into_response(),
        Some(b) => (StatusCode::OK, Json(b)).into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// The OFREP routes (authenticated by the caller's middleware).
pub(super) fn routes() -> Router<Arc<ControlPlane>> {
    Router::new()
        .route("/ofrep/v1/evaluate/flags/{key}", post(evaluate_one))
        .route("/ofrep/v1/evaluate/flags", post(evaluate_bulk))
        .route(events::PATH, get(events::events))
}
