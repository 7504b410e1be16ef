//! Helpers for tests against the real PostgreSQL that `scripts/postgres` starts: a database of
//! each test's own, a store on it, `flagtop serve --store` replicas, and waiting for them.

use super::Server;
use flagtop::control::store::postgres::{self, PgStore};
use std::time::{Duration, Instant};

/// The test server's URL and password, or None (skipped) when none was started.
pub fn server() -> Option<(String, String)> {
    match (
        std::env::var("FLAGTOP_TEST_PG_URL"),
        std::env::var("FLAGTOP_TEST_PG_PASSWORD"),
    ) {
        (Ok(u), Ok(p)) => Some((u, p)),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "FLAGTOP_TEST_PG_URL is not set under CI: scripts/test must start PostgreSQL (scripts/postgres start)"
            )
        }
        _ => {
            eprintln!(
                "SKIPPED: no PostgreSQL (run scripts/postgres start and source .ci/tmp/postgres/env)"
            );
            None
        }
    }
}

/// A new, empty database for one test; its URL (no password in it) and the password.
pub fn fresh_db(name: &str) -> Option<(String, String)> {
    let (url, password) = server()?;
    let db = format!("flagtop_{name}_{}", std::process::id());
    // On a thread of its own: async tests call this too.
    let (u, p, d) = (url.clone(), password.clone(), db.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let config = postgres::config(&u, Some(p)).unwrap();
            let (client, conn) = config.connect(tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {d} WITH (FORCE)"))
                .await
                .unwrap();
            client
                .batch_execute(&format!("CREATE DATABASE {d}"))
                .await
                .unwrap();
        });
    })
    .join()
    .unwrap();
    let base = url.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    Some((format!("{base}/{db}"), password))
}

pub fn pg_store(url: &str, password: &str) -> PgStore {
    PgStore::open(postgres::config(url, Some(password.to_string())).unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `flagtop serve --store` on the database `url`, with its own data dir (kept while the
/// `TempDir` lives); `extra` arguments as given (`--no-simulate` for most tests).
pub fn replica(url: &str, pw: &str, extra: &[&str]) -> (tempfile::TempDir, Server) {
    replica_env(url, pw, extra, &[])
}

/// As `replica`, with more environment variables (a webhook's secret).
pub fn replica_env(
    url: &str,
    pw: &str,
    extra: &[&str],
    more: &[(&str, String)],
) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let mut envs = vec![
        ("FLAGTOP_STORE", url.to_string()),
        ("PGPASSWORD", pw.to_string()),
    ];
    envs.extend(more.iter().cloned());
    let s = Server::start_env(dir.path(), "127.0.0.1:0", extra, &envs);
    (dir, s)
}

/// Wait (polling every 100 ms) until `f` holds; fail after `secs` seconds saying what for.
pub async fn wait_for(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {secs} s waiting for {what}");
}

/// Whether the replica on `data` has logged that it runs the engine.
pub fn runs_engine(data: &std::path::Path) -> bool {
    std::fs::read_to_string(data.join("flagtop.log"))
        .is_ok_and(|l| l.contains("this replica runs the engine"))
}
