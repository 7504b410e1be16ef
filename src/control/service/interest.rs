//! Which environments' guardrail readings the open streams want. A stream asks for one
//! environment (`?readings=ENV`, what a dashboard shows) or for all; readings nobody asked for
//! are not published, so a dashboard watching staging is not woken every second by production's.

use super::ControlPlane;
use crate::domain::EnvKey;
use crate::wire::GuardrailReading;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open interests: `None` = every environment; counts per key.
#[derive(Debug, Default)]
pub(super) struct Interests(Mutex<HashMap<Option<EnvKey>, usize>>);

impl Interests {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Option<EnvKey>, usize>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The readings some open stream wants, in order.
    pub(super) fn wanted(&self, mut readings: Vec<GuardrailReading>) -> Vec<GuardrailReading> {
        let i = self.lock();
        if !i.contains_key(&None) {
            readings.retain(|r| i.contains_key(&Some(r.env.clone())));
        }
        readings
    }
}

/// Held by a stream for as long as it wants `env`'s readings (`None`: all of them).
pub struct Interest {
    cp: Arc<ControlPlane>,
    env: Option<EnvKey>,
}

impl Drop for Interest {
    fn drop(&mut self) {
        let mut i = self.cp.interests.lock();
        if let Some(n) = i.get_mut(&self.env) {
            *n -= 1;
            if *n == 0 {
                i.remove(&self.env);
            }
        }
    }
}

impl ControlPlane {
    /// Register a stream's interest in guardrail readings of `env` (None: every environment),
    /// before it subscribes.
    pub fn want_readings(self: &Arc<Self>, env: Option<EnvKey>) -> Interest {
        *self.interests.lock().entry(env.clone()).or_default() += 1;
        Interest {
            cp: Arc::clone(self),
            env,
        }
    }
}
