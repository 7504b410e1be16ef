//! Stream followers for the load figures: real SSE clients of `GET /v1/stream` that record
//! every change id they receive, in order; the tokens they stream with (the server caps event
//! streams per token); and the writers' targets. Every wait here has a limit and ends the run
//! with a message naming what it waited for.

use super::*;
use flagtop::control::api::limits::MAX_STREAMS_PER_TOKEN;

/// Streams opened with one token (below the server's `MAX_STREAMS_PER_TOKEN`, which refuses
/// the next with 429 — a bench that ignored that answer waited for ever for its `hello`).
pub(crate) const STREAMS_PER_TOKEN: usize = 50;
const _: () = assert!(STREAMS_PER_TOKEN <= MAX_STREAMS_PER_TOKEN);
/// How long every stream has to say `hello` once opened.
pub(crate) const CONNECT_LIMIT: Duration = Duration::from_secs(60);
/// How long a follower has to hand back what it recorded once told to stop.
const STOP_LIMIT: Duration = Duration::from_secs(30);

/// What one follower recorded.
pub(crate) struct Followed {
    pub(crate) url: String,
    /// Change ids in arrival order.
    pub(crate) ids: Vec<u64>,
    pub(crate) resets: usize,
    /// Why the stream ended before it was told to stop (None: it ran to the end).
    pub(crate) ended: Option<String>,
}

impl Followed {
    /// Whether it holds every revision of `revs` (sorted), strictly increasing, with no reset
    /// and no early end; else what is wrong with it.
    pub(crate) fn check(&self, revs: &[u64]) -> Result<(), String> {
        let in_order = self.ids.windows(2).all(|w| w[0] < w[1]);
        let mut seen = self.ids.clone();
        seen.sort_unstable();
        let missing = revs
            .iter()
            .filter(|r| seen.binary_search(r).is_err())
            .count();
        if in_order && missing == 0 && self.resets == 0 && self.ended.is_none() {
            return Ok(());
        }
        Err(format!(
            "stream of {}: {} ids, in order {in_order}, {missing} of {} acknowledged missing, {} resets, ended early: {}",
            self.url,
            self.ids.len(),
            revs.len(),
            self.resets,
            self.ended.as_deref().unwrap_or("no")
        ))
    }
}

/// Open streams, each told to stop through one watch channel (a timer per chunk was
/// measurable client CPU at 120,000 events/s).
pub(crate) struct Followers {
    handles: Vec<tokio::task::JoinHandle<Followed>>,
    /// The newest change id each stream received so far.
    last: Arc<Vec<AtomicU64>>,
    stop: tokio::sync::watch::Sender<bool>,
    /// One message per stream: Ok at its `hello`, Err when it failed before.
    ready: tokio::sync::mpsc::UnboundedReceiver<Result<(), String>>,
}

impl Followers {
    /// One follower per `(url, token)`.
    pub(crate) fn open(streams: impl IntoIterator<Item = (String, String)>) -> Followers {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (ready_tx, ready) = tokio::sync::mpsc::unbounded_channel();
        let streams: Vec<_> = streams.into_iter().collect();
        let last: Arc<Vec<AtomicU64>> =
            Arc::new(streams.iter().map(|_| AtomicU64::new(0)).collect());
        let handles = streams
            .into_iter()
            .enumerate()
            .map(|(i, (url, token))| {
                let seen = Seen {
                    last: last.clone(),
                    i,
                };
                follower(url, token, stopped.clone(), ready_tx.clone(), seen)
            })
            .collect();
        Followers {
            handles,
            last,
            stop,
            ready,
        }
    }

    /// Wait until every stream said `hello`; end the run (naming the first failure, or how
    /// many said it) if one failed or `CONNECT_LIMIT` passed.
    pub(crate) async fn connected(&mut self) {
        let want = self.handles.len();
        let deadline = tokio::time::Instant::now() + CONNECT_LIMIT;
        for n in 0..want {
            match tokio::time::timeout_at(deadline, self.ready.recv()).await {
                Ok(Some(Ok(()))) => {}
                Ok(Some(Err(e))) => {
                    panic!("a stream failed before its hello ({n} of {want} connected): {e}")
                }
                Ok(None) => {
                    panic!("the streams' hello: every follower ended ({n} of {want} connected)")
                }
                Err(_) => panic!(
                    "timed out after {CONNECT_LIMIT:?} waiting for the streams' hello: {n} of {want} connected"
                ),
            }
        }
    }

