//! One load run of the replicas bench: a new database, two replicas on it, streams split over
//! both, writers on both; what was acknowledged, how fast, and whether every stream got it.

use super::super::*;

/// How long creating a database may take.
const DB_LIMIT: Duration = Duration::from_secs(30);
/// Incomplete streams described one by one (the rest are counted).
const SHOWN_INCOMPLETE: usize = 3;

/// A new, empty database on the test server: its URL (no password) and the password.
fn fresh_db(rt: &tokio::runtime::Runtime, name: &str) -> (String, String) {
    let url = std::env::var("FLAGTOP_TEST_PG_URL").expect("FLAGTOP_TEST_PG_URL");
    let pw = std::env::var("FLAGTOP_TEST_PG_PASSWORD").expect("FLAGTOP_TEST_PG_PASSWORD");
    let db = format!("flagtop_bench_{name}_{}", std::process::id());
    let config = flagtop::control::store::postgres::config(&url, Some(pw.clone())).expect("url");
    let made = rt.block_on(async {
        tokio::time::timeout(DB_LIMIT, async {
            let (client, conn) = config
                .connect(tokio_postgres::NoTls)
                .await
                .expect("connect to the test PostgreSQL");
            tokio::spawn(conn);
            for sql in [
                format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
                format!("CREATE DATABASE {db}"),
            ] {
                client.batch_execute(&sql).await.expect("create database");
            }
        })
        .await
    });
    assert!(
        made.is_ok(),
        "timed out after {DB_LIMIT:?} waiting for PostgreSQL to create database {db}"
    );
    let base = url
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .expect("url");
    (format!("{base}/{db}"), pw)
}

/// Two replicas of one new database: (A, its data dir), (B, its data dir). A mints the token.
pub(super) fn pair(
    rt: &tokio::runtime::Runtime,
    name: &str,
    extra: &[&str],
) -> ((Server, tempfile::TempDir), (Server, tempfile::TempDir)) {
    let (url, pw) = fresh_db(rt, name);
    let env = [("FLAGTOP_STORE", url.as_str()), ("PGPASSWORD", pw.as_str())];
    let (da, db) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let a = Server::start(da.path(), extra, &env);
    let mut b = Server::replica(db.path(), extra, &env);
    b.admin = a.admin.clone();
    ((a, da), (b, db))
}

/// What one load run measured.
pub(super) struct LoadRun {
    /// Actions acknowledged (200) by A and by B.
    pub(super) acked: (usize, usize),
    /// From the first action due to the last acknowledged.
    pub(super) secs: f64,
    /// Due → acknowledged, ms, every action.
    pub(super) lat: Vec<f64>,
    /// 409s retried with the same key.
    pub(super) retries: u64,
    /// Streams that got every acknowledged change in order, with no reset, of all opened.
    pub(super) complete: (usize, usize),
    /// After the last acknowledgement, until every stream had the newest change (None: some
    /// had not within `DRAIN_LIMIT`).
    pub(super) drained: Option<Duration>,
}

impl LoadRun {
    pub(super) fn rate(&self) -> f64 {
        (self.acked.0 + self.acked.1) as f64 / self.secs
    }
}

/// Throughput and latency with writers on both replicas (half the offered rate each, each on
/// its own flags) and `streams` followers split over them.
pub(super) fn load_once(
    rt: &tokio::runtime::Runtime,
    run: usize,
    window: Duration,
    streams: usize,
    rate: f64,
) -> LoadRun {
    let ((a, _da), (b, _db)) = pair(
        rt,
        &format!("load{run}"),
        &["--scenario", "large", "--no-simulate"],
    );
    let (urls, token) = ([a.url.clone(), b.url.clone()], a.admin.clone());
    rt.block_on(async move {
        let c = http();
        let snap: Value = c
            .get(format!("{}/v1/snapshot", urls[0]))
            .bearer_auth(&token)
            .send()
            .await
            .expect("snapshot")
            .json()
            .await
            .expect("json");
        let targets = write_targets(&snap);
        // Viewer tokens minted on A (the database is shared: B knows them too).
        let tokens = stream_tokens(&c, &urls[0], &token, streams).await;
        let mut followers = Followers::open(
            (0..streams).map(|i| (urls[i % 2].clone(), tokens[i / STREAMS_PER_TOKEN].clone())),
        );
        followers.connected().await;
        let writers = mint_tokens(
            &c,
            &urls[0],
            &token,
            "admin",
            WRITER_TOKENS,
            "bench-writers",
        )
        .await;
        let (ta, tb) = targets.split_at(targets.len() / 2);
        let retries = Arc::new(AtomicU64::new(0));
        let phase = |targets, tag: &str| Phase {
            targets,
            writers: 32,
            rate: Some(rate / 2.0),
            window,
            tag: format!("pg-{tag}-{run}"),
            retries: Some(retries.clone()),
        };
        let t0 = Instant::now();
        let ((mut lat, mut revs), (lb, rb)) = tokio::join!(
            write_for(&c, &urls[0], &writers, phase(ta, "a")),
            write_for(&c, &urls[1], &writers, phase(tb, "b")),
        );
        let secs = t0.elapsed().as_secs_f64();
        let acked = (revs.len(), rb.len());
        lat.extend(lb);
        revs.extend(rb);
        revs.sort_unstable();
        let newest = revs.last().copied().unwrap_or(0);
        let drained = followers.drained(newest, DRAIN_LIMIT).await;
        let (mut ok, mut bad) = (0, 0);
        for f in followers.finish().await {
            match f.check(&revs) {
                Ok(()) => ok += 1,
                Err(e) => {
                    // The first few say what is wrong; the count says how many.
                    bad += 1;
                    if bad <= SHOWN_INCOMPLETE {
                        eprintln!("    {e}");
                    }
                }
            }
        }
        LoadRun {
            acked,
            secs,
            lat,
            retries: retries.load(Ordering::SeqCst),
            complete: (ok, streams),
            drained,
        }
    })
}
