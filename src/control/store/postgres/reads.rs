//! The team store's reads: the whole state at start, the changes other replicas committed
//! after a revision (catching up), in repeatable-read snapshots. Must not write.

use super::conn::Conn;
use super::{CATCH_UP_LIMIT, corrupt, i64_of, pg, u64_of};
use crate::control::store::{CatchUp, Loaded, Meta, StoreError};
use crate::domain::{Revision, State};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_postgres::Client;

pub(super) fn bodies<T: serde::de::DeserializeOwned>(
    rows: &[tokio_postgres::Row],
    table: &'static str,
) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(|row| {
            let b: Vec<u8> = row.try_get(0).map_err(pg)?;
            serde_json::from_slice(&b).map_err(corrupt(table))
        })
        .collect()
}

/// The meta row: revision, audit counter and the stored state (None before the first commit).
pub(super) async fn meta(
    t: &tokio_postgres::Transaction<'_>,
) -> Result<(u64, u64, Option<Meta>), StoreError> {
    meta_of(&t.query_one(META, &[]).await.map_err(pg)?)
}

fn meta_of(row: &tokio_postgres::Row) -> Result<(u64, u64, Option<Meta>), StoreError> {
    let (rev, last): (i64, i64) = (row.try_get(0).map_err(pg)?, row.try_get(1).map_err(pg)?);
    let state: Option<Vec<u8>> = row.try_get(2).map_err(pg)?;
    let m = state
        .map(|b| serde_json::from_slice::<Meta>(&b).map_err(corrupt("meta")))
        .transpose()?;
    Ok((u64_of(rev), u64_of(last), m))
}

pub(super) async fn snapshot_txn(
    c: &mut Client,
) -> Result<tokio_postgres::Transaction<'_>, StoreError> {
    c.build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg)
}

pub(super) async fn load(c: &mut Client) -> Result<Loaded, StoreError> {
    let t = snapshot_txn(c).await?;
    let (_, last_audit, m) = meta(&t).await?;
    let initialised = m.is_some();
    let m = m.unwrap_or_default();
    let flags: Vec<crate::domain::Flag> = bodies(
        &t.query("SELECT body FROM flagtop_flags ORDER BY key", &[])
            .await
            .map_err(pg)?,
        "flags",
    )?;
    let approvals = bodies(
        &t.query("SELECT body FROM flagtop_approvals ORDER BY id", &[])
            .await
            .map_err(pg)?,
        "approvals",
    )?;
    let evidence_due = bodies(
        &t.query(
            "SELECT body FROM flagtop_evidence_due ORDER BY follows",
            &[],
        )
        .await
        .map_err(pg)?,
        "evidence_due",
    )?;
    t.commit().await.map_err(pg)?;
    Ok(Loaded {
        state: State {
            revision: m.revision,
            environments: m.environments,
            frozen: m.frozen,
            env_revisions: m.env_revisions,
            webhooks: m.webhooks,
            flags: flags
                .into_iter()
                .map(|f| (f.key.clone(), Arc::new(f)))
                .collect::<BTreeMap<_, _>>(),
        },
        approvals,
        last_audit,
        evidence_due,
        initialised,
    })
}

const META: &str = "SELECT revision, last_audit, state FROM flagtop_meta WHERE id = 1";
const CHANGES_AFTER: &str =
    "SELECT body FROM flagtop_changes WHERE revision > $1 ORDER BY revision LIMIT $2";
const EVIDENCE_DUE: &str = "SELECT body FROM flagtop_evidence_due ORDER BY follows";

/// What was committed after `revision`: the meta row, the changes and the evidence checks read
/// in one repeatable-read snapshot, the three queries in one pipeline (see `conn.rs`).
pub(super) async fn since(c: &mut Conn, revision: i64) -> Result<Option<CatchUp>, StoreError> {
    let [meta_st, changes_st, evidence_st] =
        c.statements([META, CHANGES_AFTER, EVIDENCE_DUE]).await?;
    let t = snapshot_txn(c).await?;
    let after: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&revision, &CATCH_UP_LIMIT];
    let (m, rows, evidence) = futures::join!(
        t.query_one(&meta_st, &[]),
        t.query(&changes_st, &after),
        t.query(&evidence_st, &[]),
    );
    let (rev, last_audit, m) = meta_of(&m.map_err(pg)?)?;
    if i64_of(rev) <= revision {
        return Ok(None);
    }
    let changes: Vec<crate::wire::Change> = bodies(&rows.map_err(pg)?, "changes")?;
    let evidence_due = bodies(&evidence.map_err(pg)?, "evidence_due")?;
    t.commit().await.map_err(pg)?;
    let m = m.unwrap_or_default();
    let complete = changes.last().is_some_and(|ch| ch.revision.0 == rev);
    Ok(Some(CatchUp {
        // A partial read (more than CATCH_UP_LIMIT behind) leaves the revision at the last
        // change read, so the next catch-up reads on from there.
        state: State {
            revision: if complete {
                m.revision
            } else {
                changes
                    .last()
                    .map(|c| c.revision)
                    .unwrap_or(Revision(u64_of(revision)))
            },
            environments: m.environments,
            frozen: m.frozen,
            env_revisions: m.env_revisions,
            webhooks: m.webhooks,
            flags: BTreeMap::new(),
        },
        changes,
        last_audit,
        evidence_due,
    }))
}
