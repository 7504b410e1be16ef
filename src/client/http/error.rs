//! What can go wrong talking to a control plane: the server's refusal with its code and
//! sentence (made inert), a connection that never got through, a lost answer, a protocol error.

use crate::domain::Revision;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        status: u16,
        code: String,
        message: String,
        current_revision: Option<Revision>,
    },
    #[error("cannot reach the control plane at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the control plane at {url} did not answer in time")]
    Timeout { url: String },
    /// The connection broke after the request was sent: its outcome is unknown.
    #[error("the connection to the control plane at {url} broke: {detail}")]
    Interrupted { url: String, detail: String },
    #[error("unexpected answer from the control plane: {0}")]
    Protocol(String),
}

/// Error text from the other side (a server's message, a decoder's complaint about its bytes),
/// neutralised where it enters: `ClientError` prints only inert text.
pub(super) fn inert(s: String) -> String {
    crate::sanitize::sanitize(&s).into_owned()
}

impl ClientError {
    pub fn code(&self) -> &str {
        match self {
            ClientError::Api { code, .. } => code,
            ClientError::Unreachable { .. } => "unreachable",
            ClientError::Timeout { .. } => "timeout",
            ClientError::Interrupted { .. } => "interrupted",
            ClientError::Protocol(_) => "protocol",
        }
    }
    /// Whether nothing could have been applied (safe to retry without a key).
    pub fn is_connect(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. })
    }
    /// The replica is gone or silent (no connection, a reset, no answer in time) — not an
    /// answer: another replica may do better. An HTTP error answer is never this.
    pub fn is_connection_loss(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. }
                | ClientError::Timeout { .. }
                | ClientError::Interrupted { .. }
        )
    }
}
