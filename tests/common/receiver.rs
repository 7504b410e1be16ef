//! A real HTTP receiver for webhook tests on loopback (axum): it records every request's
//! headers and body, answers from a script of statuses (then 200), and counts by delivery id.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Got {
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Got {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Got>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// On a free loopback port; answers `script` in order, then 200.
    pub async fn start(script: &[u16]) -> Receiver {
        Receiver::start_on("127.0.0.1:0", script).await
    }

    pub async fn start_on(addr: &str, script: &[u16]) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let got = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(
            script.iter().copied().collect::<VecDeque<u16>>(),
        ));
        let (g, s) = (got.clone(), script.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (g, s) = (g.clone(), s.clone());
                async move {
                    let headers = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect();
                    let body = String::from_utf8_lossy(&body).into_owned();
                    g.lock().unwrap().push(Got { headers, body });
                    let status = s.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, got, task }
    }

    pub fn all(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// How many times each delivery id arrived.
    pub fn ids(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for g in self.all() {
            *out.entry(g.header("x-flagtop-delivery").to_string())
                .or_insert(0) += 1;
        }
        out
    }

    /// Wait (at most `secs`) until `done` holds for what arrived.
    pub async fn wait_for(&self, secs: u64, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let all = self.all();
            if done(&all) || std::time::Instant::now() > deadline {
                return all;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// A loopback address nothing listens on (bound, then let go).
pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}
