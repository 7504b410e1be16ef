//! Redraw pacing for the event loop (a token bucket); no terminal, no model.

use std::time::Duration;

/// Redraw pacing: a few frames at once (a key, the dialog it opens, the answer that comes back a
/// few ms later must not wait for a frame slot), and at most `max_fps` frames a second beyond
/// that, so a flood of changes becomes one frame per slot. A token bucket.
pub(super) struct Pace {
    tokens: f64,
    at: tokio::time::Instant,
    per_frame: Duration,
}

impl Pace {
    /// Frames that may be drawn back to back.
    const BURST: f64 = 4.0;

    pub(super) fn new(max_fps: u32) -> Pace {
        Pace {
            tokens: Self::BURST,
            at: tokio::time::Instant::now(),
            per_frame: Duration::from_secs(1) / max_fps.max(1),
        }
    }

    fn refill(&mut self, now: tokio::time::Instant) {
        let gained =
            now.saturating_duration_since(self.at).as_secs_f64() / self.per_frame.as_secs_f64();
        self.tokens = (self.tokens + gained).min(Self::BURST);
        self.at = now;
    }

    /// When the next frame may be drawn (`now` when it may be drawn now).
    pub(super) fn ready_at(&mut self, now: tokio::time::Instant) -> tokio::time::Instant {
        self.refill(now);
        if self.tokens >= 1.0 - 1e-6 {
            now
        } else {
            now + self.per_frame.mul_f64(1.0 - self.tokens)
        }
    }

    pub(super) fn spend(&mut self, now: tokio::time::Instant) {
        self.refill(now);
        self.tokens = (self.tokens - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::Pace;
    use std::time::Duration;

    #[test]
    fn pacing_allows_a_burst_then_holds_to_the_frame_rate() {
        let t0 = tokio::time::Instant::now();
        let mut p = Pace::new(25); // 40 ms a frame
        for _ in 0..4 {
            assert_eq!(p.ready_at(t0), t0, "a burst of four frames draws at once");
            p.spend(t0);
        }
        let next = p.ready_at(t0);
        assert!(
            next >= t0 + Duration::from_millis(39) && next <= t0 + Duration::from_millis(41),
            "{:?}",
            next - t0
        );
        // A second later the burst is back, never more than four.
        let t1 = t0 + Duration::from_secs(1);
        for _ in 0..4 {
            assert_eq!(p.ready_at(t1), t1);
            p.spend(t1);
        }
        assert!(p.ready_at(t1) > t1);
    }
}
