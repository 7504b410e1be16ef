//! The embedded store's webhook tables: the outbox (queued in the commit's own transaction,
//! capped per hook), the delivery log (bounded) and each hook's health. Persistence only.

use super::{Store, corrupt, to_json};
use crate::control::store::{MAX_DELIVERY_LOG, MAX_QUEUED_PER_HOOK, StoreError};
use crate::wire::webhook::{Delivery, HookHealth, OutboxRow};
use redb::{
    ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};

/// Queued deliveries by `OutboxRow::key` (hook, then the change's audit id).
const OUTBOX: TableDefinition<&str, &[u8]> = TableDefinition::new("webhook_outbox");
/// Delivery attempts in the order they were made.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("webhook_log");
/// Each hook's health, by name.
const HEALTH: TableDefinition<&str, &[u8]> = TableDefinition::new("webhook_health");

pub(super) fn open_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(OUTBOX)?;
    txn.open_table(LOG)?;
    txn.open_table(HEALTH)?;
    Ok(())
}

/// The key range of one hook's rows.
fn range(hook: &str) -> (String, String) {
    (format!("{hook}\u{1}"), format!("{hook}\u{2}"))
}

fn health(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    hook: &str,
) -> Result<HookHealth, StoreError> {
    Ok(match t.get(hook)? {
        Some(v) => serde_json::from_slice(v.value()).map_err(corrupt("webhook_health"))?,
        None => HookHealth {
            name: hook.to_string(),
            ..Default::default()
        },
    })
}

/// Write `rows` into the outbox and drop each hook's oldest beyond `MAX_QUEUED_PER_HOOK`.
pub(super) fn queue(txn: &WriteTransaction, rows: &[&OutboxRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut t = txn.open_table(OUTBOX)?;
    let mut hooks = std::collections::BTreeSet::new();
    for r in rows {
        t.insert(r.key().as_str(), to_json(r).as_slice())?;
        hooks.insert(r.hook.as_str());
    }
    let mut h = txn.open_table(HEALTH)?;
    for hook in hooks {
        let (lo, hi) = range(hook);
        let n = t.range(lo.as_str()..hi.as_str())?.count() as u64;
        if n <= MAX_QUEUED_PER_HOOK {
            continue;
        }
        let mut old = Vec::new();
        for row in t
            .range(lo.as_str()..hi.as_str())?
            .take((n - MAX_QUEUED_PER_HOOK) as usize)
        {
            old.push(row?.0.value().to_string());
        }
        for k in &old {
            t.remove(k.as_str())?;
        }
        let mut hh = health(&h, hook)?;
        hh.dropped += old.len() as u64;
        tracing::warn!(
            hook,
            dropped = old.len(),
            "webhook queue full: oldest deliveries dropped"
        );
        h.insert(hook, to_json(&hh).as_slice())?;
    }
    Ok(())
}

/// Drop removed hooks' queued deliveries and health (their log entries stay).
pub(super) fn forget(txn: &WriteTransaction, hooks: &[&str]) -> Result<(), StoreError> {
    if hooks.is_empty() {
        return Ok(());
    }
    let mut t = txn.open_table(OUTBOX)?;
    let mut h = txn.open_table(HEALTH)?;
    for hook in hooks {
        let (lo, hi) = range(hook);
        let mut keys = Vec::new();
        for row in t.range(lo.as_str()..hi.as_str())? {
            keys.push(row?.0.value().to_string());
        }
        for k in &keys {
            t.remove(k.as_str())?;
        }
        h.remove(*hook)?;
    }
    Ok(())
}

impl Store {
    pub fn outbox_head(&self, hook: &str) -> Result<(Option<OutboxRow>, u64), StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(OUTBOX)?;
        let (lo, hi) = range(hook);
        let mut rows = t.range(lo.as_str()..hi.as_str())?;
        let head = match rows.next() {
            Some(r) => {
                Some(serde_json::from_slice(r?.1.value()).map_err(corrupt("webhook_outbox"))?)
            }
            None => None,
        };
        let n = u64::from(head.is_some()) + rows.count() as u64;
        Ok((head, n))
    }

    pub fn outbox_attempt(&self, row: &OutboxRow, a: &Delivery) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut t = txn.open_table(OUTBOX)?;
            let key = row.key();
            let present = t.get(key.as_str())?.is_some();
            if a.outcome == "delivered" || a.outcome == "dropped" {
                t.remove(key.as_str())?;
            } else if present {
                let mut next = row.clone();
                next.attempts = a.attempt;
                next.next_at = a.next_at;
                t.insert(key.as_str(), to_json(&next).as_slice())?;
            }
            let mut log = txn.open_table(LOG)?;
            let seq = log.last()?.map_or(0, |(k, _)| k.value()) + 1;
            log.insert(seq, to_json(a).as_slice())?;
            while log.len()? > MAX_DELIVERY_LOG {
                let Some(first) = log.first()?.map(|(k, _)| k.value()) else {
                    break;
                };
                log.remove(first)?;
            }
            let mut h = txn.open_table(HEALTH)?;
            let mut hh = health(&h, &row.hook)?;
            hh.failing = a.outcome == "retrying";
            if a.outcome == "delivered" {
                hh.delivered += 1;
            }
            hh.last_attempt = Some(a.clone());
            h.insert(row.hook.as_str(), to_json(&hh).as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Every queued delivery, hook by hook (for `flagtop migrate`).
    pub fn outbox_all(&self) -> Result<Vec<OutboxRow>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(OUTBOX)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            out.push(serde_json::from_slice(row?.1.value()).map_err(corrupt("webhook_outbox"))?);
        }
        Ok(out)
    }

    pub fn deliveries(
        &self,
        hook: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(LOG)?;
        let mut out = Vec::new();
        for row in t.iter()?.rev() {
            let d: Delivery =
                serde_json::from_slice(row?.1.value()).map_err(corrupt("webhook_log"))?;
            if hook.is_none_or(|h| h == d.hook) {
                out.push(d);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    pub fn hook_health(&self) -> Result<Vec<HookHealth>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(HEALTH)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            out.push(serde_json::from_slice(row?.1.value()).map_err(corrupt("webhook_health"))?);
        }
        Ok(out)
    }
}
