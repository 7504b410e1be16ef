//! Owns sending one request and reading its answer, on the replica in use, and moving to the
//! next replica when the connection is lost: always when the request never left (connect
//! error), and after it left only when the next replica answers it the same way (a read, or
//! an action with its idempotency key). An HTTP error answer is an answer: it never moves.

use super::{Client, ClientError, inert};
use crate::wire::ErrorBody;
use reqwest::Method;
use serde::de::DeserializeOwned;

/// What a request that lost its connection may do on the next replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resend {
    /// A read, or an action with its idempotency key (the next replica answers a key it has
    /// recorded with the first outcome: applied once, never reported as "nothing changed").
    Always,
    /// A write without a key: resent only when it never reached a replica. After it left, the
    /// error (outcome unknown) goes to the caller; later requests use the next replica.
    IfUnsent,
}

impl Client {
    /// `method path` on the replica in use, `with` adding headers and body; moved on as
    /// `resend` allows, each replica tried at most once.
    pub(super) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        resend: Resend,
        with: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let replicas = self.backends.len();
        let mut unreachable = Vec::new();
        let mut tried = 0;
        loop {
            let (at, base) = self.backends.current();
            tried += 1;
            let rb = with(self.request_to(base, method.clone(), path));
            let e = match self.send_once(base, rb).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !e.is_connection_loss() || replicas < 2 {
                return Err(e);
            }
            let next = self.backends.move_on_from(at);
            tracing::warn!(from = %base, to = %self.backends.url(next), error = %e, "control plane replica lost; moving to the next");
            let unsent = e.is_connect();
            if unsent {
                unreachable.push(base.to_string());
            }
            if tried >= replicas || !(unsent || resend == Resend::Always) {
                return Err(match e {
                    // None of them could be reached: say so about all of them.
                    ClientError::Unreachable { detail, .. } if unreachable.len() == replicas => {
                        ClientError::Unreachable {
                            url: unreachable.join(", "),
                            detail,
                        }
                    }
                    e => e,
                });
            }
        }
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        base: &str,
        rb: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let resp = rb
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| Client::map_send_error(base, e))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Client::map_send_error(base, e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Protocol(inert(format!("{e} in a {status} answer"))));
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(b) => Err(ClientError::Api {
                status: status.as_u16(),
                code: inert(b.error.code),
                message: inert(b.error.message),
                current_revision: b.error.current_revision,
            }),
            Err(_) => Err(ClientError::Protocol(format!(
                "HTTP {status} with a body that is not a flagtop error ({} bytes)",
                bytes.len()
            ))),
        }
    }
}
