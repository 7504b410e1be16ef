//! Crash durability: many concurrent actions with idempotency keys against a real `flagtop
//! serve`, `kill -9` at random moments, restart, retry every unacknowledged request with its key
//! — then every request is applied exactly once, every acknowledged one is among them, and none
//! is applied twice. Prints the trials, kills and counts (recorded in docs/reliability.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)] // test code may fail loudly

mod common;

use common::{Http, Server};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A small deterministic generator (the seed is printed so a failure can be replayed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

#[derive(Clone)]
struct Req {
    key: String,
    body: serde_json::Value,
}

async fn send(http: &Http, token: &str, r: &Req) -> Result<serde_json::Value, String> {
    let resp = http
        .client
        .post(format!("{}/v1/actions", http.url))
        .bearer_auth(token)
        .header("idempotency-key", &r.key)
        .json(&r.body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
    if status == 200 {
        Ok(body)
    } else {
        Err(format!("HTTP {status}: {body}"))
    }
}

/// Every audit event, following `before` pages.
async fn all_audit(http: &Http, token: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/v1/audit?limit=1000&before={b}"),
            None => "/v1/audit?limit=1000".to_string(),
        };
        let page = http.get(&path, token).await.body["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if page.is_empty() {
            return out;
        }
        before = page.last().and_then(|e| e["id"].as_u64());
        out.extend(page);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_random_moments_loses_nothing_and_doubles_nothing() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    eprintln!("crash harness seed {seed}");
    let mut rng = Lcg(seed);
    let dir = tempfile::tempdir().expect("tmp");
    // The large scenario: thousands of flags, so every request can target its own cohort.
    let mut server = Server::start(dir.path(), &["--no-simulate", "--scenario", "large"]);
    let token = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let snap = http.get("/v1/snapshot", &token).await.body;
    let mut targets: Vec<(String, String)> = snap["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter_map(|f| {
            let c = f["environments"]["staging"]["cohorts"]
                .as_array()?
                .first()?;
            if c["rolled_back"] != false {
                return None;
            }
            Some((
                f["key"].as_str()?.to_string(),
                c["name"].as_str()?.to_string(),
            ))
        })
        .collect();
    targets.reverse();

    const TRIALS: usize = 5;
    const WORKERS: usize = 6;
    let (mut kills, mut sent, mut acked_total, mut retried, mut replayed) = (0, 0, 0, 0, 0);
    let mut all: BTreeMap<String, Req> = BTreeMap::new();
    let mut acked: BTreeMap<String, u64> = BTreeMap::new(); // key -> audit id
    for trial in 0..TRIALS {
        let http = Http::new(&server.url);
        let queue: Arc<Mutex<Vec<Req>>> = Arc::new(Mutex::new(
            (0..400)
                .filter_map(|_| targets.pop())
                .map(|(flag, cohort)| Req {
                    key: format!("crash-{trial}-{flag}"),
                    body: json!({"action": {"type": "rollback", "flag": flag, "env": "staging", "cohort": cohort}, "reason": "crash harness"}),
                })
                .collect(),
        ));
        for r in queue.lock().expect("lock").iter() {
            all.insert(r.key.clone(), r.clone());
        }
        let results: Arc<Mutex<Vec<(String, Result<serde_json::Value, String>)>>> = Arc::default();
        let mut workers = Vec::new();
        for _ in 0..WORKERS {
            let (q, res, http, token) = (
                queue.clone(),
                results.clone(),
                Http::new(&http.url),
                token.clone(),
            );
            workers.push(tokio::spawn(async move {
                loop {
                    let next = q.lock().expect("lock").pop();
                    let Some(r) = next else { return };
                    let out = send(&http, &token, &r).await;
                    let failed = out.is_err();
                    res.lock().expect("lock").push((r.key.clone(), out));
                    if failed {
                        return; // the server is gone: the rest stay unsent (and are retried below)
                    }
                }
            }));
        }
        // Kill at a random moment while requests are in flight.
        tokio::time::sleep(Duration::from_millis(20 + rng.next(400))).await;
        let data = server.data.clone();
        server.kill9();
        kills += 1;
        for w in workers {
            let _ = w.await;
        }
        let results = std::mem::take(&mut *results.lock().expect("lock"));
        sent += results.len();
        for (key, out) in &results {
            if let Ok(body) = out {
                acked.insert(key.clone(), body["audit_id"].as_u64().expect("audit id"));
                acked_total += 1;
            }
        }
        // Restart on the same data dir; retry everything not acknowledged, with its key.
        server = Server::start(&data, &["--no-simulate", "--scenario", "large"]);
        let http = Http::new(&server.url);
        let pending: Vec<Req> = all
            .values()
            .filter(|r| !acked.contains_key(&r.key))
            .cloned()
            .collect();
        for r in pending {
            retried += 1;
            let body = send(&http, &token, &r)
                .await
                .unwrap_or_else(|e| panic!("retry of {} failed: {e}", r.key));
            if body["replayed"] == true {
                replayed += 1; // it had been applied before the kill; the key found it
            }
            acked.insert(r.key.clone(), body["audit_id"].as_u64().expect("audit id"));
        }
        // An acknowledged request retried again returns its first outcome.
        if let Some((key, id)) = acked.iter().next() {
            let again = send(&http, &token, &all[key]).await.expect("replay");
            assert_eq!(again["audit_id"].as_u64(), Some(*id));
            assert_eq!(again["replayed"], true);
        }
    }

    // Every request applied exactly once; every acknowledged audit id present, with its key.
    let http = Http::new(&server.url);
    let audit = all_audit(&http, &token).await;
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in audit.iter().filter(|e| e["kind"] == "applied") {
        if let Some(k) = e["request_id"].as_str().filter(|k| k.starts_with("crash-")) {
            per_key
                .entry(k.to_string())
                .or_default()
                .push(e["id"].as_u64().unwrap_or(0));
        }
    }
    for (key, ids) in &per_key {
        assert_eq!(ids.len(), 1, "{key} applied {} times", ids.len());
    }
    let keys: BTreeSet<&String> = all.keys().collect();
    assert_eq!(
        per_key.keys().collect::<BTreeSet<_>>(),
        keys,
        "every request applied exactly once"
    );
    for (key, id) in &acked {
        assert_eq!(
            per_key.get(key).map(|v| v[0]),
            Some(*id),
            "acknowledged {key} is in the audit with its id"
        );
    }
    let snap = http.get("/v1/snapshot", &token).await.body;
    let rolled: BTreeSet<String> = snap["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter(|f| f["environments"]["staging"]["cohorts"][0]["rolled_back"] == true)
        .filter_map(|f| f["key"].as_str().map(str::to_string))
        .collect();
    for r in all.values() {
        assert!(
            rolled.contains(r.body["action"]["flag"].as_str().unwrap_or("")),
            "{} not in the state",
            r.key
        );
    }
    eprintln!(
        "crash harness: {TRIALS} trials, {kills} kill -9s, {} requests ({sent} sent before the kills, {acked_total} acknowledged before them), {retried} retried after restart ({replayed} had been applied before the kill and were answered from their key), 0 lost, 0 doubled",
        all.len()
    );
}
