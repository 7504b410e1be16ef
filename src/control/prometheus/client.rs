//! The Prometheus HTTP API client: instant and range queries, with timeouts, a bounded body and
//! faithful error mapping (`{"status":"error","errorType":…}` with 400/422/503, unreachable,
//! garbage). Knows nothing about flags or guardrails.

use super::template::parse_value;
use crate::sanitize::clean;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Largest response body read.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// Why a query gave no answer. `Display` is the text shown as the guardrail's source error.
#[derive(Debug, Clone, PartialEq)]
pub enum PromError {
    /// No connection, or no reply in time.
    Unreachable(String),
    /// Prometheus answered with `status: error`.
    Api {
        status: u16,
        error_type: String,
        error: String,
    },
    /// A reply that is not the Prometheus API's shape.
    Protocol(String),
}

impl std::fmt::Display for PromError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PromError::Unreachable(e) => write!(f, "prometheus unreachable: {}", clean(e, 200)),
            PromError::Api {
                error_type, error, ..
            } => write!(
                f,
                "prometheus: {}: {}",
                clean(error_type, 40),
                clean(error, 300)
            ),
            PromError::Protocol(e) => write!(f, "prometheus: {}", clean(e, 300)),
        }
    }
}

/// One series of a result: its labels and its points `(timestamp in ms, value)`, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(i64, f64)>,
}

impl Series {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
    /// The newest point's value (instant queries have exactly one).
    pub fn last(&self) -> Option<f64> {
        self.points.last().map(|p| p.1)
    }
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<RawInstant>),
    Matrix(Vec<RawRange>),
    Scalar((f64, String)),
    String(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct RawInstant {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

fn ms(ts: f64) -> i64 {
    (ts * 1000.0).round() as i64
}

fn point((ts, v): (f64, String)) -> Result<(i64, f64), PromError> {
    parse_value(&v)
        .map(|v| (ms(ts), v))
        .map_err(PromError::Protocol)
}

/// Decode a Prometheus API reply (any HTTP status) into series.
pub fn decode(status: u16, body: &[u8]) -> Result<Vec<Series>, PromError> {
    let env: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(_) if !(200..300).contains(&status) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(PromError::Protocol(format!(
                "HTTP {status}: {}",
                text.trim()
            )));
        }
        Err(e) => return Err(PromError::Protocol(format!("unreadable reply: {e}"))),
    };
    if env.status != "success" {
        return Err(PromError::Api {
            status,
            error_type: env.error_type.unwrap_or_else(|| "unknown".into()),
            error: env
                .error
                .unwrap_or_else(|| format!("HTTP {status} without an error message")),
        });
    }
    match env.data {
        None => Err(PromError::Protocol("a success reply without data".into())),
        Some(Data::Vector(v)) => v
            .into_iter()
            .map(|s| {
                Ok(Series {
                    labels: s.metric,
                    points: vec![point(s.value)?],
                })
            })
            .collect(),
        Some(Data::Matrix(m)) => m
            .into_iter()
            .map(|s| {
                let mut points = s
                    .values
                    .into_iter()
                    .map(point)
                    .collect::<Result<Vec<_>, _>>()?;
                points.sort_by_key(|p| p.0);
                Ok(Series {
                    labels: s.metric,
                    points,
                })
            })
            .collect(),
        Some(Data::Scalar(p)) => Ok(vec![Series {
            labels: BTreeMap::new(),
            points: vec![point(p)?],
        }]),
        Some(Data::String(_)) => Err(PromError::Protocol(
            "the query returned a string, not numbers".into(),
        )),
    }
}

fn unix(t: DateTime<Utc>) -> String {
    format!("{}.{:03}", t.timestamp(), t.timestamp_subsec_millis())
}

/// A Prometheus server (base URL without `/api/v1`).
#[derive(Debug, Clone)]
pub struct PromClient {
    base: String,
    http: reqwest::Client,
}

