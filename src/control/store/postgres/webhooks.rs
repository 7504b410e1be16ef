//! The team store's webhook tables: the outbox (queued in the commit's own transaction,
//! capped per hook), the delivery log (bounded) and each hook's health. Only the replica that
//! runs the engine delivers (see `control::webhooks`). Persistence only.

use super::{PgStore, corrupt, json, pg};
use crate::control::store::{MAX_DELIVERY_LOG, MAX_QUEUED_PER_HOOK, StoreError};
use crate::wire::webhook::{Delivery, HookHealth, OutboxRow};
use tokio_postgres::Transaction;

/// The outbox rows of one commit: keys, hooks, bodies.
pub(super) type Queued = (Vec<String>, Vec<String>, Vec<Vec<u8>>);

pub(super) fn queued(rows: &[&OutboxRow]) -> Queued {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        out.0.push(r.key());
        out.1.push(r.hook.clone());
        out.2.push(json(r));
    }
    out
}

/// Inside the commit's transaction: queue, then drop each hook's oldest beyond the cap.
pub(super) async fn queue(t: &Transaction<'_>, q: &Queued) -> Result<(), StoreError> {
    if q.0.is_empty() {
        return Ok(());
    }
    t.execute(
        "INSERT INTO flagtop_outbox (key, hook, body) SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) \
         ON CONFLICT (key) DO NOTHING",
        &[&q.0, &q.1, &q.2],
    )
    .await
    .map_err(pg)?;
    let cap = i64::try_from(MAX_QUEUED_PER_HOOK).unwrap_or(i64::MAX);
    t.execute(
        "WITH ranked AS (SELECT key, row_number() OVER (PARTITION BY hook ORDER BY key COLLATE \"C\" DESC) AS n \
           FROM flagtop_outbox WHERE hook = ANY($1)), \
         gone AS (DELETE FROM flagtop_outbox o USING ranked r WHERE o.key = r.key AND r.n > $2 RETURNING o.hook) \
         INSERT INTO flagtop_webhook_health (hook, dropped) SELECT hook, count(*) FROM gone GROUP BY hook \
         ON CONFLICT (hook) DO UPDATE SET dropped = flagtop_webhook_health.dropped + EXCLUDED.dropped",
        &[&q.1, &cap],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// Inside the commit's transaction: drop removed hooks' queued deliveries and health.
pub(super) async fn forget(t: &Transaction<'_>, hooks: &[String]) -> Result<(), StoreError> {
    if hooks.is_empty() {
        return Ok(());
    }
    for table in ["flagtop_outbox", "flagtop_webhook_health"] {
        t.execute(
            &format!("DELETE FROM {table} WHERE hook = ANY($1)"),
            &[&hooks],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

impl PgStore {
    pub(super) fn pg_outbox_head(
        &self,
        hook: &str,
    ) -> Result<(Option<OutboxRow>, u64), StoreError> {
        let (c, hook) = (self.reader()?, hook.to_string());
        self.run(async move {
            let rows = c
                .query(
                    "SELECT body, count(*) OVER () FROM flagtop_outbox WHERE hook = $1 ORDER BY key COLLATE \"C\" LIMIT 1",
                    &[&hook],
                )
                .await
                .map_err(pg)?;
            let Some(row) = rows.first() else {
                return Ok((None, 0));
            };
            let (body, n): (Vec<u8>, i64) = (row.try_get(0).map_err(pg)?, row.try_get(1).map_err(pg)?);
            let head = serde_json::from_slice(&body).map_err(corrupt("webhook_outbox"))?;
            Ok((Some(head), u64::try_from(n).unwrap_or(0)))
        })
    }

    pub(super) fn pg_outbox_attempt(
        &self,
        row: &OutboxRow,
        a: &Delivery,
    ) -> Result<(), StoreError> {
        let key = row.key();
        let done = a.outcome == "delivered" || a.outcome == "dropped";
        let mut next = row.clone();
        next.attempts = a.attempt;
        next.next_at = a.next_at;
        let (next, body, hook) = (json(&next), json(a), row.hook.clone());
        let (delivered, failing) = (i64::from(a.outcome == "delivered"), a.outcome == "retrying");
        let keep = i64::try_from(MAX_DELIVERY_LOG).unwrap_or(i64::MAX);
        self.with_writer(move |c| {
            Box::pin(async move {
                let t = c.transaction().await.map_err(pg)?;
                if done {
                    t.execute("DELETE FROM flagtop_outbox WHERE key = $1", &[&key]).await.map_err(pg)?;
                } else {
                    t.execute("UPDATE flagtop_outbox SET body = $2 WHERE key = $1", &[&key, &next])
                        .await
                        .map_err(pg)?;
                }
                t.execute("INSERT INTO flagtop_webhook_log (hook, body) VALUES ($1, $2)", &[&hook, &body])
                    .await
                    .map_err(pg)?;
                t.execute(
                    "DELETE FROM flagtop_webhook_log WHERE seq <= (SELECT max(seq) FROM flagtop_webhook_log) - $1",
                    &[&keep],
                )
                .await
                .map_err(pg)?;
                t.execute(
                    "INSERT INTO flagtop_webhook_health (hook, delivered, failing, last) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (hook) DO UPDATE SET delivered = flagtop_webhook_health.delivered + EXCLUDED.delivered, \
                     failing = EXCLUDED.failing, last = EXCLUDED.last",
                    &[&hook, &delivered, &failing, &body],
                )
                .await
                .map_err(pg)?;
                t.commit().await.map_err(pg)
            })
        })
    }

    pub(super) fn pg_deliveries(
        &self,
        hook: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (c, hook) = (self.reader()?, hook.map(str::to_string));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(async move {
            let rows = match &hook {
                Some(h) => c
                    .query("SELECT body FROM flagtop_webhook_log WHERE hook = $1 ORDER BY seq DESC LIMIT $2", &[h, &limit])
                    .await,
                None => c.query("SELECT body FROM flagtop_webhook_log ORDER BY seq DESC LIMIT $1", &[&limit]).await,
            }
            .map_err(pg)?;
            super::reads::bodies(&rows, "webhook_log")
        })
    }

    pub(super) fn pg_hook_health(&self) -> Result<Vec<HookHealth>, StoreError> {
        let c = self.reader()?;
        self.run(async move {
            let rows = c
                .query("SELECT hook, dropped, delivered, failing, last FROM flagtop_webhook_health ORDER BY hook", &[])
                .await
                .map_err(pg)?;
            let mut out = Vec::new();
            for r in &rows {
                let last: Option<Vec<u8>> = r.try_get(4).map_err(pg)?;
                out.push(HookHealth {
                    name: r.try_get(0).map_err(pg)?,
                    queued: 0,
                    dropped: u64::try_from(r.try_get::<_, i64>(1).map_err(pg)?).unwrap_or(0),
                    delivered: u64::try_from(r.try_get::<_, i64>(2).map_err(pg)?).unwrap_or(0),
                    failing: r.try_get(3).map_err(pg)?,
                    last_attempt: last
                        .map(|b| serde_json::from_slice(&b).map_err(corrupt("webhook_health")))
                        .transpose()?,
                });
            }
            Ok(out)
        })
    }
}
