//! What became of a commit that got no answer (the connection broke, or the call's deadline
//! passed). Before `COMMIT` was sent nothing can have been applied; after, it may have been.
//! Either way the session it ran on is ended first — on a half-open link the server still
//! holds its transaction, with the meta row and the commit turn every other replica waits for —
//! and once that session is gone its transaction is settled, so the commit's own last row
//! (its last change, or the token it wrote) says whether it was applied. When the database
//! cannot be asked, the answer is `Unsure`: never "nothing changed".

use super::conn::{Reader, Session};
use super::{PgStore, pg};
use crate::control::store::StoreError;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// How long the server is given to end a cut session (its `COMMIT` may be finishing).
const END_WAIT_MS: i64 = 3_000;

/// How far a commit got, noted as it goes (read once it was cut off).
#[derive(Default)]
pub(super) struct Progress {
    began: Mutex<Option<Session>>,
    commit_sent: AtomicBool,
}

impl Progress {
    /// The transaction is about to begin on `session`.
    pub(super) fn begin(&self, session: &Session) {
        *self.began.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.clone());
    }

    /// `COMMIT` is about to be sent (from here on it may be applied without an answer).
    pub(super) fn committing(&self) {
        self.commit_sent.store(true, Ordering::SeqCst);
    }

    fn session(&self) -> Option<Session> {
        self.began.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A row only this commit writes, as it wrote it: its last change, or else a token it made.
pub(super) enum Mark {
    Change(i64, Vec<u8>),
    Token(String, Vec<u8>),
}

enum Found {
    Applied,
    NotApplied,
    Unknown,
}

impl PgStore {
    /// The commit cut off with `why`: `Ok` when it was applied after all, `Unavailable` when
    /// nothing was, `Unsure` when that cannot be found out.
    pub(super) fn settle(
        &self,
        progress: &Progress,
        mark: Option<Mark>,
        why: String,
    ) -> Result<(), StoreError> {
        let Some(session) = progress.session() else {
            return Err(StoreError::Unavailable(why));
        };
        let sent = progress.commit_sent.load(Ordering::SeqCst);
        let found = self
            .reader()
            .and_then(|rd| self.run(async move { find(&rd, session, sent, mark).await }));
        match found {
            Ok(Found::Applied) => {
                tracing::warn!(cause = %why, "a commit without an answer was applied");
                Ok(())
            }
            Ok(Found::NotApplied) => Err(StoreError::Unavailable(why)),
            Ok(Found::Unknown) | Err(_) if sent => Err(StoreError::Unsure(why)),
            Ok(Found::Unknown) | Err(_) => Err(StoreError::Unavailable(why)),
        }
    }
}

async fn find(
    rd: &Reader,
    session: Session,
    sent: bool,
    mark: Option<Mark>,
) -> Result<Found, StoreError> {
    // No row: the session is gone already. `false`: still there after the wait.
    let ended = rd
        .query(
            "SELECT pg_terminate_backend(pid, $3) FROM pg_stat_activity \
             WHERE pid = $1 AND backend_start::text = $2",
            &[&session.pid, &session.started, &END_WAIT_MS],
        )
        .await
        .map_err(pg)?;
    let gone = match ended.first() {
        None => true,
        Some(row) => row.try_get::<_, bool>(0).map_err(pg)?,
    };
    if !sent {
        // Never committed: nothing was applied (the session was ended to free its locks).
        return Ok(Found::NotApplied);
    }
    let Some(mark) = mark.filter(|_| gone) else {
        return Ok(Found::Unknown);
    };
    let (row, body) = match mark {
        Mark::Change(rev, body) => (
            rd.query_opt(
                "SELECT body FROM flagtop_changes WHERE revision = $1",
                &[&rev],
            )
            .await,
            body,
        ),
        Mark::Token(hash, body) => (
            rd.query_opt("SELECT body FROM flagtop_tokens WHERE hash = $1", &[&hash])
                .await,
            body,
        ),
    };
    let stored: Option<Vec<u8>> = row
        .map_err(pg)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg)?;
    Ok(if stored.as_deref() == Some(&body[..]) {
        Found::Applied
    } else {
        Found::NotApplied
    })
}
