//! `Backend` for the team store: each call run on the store's runtime, bounded, over the
//! writer or the pipelined reader connection.

use super::commit::{rows, write};
use super::reads::{bodies, load, since};
use super::settle::Progress;
use super::{PgStore, TURN_LOCK, corrupt, describe, i64_of, pg};
use crate::control::store::{
    Backend, CatchUp, Commit, IdemRecord, Loaded, StoreError, TokenRecord,
};
use crate::domain::{AuditEvent, Revision};
use crate::wire::webhook::{Delivery, HookHealth, OutboxRow};
use std::collections::HashMap;

impl Backend for PgStore {
    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn initialised(&self) -> Result<bool, StoreError> {
        let c = self.reader()?;
        self.run(async move {
            let row = c
                .query_one(
                    "SELECT state IS NOT NULL FROM flagtop_meta WHERE id = 1",
                    &[],
                )
                .await
                .map_err(pg)?;
            row.try_get(0).map_err(pg)
        })
    }

    fn load(&self) -> Result<Loaded, StoreError> {
        self.with_writer(|c| Box::pin(load(c)))
    }

    fn commit(&self, c: Commit<'_>) -> Result<(), StoreError> {
        #[cfg(test)]
        if self
            .fail_next
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(StoreError::Unavailable(
                "the connection was lost (injected by a test)".into(),
            ));
        }
        let r = rows(&c);
        let mark = r.mark();
        let progress = std::sync::Arc::new(Progress::default());
        let p = progress.clone();
        match self.with_writer(move |c| Box::pin(async move { write(c, r, &p).await })) {
            Ok(()) => {}
            // Cut off (a broken connection, the deadline): find out what became of it.
            Err(StoreError::Unavailable(why)) => self.settle(&progress, mark, why)?,
            Err(e) => return Err(e),
        }
        self.remember(c.tokens.iter().map(|(h, r)| (h.to_string(), (*r).clone())));
        Ok(())
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdemRecord>, StoreError> {
        Ok(self.idempotency_many(&[key])?.remove(key))
    }

    fn idempotency_many(&self, keys: &[&str]) -> Result<HashMap<String, IdemRecord>, StoreError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        // One round trip for a whole group's keys (not one per action, under the service lock).
        let c = self.reader()?;
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        self.run(async move {
            let rows = c
                .cached(
                    "SELECT key, body FROM flagtop_idempotency WHERE key = ANY($1)",
                    &[&keys],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    let (k, b): (String, Vec<u8>) =
                        (row.try_get(0).map_err(pg)?, row.try_get(1).map_err(pg)?);
                    Ok((
                        k,
                        serde_json::from_slice(&b).map_err(corrupt("idempotency"))?,
                    ))
                })
                .collect()
        })
    }

    fn audit_scan(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
        _scan_limit: usize,
    ) -> Result<(Vec<AuditEvent>, Option<u64>), StoreError> {
        // The (flag, id) index finds a flag's events without scanning: no scan limit is hit.
        let (c, flag) = (self.reader()?, flag.map(str::to_string));
        let before = i64_of(before.unwrap_or(u64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(async move {
            let rows = match &flag {
                Some(f) => c
                    .query("SELECT body FROM flagtop_audit WHERE flag = $1 AND id < $2 ORDER BY id DESC LIMIT $3", &[f, &before, &limit])
                    .await,
                None => c.query("SELECT body FROM flagtop_audit WHERE id < $1 ORDER BY id DESC LIMIT $2", &[&before, &limit]).await,
            }
            .map_err(pg)?;
            Ok((bodies(&rows, "audit")?, None))
        })
    }

    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let known = || {
            self.known_tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(hash)
                .cloned()
        };
        // A token found once is answered from memory: records are never removed or changed
        // (there is no revocation; a hash comes from a random secret), and a request then costs
        // no round trip to PostgreSQL. (Revocation, when it comes, must evict it here.)
        if let Some(rec) = known() {
            return Ok(Some(rec));
        }
        let found = self.reader().and_then(|c| {
            let hash = hash.to_string();
            self.run(async move {
                let rows = c
                    .cached("SELECT body FROM flagtop_tokens WHERE hash = $1", &[&hash])
                    .await?;
                Ok(bodies::<TokenRecord>(&rows, "tokens")?.pop())
            })
        });
        match found {
            Ok(Some(rec)) => {
                self.known_tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(hash.to_string(), rec.clone());
                Ok(Some(rec))
            }
            other => other,
        }
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let c = self.reader()?;
        let rows: Vec<(String, TokenRecord)> = self.run(async move {
            let rows = c
                .query("SELECT hash, body FROM flagtop_tokens ORDER BY hash", &[])
                .await
                .map_err(pg)?;
            rows.iter()
                .map(|row| {
                    let (h, b): (String, Vec<u8>) =
                        (row.try_get(0).map_err(pg)?, row.try_get(1).map_err(pg)?);
                    Ok((h, serde_json::from_slice(&b).map_err(corrupt("tokens"))?))
                })
                .collect()
        })?;
        self.remember(rows.iter().cloned());
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    }

    fn since(&self, revision: Revision) -> Result<Option<CatchUp>, StoreError> {
        let revision = i64_of(revision.0);
        self.with_writer(move |c| Box::pin(since(c, revision)))
    }

    fn take_turn(&self) -> Result<(), StoreError> {
        self.with_writer(|c| {
            Box::pin(async move {
                c.execute("SELECT pg_advisory_lock($1)", &[&TURN_LOCK])
                    .await
                    .map_err(pg)
                    .map(drop)
            })
        })
    }

    fn end_turn(&self) {
        let r = self.with_writer(|c| {
            Box::pin(async move {
                c.execute("SELECT pg_advisory_unlock($1)", &[&TURN_LOCK])
                    .await
                    .map_err(pg)
                    .map(drop)
            })
        });
        if let Err(e) = r {
            // A lost connection gave the lock back with its session.
            tracing::warn!(error = %e, "could not give the commit turn back");
        }
    }

    fn outbox_head(&self, hook: &str) -> Result<(Option<OutboxRow>, u64), StoreError> {
        self.pg_outbox_head(hook)
    }

    fn outbox_attempt(&self, row: &OutboxRow, attempt: &Delivery) -> Result<(), StoreError> {
        self.pg_outbox_attempt(row, attempt)
    }

    fn deliveries(&self, hook: Option<&str>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.pg_deliveries(hook, limit)
    }

    fn hook_health(&self) -> Result<Vec<HookHealth>, StoreError> {
        self.pg_hook_health()
    }

    fn describe(&self) -> String {
        describe(&self.config)
    }

    #[cfg(test)]
    fn fail_next_commit(&self) {
        self.fail_next
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
