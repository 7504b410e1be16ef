//! `flagtop migrate --from DATA_DIR --to postgres://…`: copy an embedded store (state, audit,
//! approvals, tokens, idempotency records, evidence checks, webhooks and their queued
//! deliveries) into an empty PostgreSQL database
//! in one transaction, then read it back and compare the counts.

use crate::control::runtime::StoreChoice;
use crate::control::store::postgres::{self, PgStore};
use crate::control::store::{Backend, Commit, Store};
use crate::domain::Revision;
use crate::exit;
use color_eyre::eyre::{Result, eyre};
use std::path::Path;

/// Audit rows read back at most when verifying (the embedded store's own scan bound is higher).
const VERIFY_AUDIT_MAX: usize = usize::MAX;

pub fn run(from: &Path, to: &str) -> Result<i32> {
    if !from.join("flagtop.redb").exists() {
        return Err(eyre!(
            "{} holds no flagtop store (no flagtop.redb); pass the data dir of the server to copy",
            from.display()
        ));
    }
    let src = Store::open(from).map_err(|e| eyre!("{e}"))?;
    let StoreChoice::Postgres { url, password } = super::serve::store_choice(Some(to))? else {
        return Err(eyre!(
            "--to takes a PostgreSQL URL (postgres://USER@HOST:PORT/DB)"
        ));
    };
    let config = postgres::config(&url, password).map_err(|e| eyre!("{e}"))?;
    let place = postgres::describe(&config);
    let dst = PgStore::open(config)
        .map_err(|e| eyre!("cannot open the PostgreSQL store at {place}: {e}"))?;
    if dst.initialised().map_err(|e| eyre!("{e}"))? {
        return Err(eyre!(
            "{place} holds a flagtop state already; migrate into an empty database"
        ));
    }
    let loaded = src.load().map_err(|e| eyre!("{e}"))?;
    if !loaded.initialised {
        return Err(eyre!(
            "{} holds no state yet; nothing to migrate",
            from.display()
        ));
    }
    let audit = src
        .audit(None, None, usize::MAX, usize::MAX)
        .map_err(|e| eyre!("{e}"))?;
    let tokens = src.tokens_by_hash().map_err(|e| eyre!("{e}"))?;
    let idem = src.idempotency_records().map_err(|e| eyre!("{e}"))?;
    let queued = src.outbox_all().map_err(|e| eyre!("{e}"))?;
    let flags: Vec<_> = loaded.state.flags.values().map(|f| &**f).collect();
    dst.commit(Commit {
        meta: Some(&loaded.state),
        base: Revision(0),
        changes: Vec::new(),
        last_audit: loaded.last_audit,
        flags,
        approvals: loaded.approvals.iter().collect(),
        audit: audit.iter().collect(),
        idempotency: idem.iter().map(|(k, r)| (k.as_str(), r)).collect(),
        tokens: tokens.iter().map(|(h, r)| (h.as_str(), r)).collect(),
        evidence_due: loaded.evidence_due.iter().collect(),
        evidence_done: Vec::new(),
        prune_idempotency_before: None,
        outbox: queued.iter().collect(),
        hooks_removed: Vec::new(),
    })
    .map_err(|e| eyre!("the copy failed and nothing was written: {e}"))?;

    // Read it back: every count must match.
    let back = dst.load().map_err(|e| eyre!("{e}"))?;
    let back_audit = dst
        .audit(None, None, VERIFY_AUDIT_MAX, VERIFY_AUDIT_MAX)
        .map_err(|e| eyre!("{e}"))?
        .len();
    let back_tokens = dst.tokens().map_err(|e| eyre!("{e}"))?.len();
    let mut back_idem = 0;
    for (k, _) in &idem {
        if dst.idempotency(k).map_err(|e| eyre!("{e}"))?.is_some() {
            back_idem += 1;
        }
    }
    let mut back_queued = 0;
    for h in &loaded.state.webhooks {
        back_queued += dst.outbox_head(&h.name).map_err(|e| eyre!("{e}"))?.1 as usize;
    }
    let rows = [
        ("webhook deliveries", queued.len(), back_queued),
        ("flags", loaded.state.flags.len(), back.state.flags.len()),
        ("approvals", loaded.approvals.len(), back.approvals.len()),
        ("audit events", audit.len(), back_audit),
        ("tokens", tokens.len(), back_tokens),
        ("idempotency records", idem.len(), back_idem),
        (
            "evidence checks due",
            loaded.evidence_due.len(),
            back.evidence_due.len(),
        ),
        (
            "revision",
            usize::try_from(loaded.state.revision.0).unwrap_or(usize::MAX),
            usize::try_from(back.state.revision.0).unwrap_or(0),
        ),
    ];
    let mut ok = back.state == loaded.state;
    for (what, a, b) in rows {
        println!(
            "{what:<22} {a:>8} copied, {b:>8} read back{}",
            if a == b { "" } else { "  MISMATCH" }
        );
        ok &= a == b;
    }
    if !ok {
        eprintln!(
            "the copy in {place} does not match {}; do not use it (drop the database and run again)",
            from.display()
        );
        return Ok(exit::FAILURE);
    }
    println!(
        "migrated {} to {place}; serve it with FLAGTOP_STORE={url} flagtop serve (password from PGPASSWORD)",
        from.display()
    );
    Ok(exit::OK)
}
