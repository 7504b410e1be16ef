//! Bounds the API keeps per token and in total: open event streams (count and queued bytes)
//! and the rate of writes, proposals and metric pushes (GCRA, from `governor`). Beyond a bound
//! the answer is `429` with `Retry-After`, never an unbounded queue.

use super::ApiError;
use crate::control::service::{ErrorKind, ServiceError};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Event streams open at once, in total and per token.
pub const MAX_STREAMS: usize = 1024;
pub const MAX_STREAMS_PER_TOKEN: usize = 64;
/// Bytes one stream may have queued for a client that does not read; beyond it the stream is
/// closed (the client reconnects and resyncs from a snapshot).
pub const STREAM_BUDGET_BYTES: usize = 1 << 20;
/// Bytes all streams together may have queued (with ~20 KB of buffers per connection, 1,024
/// open streams cost ~20 MB before any change: `benches/bounds.rs`, docs/performance.md).
pub const STREAMS_TOTAL_BUDGET_BYTES: usize = 16 << 20;
/// Per token: actions and decisions per second (and the burst above that rate).
pub const WRITES_PER_SEC: u32 = 1000;
pub const WRITES_BURST: u32 = 2000;
/// Per token: proposals per second and burst.
pub const PROPOSALS_PER_SEC: u32 = 20;
pub const PROPOSALS_BURST: u32 = 100;
/// Per token: metric pushes per second and burst (each carries up to `MAX_SAMPLES` samples).
pub const METRIC_PUSHES_PER_SEC: u32 = 200;
pub const METRIC_PUSHES_BURST: u32 = 400;
/// Per token: OFREP evaluations per second and burst (a bulk evaluation counts once).
pub const EVALUATIONS_PER_SEC: u32 = 5_000;
pub const EVALUATIONS_BURST: u32 = 10_000;
/// Seconds a refused stream is told to wait.
const STREAM_RETRY_SECS: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Write,
    Proposal,
    Metrics,
    Evaluate,
}

fn limiter(per_sec: u32, burst: u32) -> DefaultKeyedRateLimiter<String> {
    let per = NonZeroU32::new(per_sec).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(per);
    governor::RateLimiter::keyed(Quota::per_second(per).allow_burst(burst))
}

pub struct Limits {
    writes: DefaultKeyedRateLimiter<String>,
    proposals: DefaultKeyedRateLimiter<String>,
    metrics: DefaultKeyedRateLimiter<String>,
    evaluations: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    streams: Mutex<HashMap<String, usize>>,
    open_streams: AtomicUsize,
    /// Bytes queued on every stream together.
    pub queued: Arc<AtomicUsize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            writes: limiter(WRITES_PER_SEC, WRITES_BURST),
            proposals: limiter(PROPOSALS_PER_SEC, PROPOSALS_BURST),
            metrics: limiter(METRIC_PUSHES_PER_SEC, METRIC_PUSHES_BURST),
            evaluations: limiter(EVALUATIONS_PER_SEC, EVALUATIONS_BURST),
            clock: DefaultClock::default(),
            streams: Mutex::new(HashMap::new()),
            open_streams: AtomicUsize::new(0),
            queued: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// A refusal with `Retry-After`.
pub struct TooMany {
    error: ServiceError,
    retry_after_secs: u64,
    /// The answer ends its connection too (`Connection: close`): a refused stream's client is
    /// told to wait, and an idle connection kept for it would be memory held by a flood.
    close: bool,
}

impl From<TooMany> for ApiError {
    fn from(t: TooMany) -> ApiError {
        ApiError(t.error, Some(t.retry_after_secs))
    }
}

impl IntoResponse for TooMany {
    fn into_response(self) -> Response {
        let close = self.close;
        let mut r = ApiError::from(self).into_response();
        if close {
            r.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        r
    }
}

/// An open stream's place; dropping it frees the place.
pub struct StreamSlot {
    limits: Arc<Limits>,
    scope: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.limits.open_streams.fetch_sub(1, Ordering::SeqCst);
        // What it queued is free now: give it back to the system (see `control::memory`).
        crate::control::memory::release_soon();
        if let Ok(mut s) = self.limits.streams.lock()
            && let Some(n) = s.get_mut(&self.scope)
        {
            *n -= 1;
            if *n == 0 {
                s.remove(&self.scope);
            }
        }
    }
}

impl Limits {
    /// Take one request of `class` from the token's allowance.
    pub fn check(&self, class: Class, scope: &str) -> Result<(), TooMany> {
        let (limiter, what) = match class {
            Class::Write => (
                &self.writes,
                format!("{WRITES_PER_SEC} actions or decisions per second"),
            ),
            Class::Proposal => (
                &self.proposals,
                format!("{PROPOSALS_PER_SEC} proposals per second"),
            ),
            Class::Metrics => (
                &self.metrics,
                format!("{METRIC_PUSHES_PER_SEC} metric pushes per second"),
            ),
            Class::Evaluate => (
                &self.evaluations,
                format!("{EVALUATIONS_PER_SEC} evaluations per second"),
            ),
        };
        match limiter.check_key(&scope.to_string()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(TooMany {
                    error: ServiceError::new(
                        ErrorKind::TooMany,
                        "rate_limited",
                        format!("this token is limited to {what}; retry in {secs} s"),
                    ),
                    retry_after_secs: secs.max(1),
                    close: false,
                })
            }
        }
    }

