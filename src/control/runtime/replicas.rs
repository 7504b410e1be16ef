//! Replicas on one PostgreSQL store: each follows what the others committed, and exactly one
//! (the holder of the advisory lock) runs the engine. It must not serve HTTP.

use super::{FOLLOW_POLL, LEAD_CHECK};
use crate::control::service::ControlPlane;
use crate::control::store::postgres::{self, PgStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Each replica's follower: woken by NOTIFY (a revision only) or every `FOLLOW_POLL`, it reads
/// what other replicas committed from the changes table and publishes it to this replica's
/// streams, in order.
pub(super) fn spawn_store_follower(
    cp: Arc<ControlPlane>,
    wake: Arc<tokio::sync::Notify>,
    stop: Arc<AtomicBool>,
) {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(FOLLOW_POLL) => {}
            }
            let cp = cp.clone();
            match tokio::task::spawn_blocking(move || cp.follow_store()).await {
                Ok(Ok(n)) if n > 0 => tracing::debug!(changes = n, "caught up with other replicas"),
                Ok(Err(e)) => tracing::warn!(error = %e, "could not read other replicas' changes"),
                _ => {}
            }
        }
    });
}

/// The engine runs on exactly one replica: the one holding the advisory lock. Every replica
/// tries to take it every `LEAD_CHECK`; the leader checks it still holds it as often, and stops
/// its engine when it lost it (its connection died). When the leader's process dies, its
/// connection closes, PostgreSQL releases the lock and another replica takes over.
pub(super) fn spawn_leadership(
    cp: Arc<ControlPlane>,
    pg: Arc<PgStore>,
    mut engine_start: impl FnMut(Arc<AtomicBool>) + Send + 'static,
    stop: Arc<AtomicBool>,
) {
    let spawned = std::thread::Builder::new().name("flagtop-leader".into()).spawn(move || {
        let mut leading: Option<(postgres::Leadership, Arc<AtomicBool>)> = None;
        while !stop.load(Ordering::Relaxed) {
            match &leading {
                Some((l, engine_stop)) => {
                    if !pg.still_leads(l) {
                        tracing::warn!("lost the engine's lock (database connection lost); stopping the engine here");
                        engine_stop.store(true, Ordering::Relaxed);
                        leading = None;
                    }
                }
                None => match pg.try_lead() {
                    Ok(Some(l)) => {
                        // Start from what the previous leader committed.
                        if let Err(e) = cp.follow_store() {
                            tracing::warn!(error = %e, "could not catch up before taking the engine");
                        }
                        tracing::info!("this replica runs the engine");
                        let engine_stop = Arc::new(AtomicBool::new(false));
                        engine_start(engine_stop.clone());
                        leading = Some((l, engine_stop));
                    }
                    Ok(None) => {}
                    Err(e) => tracing::debug!(error = %e, "cannot reach PostgreSQL to take the engine's lock"),
                },
            }
            std::thread::sleep(LEAD_CHECK);
        }
        if let Some((_, engine_stop)) = leading {
            engine_stop.store(true, Ordering::Relaxed);
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the leadership thread; this replica will not run the engine");
    }
}