impl PromClient {
    pub fn new(base: &str) -> Result<PromClient, String> {
        let base = base.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| format!("--prometheus: not a URL `{}`: {e}", clean(&base, 100)))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "--prometheus: use an http:// or https:// URL, not `{}`",
                clean(&base, 100)
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .read_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("flagtop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the Prometheus HTTP client: {e}"))?;
        Ok(PromClient { base, http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /api/v1/query` at `at` (Prometheus' now when `None`).
    pub async fn query(
        &self,
        query: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Vec<Series>, PromError> {
        let mut params = vec![("query", query.to_string())];
        if let Some(t) = at {
            params.push(("time", unix(t)));
        }
        self.get("/api/v1/query", &params).await
    }

    /// `GET /api/v1/query_range` from `start` to `end` every `step_secs`.
    pub async fn query_range(
        &self,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_secs: u64,
    ) -> Result<Vec<Series>, PromError> {
        let params = [
            ("query", query.to_string()),
            ("start", unix(start)),
            ("end", unix(end)),
            ("step", format!("{}s", step_secs.max(1))),
        ];
        self.get("/api/v1/query_range", &params).await
    }

    async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Vec<Series>, PromError> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), params)
            .map_err(|e| PromError::Protocol(format!("cannot build the query URL: {e}")))?;
        let mut resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| PromError::Unreachable(describe(&e)))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| PromError::Unreachable(describe(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(PromError::Protocol(format!(
                    "reply larger than {} MiB",
                    MAX_BODY >> 20
                )));
            }
            body.extend_from_slice(&chunk);
        }
        decode(status, &body)
    }
}

/// A reqwest error with its causes, without the URL (which may carry a query of any length).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_vectors_with_special_values() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"variation":"on"},"value":[1780000000.5,"NaN"]},
            {"metric":{"variation":"off"},"value":[1780000000.5,"+Inf"]},
            {"metric":{},"value":[1780000000.5,"-Inf"]}]}}"#;
        let s = decode(200, body).unwrap_or_default();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].label("variation"), Some("on"));
        assert!(s[0].last().is_some_and(f64::is_nan));
        assert_eq!(s[1].last(), Some(f64::INFINITY));
        assert_eq!(s[2].points, vec![(1_780_000_000_500, f64::NEG_INFINITY)]);
    }

    #[test]
    fn decodes_matrices_sorted_by_time() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"variation":"on"},"values":[[20,"2"],[10,"1"]]}]}}"#;
        let s = decode(200, body).unwrap_or_default();
        assert_eq!(s[0].points, vec![(10_000, 1.0), (20_000, 2.0)]);
    }

    #[test]
    fn errors_are_mapped() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \u001b"}"#;
        let e = decode(400, body).err();
        assert_eq!(
            e.as_ref().map(ToString::to_string).as_deref(),
            Some("prometheus: bad_data: 1:5: parse error: unexpected \u{241b}")
        );
        assert!(matches!(e, Some(PromError::Api { status: 400, .. })));
        let e = decode(503, b"<html>Service Unavailable</html>")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("prometheus: HTTP 503: <html>Service Unavailable</html>")
        );
        assert!(decode(200, b"{}").is_err());
        assert!(decode(200, br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}"#).is_err());
        assert_eq!(
            PromError::Unreachable("connection refused".into()).to_string(),
            "prometheus unreachable: connection refused"
        );
    }

    #[test]
    fn scalar_is_one_unlabelled_series() {
        let s = decode(
            200,
            br#"{"status":"success","data":{"resultType":"scalar","result":[5,"1"]}}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            s,
            vec![Series {
                labels: BTreeMap::new(),
                points: vec![(5000, 1.0)]
            }]
        );
    }

    #[test]
    fn rejects_non_http_urls() {
        crate::app::init_tls();
        assert!(PromClient::new("ftp://x").is_err());
        assert!(PromClient::new("not a url").is_err());
        assert!(
            PromClient::new("http://127.0.0.1:9090/")
                .is_ok_and(|c| c.base() == "http://127.0.0.1:9090")
        );
    }
}
