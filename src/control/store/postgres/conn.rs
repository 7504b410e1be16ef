//! Connections with their prepared statements. A query given as text costs two round trips
//! (prepare, then execute); a statement prepared once per session costs one, and several of
//! them sent together (a commit's, a catch-up's) travel as one pipeline: tokio-postgres sends
//! each request when its future is first polled, so futures joined in order reach the server in
//! that order, and the server runs them in that order. A replica's commit holds the meta row
//! from its `UPDATE` to its `COMMIT`, so every round trip saved there is saved for the other
//! replicas too.

use super::pg;
use crate::control::store::StoreError;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

/// The writer connection (used one call at a time) and what was prepared on it.
pub(super) struct Conn {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
    session: Session,
}

/// A server session by its backend process and when it started (a pid alone may be reused by
/// a later session): what a commit cut off names, so that one and no other is ended.
#[derive(Clone)]
pub(super) struct Session {
    pub pid: i32,
    pub started: String,
}

impl Conn {
    /// The writer on `client`, once it knows which server session it is.
    pub(super) async fn open(client: Client) -> Result<Conn, StoreError> {
        let row = client
            .query_one(
                "SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .map_err(pg)?;
        let session = Session {
            pid: row.try_get(0).map_err(pg)?,
            started: row.try_get(1).map_err(pg)?,
        };
        Ok(Conn {
            client,
            prepared: HashMap::new(),
            session,
        })
    }

    pub(super) fn session(&self) -> &Session {
        &self.session
    }

    /// The statements for `sql`, prepared on this session the first time each is asked for.
    pub(super) async fn statements<const N: usize>(
        &mut self,
        sql: [&'static str; N],
    ) -> Result<[Statement; N], StoreError> {
        self.prepare(&sql)
            .await?
            .try_into()
            .map_err(|_| StoreError::Sql("statements lost in preparation".into()))
    }

    // Not generic: one copy of the preparing code whatever the number of statements.
    async fn prepare(&mut self, sql: &[&'static str]) -> Result<Vec<Statement>, StoreError> {
        let mut out = Vec::with_capacity(sql.len());
        for s in sql {
            let st = match self.prepared.get(s) {
                Some(st) => st.clone(),
                None => {
                    let st = self.client.prepare(s).await.map_err(pg)?;
                    self.prepared.insert(s, st.clone());
                    st
                }
            };
            out.push(st);
        }
        Ok(out)
    }
}

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// The shared read connection (concurrent queries pipeline on it) and its prepared statements.
pub(super) struct Reader {
    client: Client,
    prepared: Mutex<HashMap<&'static str, Statement>>,
}

impl Reader {
    pub(super) fn new(client: Client) -> Reader {
        Reader {
            client,
            prepared: Mutex::new(HashMap::new()),
        }
    }

    /// Run `sql` as a statement prepared once on this session (the hot point reads: a token
    /// on every request, idempotency keys on every group).
    pub(super) async fn cached(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let known = self
            .prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sql)
            .cloned();
        let st = match known {
            Some(st) => st,
            None => {
                let st = self.client.prepare(sql).await.map_err(pg)?;
                self.prepared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(sql, st.clone());
                st
            }
        };
        self.client.query(&st, params).await.map_err(pg)
    }
}

impl std::ops::Deref for Reader {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}
