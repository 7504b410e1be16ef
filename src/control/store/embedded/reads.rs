//! The embedded store's reads: idempotency records, the audit trail (newest first, by flag,
//! paged) and tokens, each in one read transaction. Must not write.

use super::{AUDIT, IDEM, Store, TOKENS, corrupt};
use crate::control::store::{IdemRecord, StoreError, TokenRecord};
use crate::domain::AuditEvent;
use redb::{ReadableDatabase, ReadableTable};

impl Store {
    pub fn idempotency(&self, key: &str) -> Result<Option<IdemRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(IDEM)?;
        let r = t.get(key)?;
        r.map(|v| serde_json::from_slice(v.value()).map_err(corrupt("idempotency")))
            .transpose()
    }

    /// Audit events, newest first: those before `before` (exclusive), matching `flag`, at most
    /// `limit`, scanning at most `scan_limit` rows.
    pub fn audit(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
        scan_limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(self.audit_scan(flag, before, limit, scan_limit)?.0)
    }

    /// As `audit`, and the id the scan stopped at when it hit `scan_limit` with rows left.
    pub fn audit_scan(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
        scan_limit: usize,
    ) -> Result<(Vec<AuditEvent>, Option<u64>), StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(AUDIT)?;
        let mut out = Vec::new();
        let (mut scanned, mut last_id) = (0usize, None);
        let range = t.range(..before.unwrap_or(u64::MAX))?;
        let mut rows = range.rev();
        for row in rows.by_ref() {
            let (k, v) = row?;
            scanned += 1;
            last_id = Some(k.value());
            let e: AuditEvent = serde_json::from_slice(v.value()).map_err(corrupt("audit"))?;
            if flag.is_none_or(|f| e.flag.as_ref().is_some_and(|k| k.as_str() == f)) {
                out.push(e);
                if out.len() >= limit {
                    return Ok((out, None));
                }
            }
            if scanned >= scan_limit {
                break;
            }
        }
        let more = rows.next().is_some();
        Ok((
            out,
            if scanned >= scan_limit && more {
                last_id
            } else {
                None
            },
        ))
    }

    pub fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(TOKENS)?;
        let r = t.get(hash)?;
        r.map(|v| serde_json::from_slice(v.value()).map_err(corrupt("tokens")))
            .transpose()
    }

    /// Every token with the hash it is stored under (for `flagtop migrate`).
    pub fn tokens_by_hash(&self) -> Result<Vec<(String, TokenRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(TOKENS)?.iter()? {
            let (k, v) = row?;
            out.push((
                k.value().to_string(),
                serde_json::from_slice(v.value()).map_err(corrupt("tokens"))?,
            ));
        }
        Ok(out)
    }

    /// Every idempotency record with its key (for `flagtop migrate`).
    pub fn idempotency_records(&self) -> Result<Vec<(String, IdemRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(IDEM)?.iter()? {
            let (k, v) = row?;
            out.push((
                k.value().to_string(),
                serde_json::from_slice(v.value()).map_err(corrupt("idempotency"))?,
            ));
        }
        Ok(out)
    }

    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(TOKENS)?.iter()? {
            let (_, v) = row?;
            out.push(serde_json::from_slice(v.value()).map_err(corrupt("tokens"))?);
        }
        Ok(out)
    }
}
