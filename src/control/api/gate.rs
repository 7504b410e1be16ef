//! The gate in front of every handler: the whole body read within its time and size, strict
//! JSON (unknown fields refused by name), bearer-token authentication, the typed caller, and
//! authorisation before anything else about a request is looked at.

use super::*;

/// A request body, strictly: JSON by content type, within the size limit, and every field
/// known — an unknown field anywhere in it is refused, naming it (`422 unknown_field`).
pub(super) fn body<T: DeserializeOwned>(
    headers: &HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(err(
                ErrorKind::TooLarge,
                "body_too_large",
                format!("request bodies are limited to {MAX_BODY} bytes"),
            ));
        }
        Err(e) => return Err(err(ErrorKind::BadRequest, "invalid_request", e.body_text())),
    };
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            let t = t.trim().to_ascii_lowercase();
            t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
        });
    if !json {
        return Err(err(
            ErrorKind::UnsupportedMedia,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ));
    }
    let mut unknown: Option<String> = None;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let parsed: Result<T, _> = serde_ignored::deserialize(&mut de, |path| {
        unknown.get_or_insert_with(|| path.to_string());
    });
    let value = parsed
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => err(
                ErrorKind::BadRequest,
                "invalid_json",
                format!("the body is not valid JSON: {e}"),
            ),
            serde_json::error::Category::Data if e.to_string().starts_with("unknown field") => err(
                ErrorKind::Invalid,
                "unknown_field",
                format!("{e}; remove it (a misspelled field is never silently dropped)"),
            ),
            serde_json::error::Category::Data => {
                err(ErrorKind::Invalid, "invalid_request", e.to_string())
            }
        })?;
    if let Some(path) = unknown {
        return Err(err(
            ErrorKind::Invalid,
            "unknown_field",
            format!(
                "unknown field `{path}`; remove it (a misspelled field is never silently dropped)"
            ),
        ));
    }
    Ok(value)
}

/// A refusal sent before the body was read to its end: the rest of the body is still on its
/// way, so the connection cannot carry another request. `Connection: close` says so — without
/// it hyper may answer as keep-alive and close a moment later, and a client that reuses the
/// connection loses its next request (`IncompleteMessage`; seen in CI).
fn unread(e: ApiError) -> Response {
    let mut r = e.into_response();
    r.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    r
}

/// Read the whole request body within `BODY_READ_TIMEOUT` and `MAX_BODY`, before anything else:
/// a body trickled in slowly or announced larger than allowed holds nothing open.
pub(super) async fn bounded_body(req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY as u64) {
        return unread(err(
            ErrorKind::TooLarge,
            "body_too_large",
            format!("request bodies are limited to {MAX_BODY} bytes"),
        ));
    }
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await;
    let bytes = match read {
        Err(_) => {
            return unread(err(
                ErrorKind::Timeout,
                "body_too_slow",
                format!(
                    "the request body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                ),
            ));
        }
        Ok(Err(_)) => {
            return unread(err(
                ErrorKind::TooLarge,
                "body_too_large",
                format!("request bodies are limited to {MAX_BODY} bytes"),
            ));
        }
        Ok(Ok(b)) => b,
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Which token a request came with (a short hash): idempotency keys, rate limits and stream
/// caps are scoped to it.
#[derive(Clone)]
pub(crate) struct TokenScope(pub(crate) String);

/// Bearer-token authentication for every route but `/healthz`.
pub(super) async fn authenticate(
    State(cp): State<Arc<ControlPlane>>,
    mut req: Request,
    next: Next,
) -> Response {
    if req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|kv| kv.starts_with("token=") || kv.starts_with("access_token="))
    }) {
        return err(
            ErrorKind::BadRequest,
            "token_in_url",
            "tokens never go in a URL (they end up in logs); send `Authorization: Bearer <token>`",
        )
        .into_response();
    }
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        // `X-API-Key` too: OpenFeature's OFREP clients send either.
        .or_else(|| req.headers().get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return err(
            ErrorKind::Unauthenticated,
            "unauthenticated",
            "send `Authorization: Bearer <token>`; mint one with `flagtop token add NAME --role ROLE`",
        )
        .into_response();
    };
    let cp2 = cp.clone();
    let token = token.to_string();
    let scope = crate::control::auth::hash(&token)[..16].to_string();
    let actor = tokio::task::spawn_blocking(move || cp2.authenticate_scoped(&token))
        .await
        .ok()
        .flatten();
    match actor {
        Some((actor, envs)) => {
            // Everything outside OFREP reads (or acts): an `sdk` token is refused here, first.
            if !req.uri().path().starts_with("/ofrep/")
                && let Err(why) = policy::may(actor.kind, actor.role, Op::Read)
            {
                return ApiError(ServiceError::forbidden(why), None).into_response();
            }
            req.extensions_mut().insert(actor);
            req.extensions_mut().insert(TokenScope(scope));
            req.extensions_mut().insert(ofrep::TokenEnvs(envs));
            next.run(req).await
        }
        None => err(
            ErrorKind::Unauthenticated,
            "unauthenticated",
            "the token is not valid (revoked, mistyped, disabled, or for another control plane)",
        )
        .into_response(),
    }
}

/// The typed caller of a request: always a person or an agent (a token cannot be anything else).
pub(super) fn caller(
    actor: Actor,
    scope: &TokenScope,
    headers: &HeaderMap,
    default_source: &str,
) -> Caller {
    let source = headers
        .get("x-flagtop-source")
        .and_then(|v| v.to_str().ok())
        .filter(|s| matches!(*s, "tui" | "cli" | "api" | "mcp"))
        .unwrap_or(if actor.role == Role::Agent {
            "agent"
        } else {
            default_source
        })
        .to_string();
    Caller::token(actor, source, scope.0.clone())
}

/// Authorise first: a caller that may not make this request at all gets 403 before anything
/// about the request (its body, its target) is looked at.
pub(super) fn allowed(actor: &Actor, op: Op) -> Result<(), ApiError> {
    policy::may(actor.kind, actor.role, op)
        .map_err(|why| ApiError(ServiceError::forbidden(why), None))
}

/// Run blocking service work (it fsyncs) off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| {
            err(
                ErrorKind::Internal,
                "internal",
                format!("the request failed inside the server: {e}"),
            )
        })?
        .map_err(ApiError::from)
}
