//! Following other replicas and the engine's leadership: a `LISTEN` connection that wakes the
//! follower on every notification, and the advisory lock held on a connection of its own.

use super::{CHANNEL, CONNECT_TIMEOUT, ENGINE_LOCK, PgStore, connect, pg};
use crate::control::store::StoreError;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

impl PgStore {
    /// Keep a `LISTEN` connection open (made again when lost) and wake the follower on every
    /// notification.
    pub(super) fn listen(&self) {
        let Some(rt) = &self.rt else { return };
        let (config, wake) = (self.config.clone(), self.wake.clone());
        rt.spawn(async move {
            loop {
                match tokio::time::timeout(CONNECT_TIMEOUT, config.connect(NoTls)).await {
                    Ok(Ok((client, mut conn))) => {
                        let driver = async {
                            loop {
                                match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                                    Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => wake.notify_one(),
                                    Some(Ok(_)) => {}
                                    Some(Err(e)) => break tracing::debug!(error = %e, "LISTEN connection ended"),
                                    None => break,
                                }
                            }
                        };
                        let listen = async {
                            if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                                tracing::debug!(error = %e, "LISTEN failed");
                            }
                            std::future::pending::<()>().await
                        };
                        tokio::select! { () = driver => {}, () = listen => {} }
                        // Changes may have been missed while it was down: the follower's poll
                        // catches them; wake it at once too.
                        wake.notify_one();
                    }
                    _ => tracing::debug!("LISTEN connection failed; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Try to become the engine's replica: an advisory lock held by a connection of its own.
    /// Dropping the `Leadership` (or losing its connection, or this process dying) lets another
    /// replica take it.
    pub fn try_lead(&self) -> Result<Option<Leadership>, StoreError> {
        let config = self.config.clone();
        let client = self.run(async move { connect(&config).await })?;
        let client = Arc::new(client);
        let c = client.clone();
        let got: bool = self.run(async move {
            let row = c
                .query_one("SELECT pg_try_advisory_lock($1)", &[&ENGINE_LOCK])
                .await
                .map_err(pg)?;
            row.try_get(0).map_err(pg)
        })?;
        Ok(got.then(|| Leadership { client }))
    }

    /// Whether a leadership's connection still answers (a bounded ping).
    pub fn still_leads(&self, l: &Leadership) -> bool {
        let c = l.client.clone();
        !c.is_closed()
            && self
                .run(async move { c.simple_query("SELECT 1").await.map(|_| ()).map_err(pg) })
                .is_ok()
    }
}

/// The engine's leadership: the connection holding the advisory lock.
pub struct Leadership {
    client: Arc<Client>,
}
