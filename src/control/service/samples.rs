//! Samples and readings: pushed or simulated guardrail samples, judging every guardrail, and
//! publishing the readings and exposure counts that changed. Samples are readings, not changes:
//! nothing here passes the door or bumps a revision.

use super::*;

impl ControlPlane {
    /// Accept pushed or simulated samples.
    pub fn push_samples(
        &self,
        samples: &[crate::wire::MetricSample],
    ) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let mut unguarded_new = 0;
        for (i, s) in samples.iter().enumerate() {
            if !bounds::check_sample(i, s, &inner.state)? && !inner.metrics.has_series(s) {
                unguarded_new += 1;
            }
        }
        if unguarded_new > 0 {
            let state = &inner.state;
            let guarded = |f: &FlagKey, e: &crate::domain::EnvKey, m: &str| {
                state
                    .flags
                    .get(f)
                    .and_then(|f| f.env(e))
                    .is_some_and(|fe| fe.guardrails.iter().any(|g| g.metric == m))
            };
            let unguarded = inner
                .metrics
                .count_series(|k| !guarded(&k.flag, &k.env, &k.metric));
            if unguarded + unguarded_new > bounds::MAX_UNGUARDED_SERIES {
                return Err(ServiceError::new(
                    ErrorKind::TooMany,
                    "too_many_series",
                    format!(
                        "{unguarded} series of metrics no guardrail reads are kept already (at most {}); define the guardrail first",
                        bounds::MAX_UNGUARDED_SERIES
                    ),
                ));
            }
        }
        for (i, s) in samples.iter().enumerate() {
            inner.metrics.push(s, now).map_err(|e| {
                ServiceError::new(
                    ErrorKind::Invalid,
                    "invalid_sample",
                    format!("sample {i}: {e}"),
                )
            })?;
        }
        Ok(samples.len())
    }

    /// Re-judge every guardrail; publish the readings that changed. Returns the new readings.
    pub fn evaluate_guardrails(&self, record: bool) -> Vec<GuardrailReading> {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        let readings = inner.metrics.evaluate(&inner.state, now, record);
        let before: HashMap<(&str, &str, &str, &str), &GuardrailReading> = inner
            .readings
            .iter()
            .map(|o| {
                (
                    (
                        o.flag.as_str(),
                        o.env.as_str(),
                        o.metric.as_str(),
                        o.cohort.as_str(),
                    ),
                    o,
                )
            })
            .collect();
        let changed: Vec<GuardrailReading> = readings
            .iter()
            .filter(|r| {
                before.get(&(
                    r.flag.as_str(),
                    r.env.as_str(),
                    r.metric.as_str(),
                    r.cohort.as_str(),
                )) != Some(r)
            })
            .cloned()
            .collect();
        drop(before);
        inner.readings = readings.clone();
        let changed = self.interests.wanted(changed);
        if !changed.is_empty() {
            let _ = self
                .tx
                .send(StreamMsg::Guardrails(Arc::new(GuardrailUpdate {
                    at: now,
                    readings: changed,
                    exposure: Vec::new(),
                })));
        }
        readings
    }

    /// The guardrail samples and the state they are judged against (simulator, Prometheus,
    /// Unleash usage). Samples are readings, not changes: they do not pass the door.
    pub(in crate::control) fn with_metrics<R>(
        &self,
        f: impl FnOnce(&mut Metrics, &State) -> R,
    ) -> R {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        f(&mut inner.metrics, &inner.state)
    }

    /// Publish the exposure series that changed since the last call (the engine calls it every
    /// few seconds) on the stream's `guardrails` event, so that dashboards see what was served.
    pub fn publish_exposure(&self) -> usize {
        let now = self.clock.now();
        let changed = self.exposure.changed(now);
        let n = changed.len();
        if n > 0 {
            let _ = self
                .tx
                .send(StreamMsg::Guardrails(Arc::new(GuardrailUpdate {
                    at: now,
                    readings: Vec::new(),
                    exposure: changed,
                })));
        }
        n
    }
}
