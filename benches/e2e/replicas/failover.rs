//! One failover run of the replicas bench: kill -9 of the replica a client streams from, and
//! how long until the client is live and acting on the other, and the engine runs there. Every
//! wait is bounded by `FAILOVER_LIMIT` and ends the run naming what it waited for.

use super::super::*;
use super::runs::pair;
use flagtop::client::Client;
use flagtop::client::stream::{StreamEvent, follow};

/// How long each step of a failover may take before the run ends (the goal is < 3 s).
const FAILOVER_LIMIT: Duration = Duration::from_secs(30);

/// The next event of the client's stream before `deadline`, or end the run naming `what`.
async fn next(
    rx: &mut tokio::sync::mpsc::Receiver<StreamEvent>,
    what: &str,
    deadline: tokio::time::Instant,
) -> StreamEvent {
    match tokio::time::timeout_at(deadline, rx.recv()).await {
        Ok(Some(e)) => e,
        Ok(None) => panic!("the client's stream task ended while waiting for {what}"),
        Err(_) => panic!("timed out after {FAILOVER_LIMIT:?} waiting for {what}"),
    }
}

/// `fut`, or end the run naming `what` after `FAILOVER_LIMIT`.
async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(FAILOVER_LIMIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {FAILOVER_LIMIT:?} waiting for {what}"),
    }
}

/// Seconds from kill -9 of the client's replica until its stream is live on the other, until
/// its next action is acknowledged there, and until the other runs the engine.
pub(super) fn failover_once(rt: &tokio::runtime::Runtime, run: usize) -> (f64, f64, f64) {
    let ((mut a, da), (b, db)) = pair(rt, &format!("failover{run}"), &["--no-simulate"]);
    let runs_engine = |d: &Path| {
        std::fs::read_to_string(d.join("flagtop.log"))
            .is_ok_and(|l| l.contains("this replica runs the engine"))
    };
    let until = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + FAILOVER_LIMIT;
        while !f() {
            assert!(
                Instant::now() < deadline,
                "timed out after {FAILOVER_LIMIT:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    until("A to run the engine", &|| runs_engine(da.path()));
    let (urls, token) = ([a.url.clone(), b.url.clone()], a.admin.clone());
    let client = Client::replicas(&urls, &token, "cli").expect("client");
    let (live, acted) = rt.block_on(async {
        let snap = bounded("a snapshot from A", client.snapshot()).await;
        let rev = snap.expect("snapshot").revision.0;
        let (tx, mut rx) = tokio::sync::mpsc::channel(256);
        let stream = tokio::spawn(follow(client.clone(), Some(rev), None, tx));
        let deadline = tokio::time::Instant::now() + FAILOVER_LIMIT;
        let first = "the client's stream to connect to A";
        while !matches!(
            next(&mut rx, first, deadline).await,
            StreamEvent::Connected { .. }
        ) {}
        let killed = Instant::now();
        let _ = a.child.kill();
        let _ = a.child.wait();
        // Live again: the `Connected` that follows the move to B.
        let (mut moved, deadline) = (false, tokio::time::Instant::now() + FAILOVER_LIMIT);
        let what = "the client's stream to be live on B after kill -9 of A";
        loop {
            match next(&mut rx, what, deadline).await {
                StreamEvent::Replica(r) => moved = r == urls[1],
                StreamEvent::Connected { .. } if moved => break,
                _ => {}
            }
        }
        let live = killed.elapsed().as_secs_f64();
        let req = serde_json::from_value(
            json!({"action": {"type": "freeze", "env": "staging"}, "reason": "bench"}),
        )
        .expect("request");
        let key = format!("failover-{run}");
        bounded(
            "the client's next action acknowledged on B",
            client.act(&req, &key),
        )
        .await
        .expect("act on B");
        stream.abort();
        (live, killed.elapsed().as_secs_f64())
    });
    let t = Instant::now();
    until("B to run the engine after kill -9 of A", &|| {
        runs_engine(db.path())
    });
    // The engine's figure counts from the kill too.
    (live, acted, acted + t.elapsed().as_secs_f64())
}
