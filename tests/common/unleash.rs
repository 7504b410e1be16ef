//! Helpers for tests against a REAL Unleash (started by scripts/unleash via scripts/test): the
//! server under test (a loud skip locally, a failure under CI=true), features made directly
//! through its Admin API, and `flagtop serve` in front of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{Http, Server};
use serde_json::{Value, json};

pub struct Unleash {
    pub url: String,
    pub token: String,
    pub http: reqwest::Client,
}

/// The Unleash under test, or None (a loud skip locally; a failure under CI=true).
pub fn unleash() -> Option<Unleash> {
    let url = std::env::var("FLAGTOP_TEST_UNLEASH_URL").ok();
    let token = std::env::var("UNLEASH_ADMIN_TOKEN").ok();
    match (url, token) {
        (Some(url), Some(token)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(Unleash {
                url,
                token,
                http: reqwest::Client::new(),
            })
        }
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "Unleash is not running (FLAGTOP_TEST_UNLEASH_URL unset): under CI=true this is a failure, not a skip; run ./scripts/test"
            )
        }
        _ => {
            eprintln!(
                "\n*** SKIPPED: Unleash tests — no Unleash running. Run ./scripts/test to start one. ***\n"
            );
            None
        }
    }
}

impl Unleash {
    pub fn feature_url(&self, name: &str) -> String {
        format!("{}/api/admin/projects/default/features/{name}", self.url)
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        url: String,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, url)
            .header("authorization", &self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("unleash request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A feature with flexibleRollout strategies `(title, rollout)` in production, turned on.
    pub async fn feature(&self, name: &str, strategies: &[(&str, u8)]) -> Vec<String> {
        let (s, _) = self
            .call(
                reqwest::Method::POST,
                format!("{}/api/admin/projects/default/features", self.url),
                Some(json!({"name": name, "type": "release", "description": "test flag"})),
            )
            .await;
        assert_eq!(s, 201, "create feature");
        let mut ids = Vec::new();
        for (title, rollout) in strategies {
            let body = json!({"name": "flexibleRollout", "title": title,
                "constraints": [{"contextName": "region", "operator": "IN", "values": [title]}],
                "parameters": {"rollout": rollout.to_string(), "stickiness": "default", "groupId": name}});
            let (s, v) = self
                .call(
                    reqwest::Method::POST,
                    format!(
                        "{}/environments/production/strategies",
                        self.feature_url(name)
                    ),
                    Some(body),
                )
                .await;
            assert_eq!(s, 200, "add strategy: {v}");
            ids.push(v["id"].as_str().expect("id").to_string());
        }
        let (s, _) = self
            .call(
                reqwest::Method::POST,
                format!("{}/environments/production/on", self.feature_url(name)),
                None,
            )
            .await;
        assert_eq!(s, 200);
        ids
    }

    /// (enabled, [(title, disabled, rollout)]) of production, read back from Unleash.
    pub async fn production(&self, name: &str) -> (bool, Vec<(String, bool, String)>) {
        let (_, v) = self
            .call(reqwest::Method::GET, self.feature_url(name), None)
            .await;
        let env = v["environments"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["name"] == "production"))
            .cloned()
            .expect("production");
        let strategies = env["strategies"]
            .as_array()
            .expect("strategies")
            .iter()
            .map(|s| {
                (
                    s["title"].as_str().unwrap_or("").to_string(),
                    s["disabled"].as_bool().unwrap_or(false),
                    s["parameters"]["rollout"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect();
        (env["enabled"].as_bool().unwrap_or(false), strategies)
    }

    /// What an SDK reports: `yes`/`no` evaluations of `name` in production (Unleash flushes
    /// reported metrics to its database about every 5 s).
    pub async fn report_evaluations(&self, name: &str, yes: u64, no: u64) {
        let stop = chrono::Utc::now();
        let start = stop - chrono::Duration::seconds(10);
        let body = json!({"appName": "checkout-web", "instanceId": "test-1", "environment": "production",
            "bucket": {"start": start.to_rfc3339(), "stop": stop.to_rfc3339(), "toggles": {name: {"yes": yes, "no": no, "variants": {}}}}});
        let sdk = self.sdk_token("production").await;
        let r = self
            .http
            .post(format!("{}/api/client/metrics", self.url))
            .header("authorization", sdk)
            .json(&body)
            .send()
            .await
            .expect("metrics");
        let (s, v) = (
            r.status().as_u16(),
            r.json::<Value>().await.unwrap_or(Value::Null),
        );
        assert_eq!(s, 202, "client metrics: {v}");
    }

    pub async fn patch(&self, name: &str, id: &str, ops: Value) -> u16 {
        self.call(
            reqwest::Method::PATCH,
            format!(
                "{}/environments/production/strategies/{id}",
                self.feature_url(name)
            ),
            Some(ops),
        )
        .await
        .0
    }
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

pub fn serve(dir: &std::path::Path, u: &Unleash, poll_secs: &str) -> Server {
    Server::start(
        dir,
        &[
            "--no-simulate",
            "--flags",
            "unleash",
            "--unleash-url",
            &u.url,
            "--unleash-poll-secs",
            poll_secs,
        ],
    )
}

pub async fn act(http: &Http, token: &str, action: Value, reason: &str) -> super::Reply {
    http.post(
        "/v1/actions",
        token,
        json!({"action": action, "reason": reason}),
    )
    .await
}

impl Unleash {
    /// A feature with the given raw strategies in `env`, turned on there; their ids.
    pub async fn feature_with(&self, name: &str, env: &str, strategies: &[Value]) -> Vec<String> {
        let url = format!("{}/api/admin/projects/default/features", self.url);
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                url,
                Some(json!({"name": name, "type": "release"})),
            )
            .await;
        assert_eq!(s, 201, "create feature: {v}");
        let mut ids = Vec::new();
        for body in strategies {
            let (s, v) = self
                .call(
                    reqwest::Method::POST,
                    format!("{}/environments/{env}/strategies", self.feature_url(name)),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(s, 200, "add strategy: {v}");
            ids.push(v["id"].as_str().expect("id").to_string());
        }
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                format!("{}/environments/{env}/on", self.feature_url(name)),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        ids
    }

    /// A flexibleRollout strategy for `region IN [title]` at `rollout`.
    pub fn region(name: &str, title: &str, rollout: u8) -> Value {
        json!({"name": "flexibleRollout", "title": title,
            "constraints": [{"contextName": "region", "operator": "IN", "values": [title]}],
            "parameters": {"rollout": rollout.to_string(), "stickiness": "default", "groupId": name}})
    }

    /// PATCH one strategy of `name` in `env` (JSON Patch ops): the HTTP status.
    pub async fn patch_in(&self, name: &str, env: &str, id: &str, ops: Value) -> u16 {
        self.call(
            reqwest::Method::PATCH,
            format!(
                "{}/environments/{env}/strategies/{id}",
                self.feature_url(name)
            ),
            Some(ops),
        )
        .await
        .0
    }

    /// The raw strategy `id` of `name` in `env`.
    pub async fn strategy(&self, name: &str, env: &str, id: &str) -> Value {
        self.call(
            reqwest::Method::GET,
            format!(
                "{}/environments/{env}/strategies/{id}",
                self.feature_url(name)
            ),
            None,
        )
        .await
        .1
    }

    /// Archive `name` (Unleash's DELETE on a feature archives it).
    pub async fn archive(&self, name: &str) {
        let (s, v) = self
            .call(reqwest::Method::DELETE, self.feature_url(name), None)
            .await;
        assert!(s == 200 || s == 202, "archive: {s} {v}");
    }
}

/// Poll `check` until it returns Some, or fail after `secs` with `what`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(t) = check().await {
            return t;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// The flag `key` from a snapshot body (Null when absent).
pub fn flag<'a>(snap: &'a Value, key: &str) -> &'a Value {
    snap["flags"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["key"] == key))
        .unwrap_or(&Value::Null)
}

impl Unleash {
    /// An SDK token scoped to `env` (Unleash 8 takes the environment of SDK metrics and
    /// registrations from the token, not from the body): `backend` on 8.x, `client` on 7.x.
    pub async fn sdk_token(&self, env: &str) -> String {
        let url = format!("{}/api/admin/api-tokens", self.url);
        for kind in ["backend", "client"] {
            let body = json!({"tokenName": format!("flagtop-test-{kind}"), "type": kind, "environment": env, "projects": ["*"]});
            let (s, v) = self
                .call(reqwest::Method::POST, url.clone(), Some(body))
                .await;
            if s == 201 || s == 200 {
                return v["secret"].as_str().expect("secret").to_string();
            }
        }
        panic!("could not create an SDK token for {env}");
    }
}

/// A `set_percent` action body.
pub fn set_percent(flag: &str, env: &str, cohort: &str, percent: u8) -> Value {
    json!({"type": "set_percent", "flag": flag, "env": env, "cohort": cohort, "percent": percent})
}

pub async fn audit(http: &Http, token: &str, flag: &str) -> Vec<Value> {
    http.get(&format!("/v1/audit?flag={flag}&limit=500"), token)
        .await
        .body["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn signal(server: &Server, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &server.child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig}");
}
