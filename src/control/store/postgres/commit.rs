//! One committed group, one transaction: take the commit turn (shared), update the meta row at
//! the revision this replica staged on (no row: another replica moved on), write every record
//! and append the changes, notify the new revision.

use super::conn::Conn;
use super::settle::{Mark, Progress};
use super::{CHANNEL, TURN_LOCK, i64_of, json, pg, u64_of};
use crate::control::store::{Commit, Meta, StoreError};
use crate::domain::Revision;
use std::future::Future;
use std::pin::Pin;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Statement, Transaction};

/// A commit as owned rows, ready to be sent to the store's runtime.
pub(super) struct Rows {
    base: i64,
    meta: Option<(i64, Vec<u8>)>,
    last_audit: i64,
    flags: (Vec<String>, Vec<Vec<u8>>),
    approvals: (Vec<String>, Vec<Vec<u8>>),
    audit: (Vec<i64>, Vec<Option<String>>, Vec<Vec<u8>>),
    idem: (Vec<String>, Vec<i64>, Vec<Vec<u8>>),
    prune_before_ms: Option<i64>,
    tokens: (Vec<String>, Vec<Vec<u8>>),
    evidence_due: (Vec<i64>, Vec<Vec<u8>>),
    evidence_done: Vec<i64>,
    changes: (Vec<i64>, Vec<Vec<u8>>),
    outbox: super::webhooks::Queued,
    hooks_removed: Vec<String>,
}

impl Rows {
    /// The row that tells whether this commit was applied, should its answer be lost.
    pub(super) fn mark(&self) -> Option<Mark> {
        if let (Some(rev), Some(body)) = (self.changes.0.last(), self.changes.1.last()) {
            return Some(Mark::Change(*rev, body.clone()));
        }
        let (hash, body) = (self.tokens.0.last()?, self.tokens.1.last()?);
        Some(Mark::Token(hash.clone(), body.clone()))
    }
}

pub(super) fn rows(c: &Commit<'_>) -> Rows {
    let meta = c.meta.map(|s| {
        let m = Meta::of(s);
        (i64_of(s.revision.0), json(&m))
    });
    Rows {
        base: i64_of(c.base.0),
        meta,
        last_audit: i64_of(
            c.last_audit
                .max(c.audit.iter().map(|e| e.id.0).max().unwrap_or(0)),
        ),
        flags: c.flags.iter().map(|f| (f.key.to_string(), json(f))).unzip(),
        approvals: c
            .approvals
            .iter()
            .map(|a| (a.id.to_string(), json(a)))
            .unzip(),
        audit: {
            let mut out = (Vec::new(), Vec::new(), Vec::new());
            for e in &c.audit {
                out.0.push(i64_of(e.id.0));
                out.1.push(e.flag.as_ref().map(|f| f.to_string()));
                out.2.push(json(e));
            }
            out
        },
        idem: {
            let mut out = (Vec::new(), Vec::new(), Vec::new());
            for (k, r) in &c.idempotency {
                out.0.push(k.to_string());
                out.1.push(r.at.timestamp_millis());
                out.2.push(json(r));
            }
            out
        },
        prune_before_ms: c.prune_idempotency_before.map(|t| t.timestamp_millis()),
        tokens: c
            .tokens
            .iter()
            .map(|(h, r)| (h.to_string(), json(r)))
            .unzip(),
        evidence_due: c
            .evidence_due
            .iter()
            .map(|e| (i64_of(e.follows.0), json(e)))
            .unzip(),
        evidence_done: c.evidence_done.iter().map(|id| i64_of(id.0)).collect(),
        changes: c
            .changes
            .iter()
            .map(|ch| (i64_of(ch.revision.0), json(ch)))
            .unzip(),
        outbox: super::webhooks::queued(&c.outbox),
        hooks_removed: c.hooks_removed.iter().map(|h| h.to_string()).collect(),
    }
}

// The statements of a commit, prepared once per session (see `conn.rs`).
const TURN: &str = "SELECT pg_advisory_xact_lock_shared($1)";
/// The revision check and the meta row's lock in one: no row when another replica moved on.
const META: &str = "UPDATE flagtop_meta SET revision = $1, state = $2, last_audit = greatest(last_audit, $3) \
     WHERE id = 1 AND revision = $4";
const LOCK_META: &str = "SELECT revision FROM flagtop_meta WHERE id = 1 FOR UPDATE";
const REVISION: &str = "SELECT revision FROM flagtop_meta WHERE id = 1";
const FLAGS: &str = "INSERT INTO flagtop_flags (key, body) SELECT * FROM unnest($1::text[], $2::bytea[]) \
     ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body";
const APPROVALS: &str = "INSERT INTO flagtop_approvals (id, body) SELECT * FROM unnest($1::text[], $2::bytea[]) \
     ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body";
const AUDIT: &str = "INSERT INTO flagtop_audit (id, flag, body) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])";
const PRUNE: &str = "DELETE FROM flagtop_idempotency WHERE at_ms < $1";
const IDEM: &str = "INSERT INTO flagtop_idempotency (key, at_ms, body) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) \
     ON CONFLICT (key) DO UPDATE SET at_ms = EXCLUDED.at_ms, body = EXCLUDED.body";
const TOKENS: &str = "INSERT INTO flagtop_tokens (hash, body) SELECT * FROM unnest($1::text[], $2::bytea[]) \
     ON CONFLICT (hash) DO UPDATE SET body = EXCLUDED.body";