    /// Wait until every stream has received change `rev` (the newest acknowledged), at most
    /// `limit`; returns how long it took, or None when some had not (the check after `finish`
    /// says which and what they miss).
    pub(crate) async fn drained(&self, rev: u64, limit: Duration) -> Option<Duration> {
        let t = Instant::now();
        while self.last.iter().any(|l| l.load(Ordering::SeqCst) < rev) {
            if t.elapsed() >= limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some(t.elapsed())
    }

    /// Tell every follower to stop and take what each recorded (ending the run if one does
    /// not hand it back within `STOP_LIMIT`).
    pub(crate) async fn finish(self) -> Vec<Followed> {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + STOP_LIMIT;
        let mut out = Vec::new();
        let n = self.handles.len();
        for (i, h) in self.handles.into_iter().enumerate() {
            match tokio::time::timeout_at(deadline, h).await {
                Ok(f) => out.push(f.expect("follower task")),
                Err(_) => panic!(
                    "timed out after {STOP_LIMIT:?} waiting for stream {i} of {n} to stop and hand back its ids"
                ),
            }
        }
        out
    }
}

/// Where a follower tells the newest change id it received.
struct Seen {
    last: Arc<Vec<AtomicU64>>,
    i: usize,
}

/// One SSE follower of `url`: says so on `ready` at its `hello` (or why it failed before),
/// records every change id in arrival order and every reset until `stopped` changes.
fn follower(
    url: String,
    token: String,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    ready: tokio::sync::mpsc::UnboundedSender<Result<(), String>>,
    seen: Seen,
) -> tokio::task::JoinHandle<Followed> {
    tokio::spawn(async move {
        let mut f = Followed {
            url: url.clone(),
            ids: Vec::new(),
            resets: 0,
            ended: None,
        };
        let fail = |f: &mut Followed, why: String, hello: bool| {
            if !hello {
                let _ = ready.send(Err(format!("{url}/v1/stream: {why}")));
            }
            f.ended = Some(why);
        };
        // No overall timeout (a stream is long-lived); connecting is bounded.
        let sc = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let sent = tokio::time::timeout(
            CONNECT_LIMIT,
            sc.get(format!("{url}/v1/stream"))
                .bearer_auth(&token)
                .send(),
        )
        .await;
        let mut resp = match sent {
            Ok(Ok(r)) if r.status() == 200 => r,
            Ok(Ok(r)) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                fail(&mut f, format!("answered {status}: {body}"), false);
                return f;
            }
            Ok(Err(e)) => {
                fail(&mut f, format!("request failed: {e}"), false);
                return f;
            }
            Err(_) => {
                fail(&mut f, format!("no answer within {CONNECT_LIMIT:?}"), false);
                return f;
            }
        };
        let mut p = SseParser::new(1 << 20, 8 << 20);
        let mut items = Vec::new();
        let mut hello = false;
        loop {
            let chunk = tokio::select! {
                c = resp.chunk() => c,
                _ = stopped.changed() => break,
            };
            let chunk = match chunk {
                Ok(Some(c)) => c,
                Ok(None) => break fail(&mut f, "the server ended the stream".into(), hello),
                Err(e) => break fail(&mut f, format!("the stream broke: {e}"), hello),
            };
            if let Err(e) = p.push(&chunk, &mut items) {
                break fail(&mut f, format!("unreadable SSE: {e:?}"), hello);
            }
            for it in items.drain(..) {
                if let SseItem::Event(e) = it {
                    match e.event.as_str() {
                        "hello" if !hello => {
                            hello = true;
                            let _ = ready.send(Ok(()));
                        }
                        "reset" => f.resets += 1,
                        "change" => {
                            let id =
                                e.id.as_deref()
                                    .and_then(|x| x.split('@').next()?.parse().ok())
                                    .unwrap_or(0);
                            f.ids.push(id);
                            seen.last[seen.i].fetch_max(id, Ordering::SeqCst);
                        }
                        _ => {}
                    }
                }
            }
        }
        f
    })
}

/// Viewer tokens for `streams` streams, `STREAMS_PER_TOKEN` each, minted with `admin` on `url`.
pub(crate) async fn stream_tokens(
    c: &reqwest::Client,
    url: &str,
    admin: &str,
    streams: usize,
) -> Vec<String> {
    let n = streams.div_ceil(STREAMS_PER_TOKEN);
    mint_tokens(c, url, admin, "viewer", n, "bench-streams").await
}

/// `n` new tokens of `role`, named `{prefix}-{i}`, minted with `admin` on `url`.
pub(crate) async fn mint_tokens(
    c: &reqwest::Client,
    url: &str,
    admin: &str,
    role: &str,
    n: usize,
    prefix: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..n {
        let r = c
            .post(format!("{url}/v1/tokens"))
            .bearer_auth(admin)
            .json(&json!({"name": format!("{prefix}-{i}"), "role": role}))
            .send()
            .await
            .expect("POST /v1/tokens");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "minting a {role} token: {body}");
        out.push(body["token"].as_str().expect("token").to_string());
    }
    out
}

/// What writers change in a bench: the first staging cohort of each flag (at most 2,048), with
/// its percent, from a snapshot's JSON.
pub(crate) fn write_targets(snap: &Value) -> Vec<(String, String, u8)> {
    snap["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter_map(|f| {
            let co = f["environments"]["staging"]["cohorts"]
                .as_array()?
                .first()?
                .clone();
            Some((
                f["key"].as_str()?.to_string(),
                co["name"].as_str()?.to_string(),
                co["percent"].as_u64()? as u8,
            ))
        })
        .take(2048)
        .collect()
}
