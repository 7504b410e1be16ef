//! Guardrails with `samples_from = "exposure"`: their sample counts are the cohort's evaluations
//! served by this control plane (OFREP or the simulator), candidate against fallthrough, fed by
//! the engine every tick.

use super::*;
use crate::control::clock::Clock;
use crate::control::exposure::Served;

#[test]
fn a_guardrail_counting_samples_from_exposure_counts_what_was_served() {
    let (_dir, cp, clock) = plane("demo");
    cp.with_inner(|inner| {
        let flag = inner.state.flags.get_mut("checkout-v2").unwrap();
        let fe = Arc::make_mut(flag)
            .environments
            .get_mut("production")
            .unwrap();
        fe.guardrails.retain(|g| g.cohort.as_str() == "eu-west");
        fe.guardrails.truncate(1);
        fe.guardrails[0].samples_from = SampleSource::Exposure;
        fe.guardrails[0].min_samples = 100;
    });
    let metric = cp.state().flags["checkout-v2"].environments[&EnvKey::from("production")]
        .guardrails[0]
        .metric
        .clone();
    let served = |exposed: bool, n: u64| {
        cp.exposure.record_counted(
            clock.now(),
            [(
                Served {
                    flag: "checkout-v2",
                    env: "production",
                    cohort: Some("eu-west"),
                    variation: if exposed { "on" } else { "off" },
                    exposed,
                },
                n,
            )],
        )
    };
    let mut engine = Engine::default();
    let reading = |cp: &ControlPlane| {
        cp.readings()
            .into_iter()
            .find(|r| r.flag.as_str() == "checkout-v2" && r.metric == metric)
            .unwrap_or_else(|| panic!("no reading"))
    };
    // Values come from pushed samples (three of them); the counts from exposure.
    push(
        &cp,
        "checkout-v2",
        "production",
        &metric,
        "eu-west",
        0.01,
        0.01,
        3,
    );
    engine.tick(&cp, None).unwrap_or_else(|e| panic!("{e}"));
    served(true, 40);
    served(false, 10);
    clock.advance(1);
    engine.tick(&cp, None).unwrap_or_else(|e| panic!("{e}"));
    let r = reading(&cp);
    assert_eq!((r.samples, r.baseline_samples), (40, 10));
    assert_eq!(r.status, GuardrailStatus::Insufficient, "{r:?}");
    // More served: enough samples; counted once each (the engine feeds only what is new).
    served(true, 160);
    served(false, 200);
    clock.advance(1);
    engine.tick(&cp, None).unwrap_or_else(|e| panic!("{e}"));
    let r = reading(&cp);
    assert_eq!((r.samples, r.baseline_samples), (200, 210));
    assert_ne!(r.status, GuardrailStatus::Insufficient, "{r:?}");
}
