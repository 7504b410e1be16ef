//! Sample buckets, windows and guardrail judgement over pushed samples.

use super::*;
use chrono::TimeZone;

fn sample(arm: Arm, value: f64, count: u64, at: DateTime<Utc>) -> MetricSample {
    MetricSample {
        flag: "f".into(),
        env: "production".into(),
        metric: "m".into(),
        cohort: "c".into(),
        arm,
        value,
        count,
        at: Some(at),
    }
}

#[test]
fn window_weights_by_count_and_forgets_old_buckets() {
    let t = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut m = Metrics::default();
    m.push(&sample(Arm::Candidate, 1.0, 10, t), t).ok();
    m.push(
        &sample(Arm::Candidate, 4.0, 30, t + chrono::Duration::seconds(1)),
        t,
    )
    .ok();
    let key = SeriesKey {
        flag: "f".into(),
        env: "production".into(),
        metric: "m".into(),
        cohort: "c".into(),
    };
    let w = m.window(&key, Arm::Candidate, 60, t + chrono::Duration::seconds(2));
    assert_eq!(w.samples, 40);
    assert!((w.value.unwrap_or(0.0) - 3.25).abs() < 1e-9);
    let later = m.window(&key, Arm::Candidate, 60, t + chrono::Duration::seconds(200));
    assert_eq!(
        later,
        WindowStat {
            value: None,
            samples: 0
        }
    );
}

#[test]
fn refuses_bad_samples() {
    let t = Utc::now();
    let mut m = Metrics::default();
    assert_eq!(
        m.push(&sample(Arm::Baseline, f64::NAN, 1, t), t),
        Err(SampleError::NotFinite)
    );
    assert_eq!(
        m.push(
            &sample(Arm::Baseline, 1.0, 1, t + chrono::Duration::seconds(3600)),
            t
        ),
        Err(SampleError::Future)
    );
}

/// One guardrail of the demo, switched to Unleash counts: (state, flag, env, min_samples).
fn unleash_counted(now: DateTime<Utc>) -> (State, FlagKey, EnvKey) {
    let mut state = crate::control::scenario::build("demo", now)
        .map(|s| s.state)
        .unwrap_or_default();
    let mut target = None;
    for flag in state.flags.values_mut() {
        let flag = std::sync::Arc::make_mut(flag);
        for (env, fe) in flag.environments.iter_mut() {
            if target.is_none() && !fe.guardrails.is_empty() {
                fe.guardrails.truncate(1);
                fe.guardrails[0].samples_from = SampleSource::Unleash;
                fe.guardrails[0].threshold = crate::domain::Threshold::Absolute { max: 0.05 };
                fe.guardrails[0].min_samples = 100;
                target = Some((flag.key.clone(), env.clone()));
            } else {
                fe.guardrails.clear();
            }
        }
    }
    let (flag, env) = target.unwrap_or_else(|| ("none".into(), "none".into()));
    (state, flag, env)
}

#[test]
fn unleash_counts_replace_the_sample_counts() {
    let t = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let (state, flag, env) = unleash_counted(t);
    let spec = state.flags[&flag].environments[&env].guardrails[0].clone();
    let mut m = Metrics::default();
    // Values arrive by push (few samples); counts are Unleash's.
    for arm in [Arm::Candidate, Arm::Baseline] {
        let s = MetricSample {
            flag: flag.clone(),
            env: env.clone(),
            metric: spec.metric.clone(),
            cohort: spec.cohort.to_string(),
            arm,
            value: 0.01,
            count: 3,
            at: Some(t),
        };
        m.push(&s, t).ok();
    }
    // Not following Unleash: insufficient, and it says why.
    let r = m.evaluate(&state, t, false).remove(0);
    assert_eq!(r.status, GuardrailStatus::Insufficient);
    assert!(
        r.source_error
            .as_deref()
            .is_some_and(|e| e.contains("--flags unleash")),
        "{r:?}"
    );
    // Following, but too few evaluations yet.
    m.follow_unleash_counts();
    m.record_exposures(&flag, &env, 40, 10, t);
    let r = m.evaluate(&state, t, false).remove(0);
    assert_eq!(
        (
            r.samples,
            r.baseline_samples,
            r.status,
            r.source_error.clone()
        ),
        (40, 10, GuardrailStatus::Insufficient, None)
    );
    // Enough evaluations: judged on the pushed value.
    m.record_exposures(&flag, &env, 80, 30, t + chrono::Duration::seconds(1));
    let r = m
        .evaluate(&state, t + chrono::Duration::seconds(1), false)
        .remove(0);
    assert_eq!(
        (r.samples, r.baseline_samples, r.status),
        (120, 40, GuardrailStatus::Healthy)
    );
    // A failed read of the client metrics: insufficient with the reason, never healthy.
    m.set_exposure_error(&flag, Some("HTTP 503".into()));
    let r = m
        .evaluate(&state, t + chrono::Duration::seconds(1), false)
        .remove(0);
    assert_eq!(r.status, GuardrailStatus::Insufficient);
    assert_eq!(
        r.source_error.as_deref(),
        Some("Unleash client metrics: HTTP 503")
    );
    // Recovered; once the window has passed the counts are gone again.
    m.set_exposure_error(&flag, None);
    let later = t + chrono::Duration::seconds(spec.window_secs as i64 + 2);
    let r = m.evaluate(&state, later, false).remove(0);
    assert_eq!(
        (r.samples, r.baseline_samples, r.source_error),
        (0, 0, None)
    );
}

#[test]
fn buckets_stay_bounded() {
    let t = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut m = Metrics::default();
    for i in 0..10_000 {
        let now = t + chrono::Duration::seconds(i);
        m.push(&sample(Arm::Candidate, 1.0, 1, now), now).ok();
    }
    let s = m
        .series
        .values()
        .next()
        .map(|s| s.candidate.len())
        .unwrap_or(0);
    assert!(s <= MAX_WINDOW_SECS as usize);
}