const EVIDENCE_DONE: &str = "DELETE FROM flagtop_evidence_due WHERE follows = ANY($1)";
const EVIDENCE_DUE: &str = "INSERT INTO flagtop_evidence_due (follows, body) SELECT * FROM unnest($1::bigint[], $2::bytea[]) \
     ON CONFLICT (follows) DO UPDATE SET body = EXCLUDED.body";
const CHANGES: &str =
    "INSERT INTO flagtop_changes (revision, body) SELECT * FROM unnest($1::bigint[], $2::bytea[])";
const NOTIFY: &str = "SELECT pg_notify($1, $2)";

type Sent<'a> = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;

/// A statement with its parameters, sent when first polled (one shape for every statement:
/// each generic instance of the client's query code costs binary size).
fn exec<'a>(
    t: &'a Transaction<'_>,
    st: &'a Statement,
    params: Vec<&'a (dyn ToSql + Sync)>,
) -> Sent<'a> {
    Box::pin(t.execute_raw(st, params))
}
/// The group as one transaction in four round trips however many tables it touches: `BEGIN`;
/// the turn and the revision check (the meta row's conditional `UPDATE`: no row when another
/// replica moved on — then `ROLLBACK` and `Behind`); every row and the notification in one
/// pipeline; `COMMIT`. (Sending the rows with the check would save one more, but a group that
/// lost would then take row locks the winner's next group may wait for: a deadlock.)
/// How far it got is noted in `progress`, for `settle` should the answer never come.
pub(super) async fn write(c: &mut Conn, r: Rows, progress: &Progress) -> Result<(), StoreError> {
    let [
        turn,
        meta,
        lock_meta,
        revision,
        flags,
        approvals,
        audit,
        prune,
        idem,
        tokens,
        evidence_done,
        evidence_due,
        changes,
        notify,
    ] = c
        .statements([
            TURN,
            META,
            LOCK_META,
            REVISION,
            FLAGS,
            APPROVALS,
            AUDIT,
            PRUNE,
            IDEM,
            TOKENS,
            EVIDENCE_DONE,
            EVIDENCE_DUE,
            CHANGES,
            NOTIFY,
        ])
        .await?;
    let notified = r.changes.0.last().map(|rev| rev.to_string());
    progress.begin(c.session());
    let t = c.transaction().await.map_err(pg)?;
    // The turn first, then the meta row (always in this order: no deadlock with a replica
    // holding the turn while it commits), and the revision the database is at after them.
    let checked = match &r.meta {
        Some((rev, body)) => exec(&t, &meta, vec![rev, body, &r.last_audit, &r.base]),
        None => exec(&t, &lock_meta, vec![]),
    };
    let (turned, checked, db) = futures::join!(
        exec(&t, &turn, vec![&TURN_LOCK]),
        checked,
        t.query_one(&revision, &[])
    );
    turned.map_err(pg)?;
    if checked.map_err(pg)? == 0 && r.meta.is_some() {
        // Another replica committed first: nothing was written (and nothing else is sent, so
        // this transaction takes no row another one could be waiting for).
        let db: i64 = db.map_err(pg)?.try_get(0).map_err(pg)?;
        t.rollback().await.map_err(pg)?;
        return Err(StoreError::Behind {
            db: Revision(u64_of(db)),
            staged: Revision(u64_of(r.base)),
        });
    }
    // The rest in a second pipeline, while this transaction holds the meta row.
    let mut sent: Vec<Sent<'_>> = Vec::with_capacity(12);
    if !r.flags.0.is_empty() {
        sent.push(exec(&t, &flags, vec![&r.flags.0, &r.flags.1]));
    }
    if !r.approvals.0.is_empty() {
        sent.push(exec(&t, &approvals, vec![&r.approvals.0, &r.approvals.1]));
    }
    if !r.audit.0.is_empty() {
        sent.push(exec(&t, &audit, vec![&r.audit.0, &r.audit.1, &r.audit.2]));
    }
    if let Some(before) = &r.prune_before_ms {
        sent.push(exec(&t, &prune, vec![before]));
    }
    if !r.idem.0.is_empty() {
        sent.push(exec(&t, &idem, vec![&r.idem.0, &r.idem.1, &r.idem.2]));
    }
    if !r.tokens.0.is_empty() {
        sent.push(exec(&t, &tokens, vec![&r.tokens.0, &r.tokens.1]));
    }
    if !r.evidence_done.is_empty() {
        sent.push(exec(&t, &evidence_done, vec![&r.evidence_done]));
    }
    if !r.evidence_due.0.is_empty() {
        sent.push(exec(
            &t,
            &evidence_due,
            vec![&r.evidence_due.0, &r.evidence_due.1],
        ));
    }
    if !r.changes.0.is_empty() {
        sent.push(exec(&t, &changes, vec![&r.changes.0, &r.changes.1]));
    }
    if let Some(rev) = &notified {
        sent.push(exec(&t, &notify, vec![&CHANNEL, rev]));
    }
    let done = futures::future::join_all(sent).await;
    // The first failure is the cause (the statements after it only say the transaction was
    // aborted); the transaction rolls back when dropped.
    if let Some(e) = done.into_iter().find_map(Result::err) {
        return Err(pg(e));
    }
    // Webhooks (rare: only a group that touches a hook): after the pipeline, same transaction.
    super::webhooks::forget(&t, &r.hooks_removed).await?;
    super::webhooks::queue(&t, &r.outbox).await?;
    progress.committing();
    t.commit().await.map_err(pg)
}