    /// A place for one more stream of this token, or 429.
    pub fn open_stream(self: &Arc<Self>, scope: &str) -> Result<StreamSlot, TooMany> {
        let refuse = |msg: String| TooMany {
            error: ServiceError::new(ErrorKind::TooMany, "too_many_streams", msg),
            retry_after_secs: STREAM_RETRY_SECS,
            close: true,
        };
        let mut s = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let mine = s.get(scope).copied().unwrap_or(0);
        if mine >= MAX_STREAMS_PER_TOKEN {
            return Err(refuse(format!(
                "this token already has {MAX_STREAMS_PER_TOKEN} event streams open; close one first"
            )));
        }
        if self.open_streams.load(Ordering::SeqCst) >= MAX_STREAMS {
            return Err(refuse(format!(
                "the server has {MAX_STREAMS} event streams open; try again shortly"
            )));
        }
        self.open_streams.fetch_add(1, Ordering::SeqCst);
        *s.entry(scope.to_string()).or_default() += 1;
        Ok(StreamSlot {
            limits: self.clone(),
            scope: scope.to_string(),
        })
    }

    /// Event streams open now.
    pub fn streams_open(&self) -> usize {
        self.open_streams.load(Ordering::SeqCst)
    }

    /// Forget rate-limit state of tokens not seen lately (bounded memory).
    pub fn prune(&self) {
        self.writes.retain_recent();
        self.proposals.retain_recent();
        self.metrics.retain_recent();
        self.evaluations.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_places_are_bounded_per_token_and_freed_on_drop() {
        let l = Arc::new(Limits::default());
        let mut held: Vec<StreamSlot> = (0..MAX_STREAMS_PER_TOKEN)
            .map(|_| l.open_stream("a").unwrap_or_else(|_| panic!("refused")))
            .collect();
        assert!(l.open_stream("a").is_err());
        assert!(l.open_stream("b").is_ok());
        held.pop();
        assert!(l.open_stream("a").is_ok());
        drop(held);
        assert_eq!(l.streams_open(), 0);
    }

    #[test]
    fn a_burst_past_the_allowance_is_told_when_to_retry() {
        let l = Limits::default();
        let mut refused = None;
        for _ in 0..=PROPOSALS_BURST {
            if let Err(e) = l.check(Class::Proposal, "agent") {
                refused = Some(e.retry_after_secs);
            }
        }
        assert!(refused.is_some_and(|s| s >= 1));
        assert!(l.check(Class::Proposal, "someone-else").is_ok());
    }

    #[test]
    fn evaluations_have_their_own_allowance() {
        let l = Limits::default();
        let refused = (0..=3 * EVALUATIONS_BURST)
            .filter(|_| l.check(Class::Evaluate, "app").is_err())
            .count();
        assert!(refused >= 1);
        assert!(l.check(Class::Write, "app").is_ok());
    }
}
