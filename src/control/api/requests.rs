//! The approval-request routes: `POST /v1/proposals`, `GET /v1/approvals` and
//! `POST /v1/approvals/{id}/approve|reject|withdraw`. Handlers only translate; the service
//! decides who may (withdraw: the requester only).

use super::gate::{TokenScope, allowed, blocking, body, caller};
use super::limits::{Class, Limits};
use super::{ApiError, err};
use crate::control::policy::Op;
use crate::control::service::{ControlPlane, ErrorKind};
use crate::domain::Actor;
use crate::wire::{ApprovalList, DecisionRequest, ProposalRequest};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Approve,
    Reject,
    Withdraw,
}

pub(super) async fn propose(
    State(cp): State<Arc<ControlPlane>>,
    Extension(limits): Extension<Arc<Limits>>,
    Extension(actor): Extension<Actor>,
    Extension(scope): Extension<TokenScope>,
    headers: HeaderMap,
    req: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    allowed(&actor, Op::Propose)?;
    limits.check(Class::Proposal, &scope.0)?;
    let req: ProposalRequest = body(&headers, req)?;
    let caller = caller(actor, &scope, &headers, "api");
    let outcome = blocking(move || cp.propose(&caller, req)).await?;
    Ok((StatusCode::ACCEPTED, Json(outcome)).into_response())
}

pub(super) async fn approvals(State(cp): State<Arc<ControlPlane>>) -> Json<ApprovalList> {
    let mut approvals = cp.approvals();
    approvals.sort_by_key(|a| std::cmp::Reverse(a.created_at));
    Json(ApprovalList { approvals })
}

pub(super) async fn decide(
    State(cp): State<Arc<ControlPlane>>,
    Extension(limits): Extension<Arc<Limits>>,
    Extension(actor): Extension<Actor>,
    Extension(scope): Extension<TokenScope>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Result<Bytes, BytesRejection>,
) -> Result<Json<crate::wire::Outcome>, ApiError> {
    let Path((id, verb)) =
        path.map_err(|e| err(ErrorKind::NotFound, "not_found", e.body_text()))?;
    let verb = match verb.as_str() {
        "approve" => Verb::Approve,
        "reject" => Verb::Reject,
        "withdraw" => Verb::Withdraw,
        _ => {
            return Err(err(
                ErrorKind::NotFound,
                "not_found",
                "use /v1/approvals/{id}/approve, /reject or /withdraw",
            ));
        }
    };
    allowed(
        &actor,
        if verb == Verb::Approve {
            Op::Approve
        } else {
            Op::Reject
        },
    )?;
    limits.check(Class::Write, &scope.0)?;
    let req: DecisionRequest = body(&headers, req)?;
    let caller = caller(actor, &scope, &headers, "api");
    let outcome = blocking(move || match verb {
        Verb::Approve => cp.approve(&caller, &id, &req.reason),
        Verb::Reject => cp.reject(&caller, &id, &req.reason),
        Verb::Withdraw => cp.withdraw(&caller, &id, &req.reason),
    })
    .await?;
    Ok(Json(outcome))
}
