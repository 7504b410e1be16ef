//! The team store's schema: embedded, versioned migrations, applied under an advisory lock so
//! replicas starting together do not race; a database newer than this binary is refused.

use super::{MIGRATION_LOCK, pg};
use crate::control::store::StoreError;
use tokio_postgres::Client;

/// The schema, one step per version; a database at a newer version than this list is refused.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE flagtop_meta (id int PRIMARY KEY CHECK (id = 1), revision bigint NOT NULL, \
       last_audit bigint NOT NULL, epoch text NOT NULL, state bytea);
     CREATE TABLE flagtop_flags (key text PRIMARY KEY, body bytea NOT NULL);
     CREATE TABLE flagtop_approvals (id text PRIMARY KEY, body bytea NOT NULL);
     CREATE TABLE flagtop_audit (id bigint PRIMARY KEY, flag text, body bytea NOT NULL);
     CREATE INDEX flagtop_audit_flag ON flagtop_audit (flag, id);
     CREATE TABLE flagtop_idempotency (key text PRIMARY KEY, at_ms bigint NOT NULL, body bytea NOT NULL);
     CREATE INDEX flagtop_idempotency_at ON flagtop_idempotency (at_ms);
     CREATE TABLE flagtop_tokens (hash text PRIMARY KEY, body bytea NOT NULL);
     CREATE TABLE flagtop_evidence_due (follows bigint PRIMARY KEY, body bytea NOT NULL);
     CREATE TABLE flagtop_changes (revision bigint PRIMARY KEY, body bytea NOT NULL);",
    ),
    (
        2,
        "CREATE TABLE flagtop_outbox (key text PRIMARY KEY, hook text NOT NULL, body bytea NOT NULL);
     CREATE INDEX flagtop_outbox_hook ON flagtop_outbox (hook, key);
     CREATE TABLE flagtop_webhook_log (seq bigserial PRIMARY KEY, hook text NOT NULL, body bytea NOT NULL);
     CREATE INDEX flagtop_webhook_log_hook ON flagtop_webhook_log (hook, seq);
     CREATE TABLE flagtop_webhook_health (hook text PRIMARY KEY, dropped bigint NOT NULL DEFAULT 0, \
       delivered bigint NOT NULL DEFAULT 0, failing boolean NOT NULL DEFAULT false, last bytea);",
    ),
];

pub(super) async fn migrate(c: &mut Client) -> Result<String, StoreError> {
    let t = c.transaction().await.map_err(pg)?;
    t.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg)?;
    t.batch_execute("CREATE TABLE IF NOT EXISTS flagtop_schema (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        .await
        .map_err(pg)?;
    let row = t
        .query_one("SELECT coalesce(max(version), 0) FROM flagtop_schema", &[])
        .await
        .map_err(pg)?;
    let at: i32 = row.try_get(0).map_err(pg)?;
    let newest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if at > newest {
        return Err(StoreError::Sql(format!(
            "the database's schema is at version {at}, newer than this flagtop knows ({newest}); upgrade flagtop"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > at) {
        t.batch_execute(sql).await.map_err(pg)?;
        t.execute(
            "INSERT INTO flagtop_schema (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(pg)?;
        tracing::info!(version, "PostgreSQL schema migrated");
    }
    let fresh = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    t.execute(
        "INSERT INTO flagtop_meta (id, revision, last_audit, epoch, state) VALUES (1, 0, 0, $1, NULL) ON CONFLICT (id) DO NOTHING",
        &[&fresh],
    )
    .await
    .map_err(pg)?;
    let row = t
        .query_one("SELECT epoch FROM flagtop_meta WHERE id = 1", &[])
        .await
        .map_err(pg)?;
    let epoch: String = row.try_get(0).map_err(pg)?;
    t.commit().await.map_err(pg)?;
    Ok(epoch)
}
