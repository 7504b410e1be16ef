//! One committed group, one transaction: take the commit turn (shared), lock the meta row, check the revision this replica
//! staged on, write every record and append the changes, notify the new revision.

use super::{CHANNEL, TURN_LOCK, i64_of, json, pg, u64_of};
use crate::control::store::{Commit, Meta, StoreError};
use crate::domain::Revision;
use tokio_postgres::Client;

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

pub(super) async fn write(c: &mut Client, r: Rows) -> Result<(), StoreError> {
    let t = c.transaction().await.map_err(pg)?;
    // The turn first, then the meta row (always in this order: no deadlock with a replica
    // holding the turn while it commits).
    t.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&TURN_LOCK])
        .await
        .map_err(pg)?;
    let row = t
        .query_one(
            "SELECT revision FROM flagtop_meta WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await
        .map_err(pg)?;
    let db: i64 = row.try_get(0).map_err(pg)?;
    if let Some((revision, meta)) = &r.meta {
        if db != r.base {
            return Err(StoreError::Behind {
                db: Revision(u64_of(db)),
                staged: Revision(u64_of(r.base)),
            });
        }
        t.execute(
            "UPDATE flagtop_meta SET revision = $1, state = $2, last_audit = greatest(last_audit, $3) WHERE id = 1",
            &[revision, meta, &r.last_audit],
        )
        .await
        .map_err(pg)?;
    }
    let upsert = |table: &str, key: &str| {
        format!(
            "INSERT INTO {table} ({key}, body) SELECT * FROM unnest($1::text[], $2::bytea[]) \
             ON CONFLICT ({key}) DO UPDATE SET body = EXCLUDED.body"
        )
    };
    if !r.flags.0.is_empty() {
        t.execute(&upsert("flagtop_flags", "key"), &[&r.flags.0, &r.flags.1])
            .await
            .map_err(pg)?;
    }
    if !r.approvals.0.is_empty() {
        t.execute(
            &upsert("flagtop_approvals", "id"),
            &[&r.approvals.0, &r.approvals.1],
        )
        .await
        .map_err(pg)?;
    }
    if !r.audit.0.is_empty() {
        t.execute(
            "INSERT INTO flagtop_audit (id, flag, body) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])",
            &[&r.audit.0, &r.audit.1, &r.audit.2],
        )
        .await
        .map_err(pg)?;
    }
    if let Some(before) = r.prune_before_ms {
        t.execute(
            "DELETE FROM flagtop_idempotency WHERE at_ms < $1",
            &[&before],
        )
        .await
        .map_err(pg)?;
    }
    if !r.idem.0.is_empty() {
        t.execute(
            "INSERT INTO flagtop_idempotency (key, at_ms, body) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) \
             ON CONFLICT (key) DO UPDATE SET at_ms = EXCLUDED.at_ms, body = EXCLUDED.body",
            &[&r.idem.0, &r.idem.1, &r.idem.2],
        )
        .await
        .map_err(pg)?;
    }
    if !r.tokens.0.is_empty() {
        t.execute(
            &upsert("flagtop_tokens", "hash"),
            &[&r.tokens.0, &r.tokens.1],
        )
        .await
        .map_err(pg)?;
    }
    if !r.evidence_done.is_empty() {
        t.execute(
            "DELETE FROM flagtop_evidence_due WHERE follows = ANY($1)",
            &[&r.evidence_done],
        )
        .await
        .map_err(pg)?;
    }
    if !r.evidence_due.0.is_empty() {
        t.execute(
            "INSERT INTO flagtop_evidence_due (follows, body) SELECT * FROM unnest($1::bigint[], $2::bytea[]) \
             ON CONFLICT (follows) DO UPDATE SET body = EXCLUDED.body",
            &[&r.evidence_due.0, &r.evidence_due.1],
        )
        .await
        .map_err(pg)?;
    }
    super::webhooks::forget(&t, &r.hooks_removed).await?;
    super::webhooks::queue(&t, &r.outbox).await?;
    if !r.changes.0.is_empty() {
        t.execute(
            "INSERT INTO flagtop_changes (revision, body) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
            &[&r.changes.0, &r.changes.1],
        )
        .await
        .map_err(pg)?;
        if let Some(rev) = r.changes.0.last() {
            t.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &rev.to_string()])
                .await
                .map_err(pg)?;
        }
    }
    t.commit().await.map_err(pg)
}
