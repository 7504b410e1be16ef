//! Owns the hooks end-to-end tests use to reach paths no user should: with the `test-hooks`
//! cargo feature, `FLAGTOP_TEST_PANIC_AFTER_MS=N` panics on the loop's thread N ms after the
//! first frame (tests/terminal_lifecycle.rs proves the panic hook gives the terminal back).
//! Without the feature (every shipped build) `Hooks` is empty and never armed.

use tokio::time::Instant;

#[derive(Debug, Default)]
pub struct Hooks {
    #[cfg(feature = "test-hooks")]
    panic_after: Option<std::time::Duration>,
    #[cfg(feature = "test-hooks")]
    panic_at: Option<Instant>,
}

impl Hooks {
    #[cfg(feature = "test-hooks")]
    pub fn from_env() -> Hooks {
        let ms = std::env::var("FLAGTOP_TEST_PANIC_AFTER_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok());
        Hooks {
            panic_after: ms.map(std::time::Duration::from_millis),
            panic_at: None,
        }
    }

    #[cfg(not(feature = "test-hooks"))]
    pub fn from_env() -> Hooks {
        Hooks::default()
    }

    /// A frame was drawn at `at`.
    pub fn drawn(&mut self, at: Instant) {
        #[cfg(feature = "test-hooks")]
        {
            self.panic_at = self.panic_at.or_else(|| self.panic_after.map(|d| at + d));
        }
        let _ = at;
    }

    /// Whether a hook waits to fire.
    pub fn armed(&self) -> bool {
        #[cfg(feature = "test-hooks")]
        {
            self.panic_at.is_some()
        }
        #[cfg(not(feature = "test-hooks"))]
        false
    }

    /// Resolves when the armed hook is due (never when none is).
    pub async fn due(&self) {
        #[cfg(feature = "test-hooks")]
        if let Some(at) = self.panic_at {
            return tokio::time::sleep_until(at).await;
        }
        std::future::pending::<()>().await
    }

    /// Runs the hook that is due.
    pub fn fire(&mut self) {
        #[cfg(feature = "test-hooks")]
        #[allow(clippy::panic)] // the deliberate panic of test-hooks builds, never shipped
        if self.panic_at.is_some() {
            panic!("FLAGTOP_TEST_PANIC_AFTER_MS: deliberate test panic");
        }
    }
}
