//! The door with an external flag store: writes outside the lock, unknown outcomes read back
//! and recorded as they really went, never reported as "nothing changed".

use super::*;

/// A flag store for tests: writes can be held (a hung call), lose their answer after applying
/// (an unknown outcome), lose it without applying, and reads can fail.
#[derive(Default)]
struct Scripted {
    flags: Mutex<BTreeMap<String, Flag>>,
    held: Mutex<bool>,
    released: Condvar,
    /// 0: answer; 1: apply, then lose the answer; 2: lose the request, then lose the answer.
    lose: AtomicU8,
    reads_fail: AtomicBool,
    calls: Mutex<Vec<String>>,
}

impl Scripted {
    fn hold(&self, on: bool) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = on;
        self.released.notify_all();
    }
    fn holds(&self, flag: &str, cohort: &str) -> Option<u8> {
        let flags = self.flags.lock().unwrap_or_else(|p| p.into_inner());
        flags
            .get(flag)?
            .env("staging")?
            .cohort(cohort)
            .map(|c| c.percent)
    }
}

impl FlagStore for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn propagation_secs(&self) -> u32 {
        0
    }
    fn apply(&self, action: &Action, before: &Flag, after: &Flag) -> Result<(), FlagStoreError> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(action.describe());
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        while *held && before.key.as_str() == "checkout-v2" {
            held = self.released.wait(held).unwrap_or_else(|p| p.into_inner());
        }
        drop(held);
        let lose = self.lose.load(Ordering::SeqCst);
        let mut flags = self.flags.lock().unwrap_or_else(|p| p.into_inner());
        if flags.get(before.key.as_str()) != Some(before) && lose != 2 {
            return Err(FlagStoreError::Conflict {
                store: "scripted",
                detail: "changed".into(),
            });
        }
        if lose != 2 {
            flags.insert(after.key.to_string(), after.clone());
        }
        match lose {
            0 => Ok(()),
            _ => Err(FlagStoreError::Unknown {
                store: "scripted",
                detail: "timed out".into(),
            }),
        }
    }
    fn read(&self, flag: &FlagKey) -> Result<Option<Flag>, FlagStoreError> {
        if self.reads_fail.load(Ordering::SeqCst) {
            return Err(FlagStoreError::Unavailable {
                store: "scripted",
                detail: "down".into(),
            });
        }
        Ok(self
            .flags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(flag.as_str())
            .cloned())
    }
}

fn external_plane(scenario_name: &str) -> (tempfile::TempDir, Arc<ControlPlane>, Arc<Scripted>) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario::build(scenario_name, t0()).unwrap_or_else(|e| panic!("{e}"));
    let ext = Arc::new(Scripted::default());
    let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let cp = ControlPlane::open_with(
        store,
        Arc::new(ManualClock::new(t0())),
        Some(seed),
        Some(ext.clone()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    *ext.flags.lock().unwrap_or_else(|p| p.into_inner()) = cp
        .state()
        .flags
        .into_iter()
        .map(|(k, f)| (k.to_string(), Arc::unwrap_or_clone(f)))
        .collect();
    (dir, cp, ext)
}

#[test]
fn while_an_external_write_hangs_everything_else_answers() {
    let (_d, cp, ext) = external_plane("calm");
    ext.hold(true);
    let op = person("ic", Role::Operator);
    std::thread::scope(|s| {
        let hung = s.spawn(|| cp.submit(&op, &req(staging("eu-west", 10)), None));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while ext
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the write never reached the store"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        // The lock is free: a snapshot, an action on another flag, a flagtop-only action on
        // the same flag all answer while the store call hangs.
        assert!(cp.snapshot(&op.actor).revision.0 > 0);
        let other = Action::SetPercent {
            flag: "assistant-pr-creation".into(),
            env: "staging".into(),
            cohort: "web-team".into(),
            percent: 10,
        };
        let o = cp.submit(&op, &req(other), None);
        assert!(
            o.is_ok()
                || o.as_ref()
                    .err()
                    .is_some_and(|e| e.kind != ErrorKind::Internal),
            "{o:?}"
        );
        let pause = Action::Pause {
            flag: "checkout-v2".into(),
            env: "staging".into(),
            note: None,
        };
        assert_eq!(
            cp.submit(&op, &req(pause), None).map(|o| o.outcome).ok(),
            Some(OutcomeKind::Applied)
        );
        // A second store write to the same flag is told, not queued behind the hung one.
        let second = cp
            .submit(&op, &req(staging("us-east", 10)), None)
            .err()
            .map(|e| e.kind);
        assert_eq!(second, Some(ErrorKind::Conflict));
        ext.hold(false);
        let answer = hung.join().unwrap_or_else(|_| panic!("submitter"));
        assert_eq!(answer.map(|o| o.outcome).ok(), Some(OutcomeKind::Applied));
    });
    assert_eq!(ext.holds("checkout-v2", "eu-west"), Some(10));
    let live = cp.state().flags["checkout-v2"]
        .env("staging")
        .and_then(|e| e.cohort("eu-west"))
        .map(|c| c.percent);
    assert_eq!(live, Some(10));
}

#[test]
fn an_unanswered_write_is_read_back_and_recorded_as_it_really_went() {
    let (_d, cp, ext) = external_plane("calm");
    let op = person("ic", Role::Operator);
    // Applied, answer lost: the read-back confirms it.
    ext.lose.store(1, Ordering::SeqCst);
    let o = cp
        .submit(&op, &req(staging("eu-west", 11)), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.outcome, OutcomeKind::Applied);
    let audit = cp.audit(None, None, 1).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        audit[0].reason.contains("reading it back confirmed"),
        "{:?}",
        audit[0].reason
    );
    // Never applied, answer lost: "nothing was changed" only because the read-back says so,
    // and recorded as not applied.
    ext.lose.store(2, Ordering::SeqCst);
    let e = cp
        .submit(&op, &req(staging("eu-west", 12)), None)
        .err()
        .unwrap_or_else(|| panic!("recorded as applied"));
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message
            .contains("reading scripted back shows the old values"),
        "{}",
        e.message
    );
    let audit = cp.audit(None, None, 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(audit[0].kind, AuditKind::NotApplied);
    assert_eq!(ext.holds("checkout-v2", "eu-west"), Some(11));
}

#[test]
fn an_unknown_outcome_is_never_nothing_changed_and_the_request_follows_the_truth() {
    let (_d, cp, ext) = external_plane("calm");
    let op = person("alice", Role::Operator);
    let expand = Action::SetPercent {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "us-east".into(),
        percent: 50,
    };
    let o = cp
        .submit(&op, &req(expand.clone()), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let id = o.approval_id.unwrap_or_else(|| panic!("no request"));
    // Bob approves; the store applies it but the answer is lost and it cannot be read back.
    ext.lose.store(1, Ordering::SeqCst);
    ext.reads_fail.store(true, Ordering::SeqCst);
    let e = cp
        .approve(&person("bob", Role::Approver), id.as_str(), "ok")
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(
        (e.kind, e.code),
        (ErrorKind::OutcomeUnknown, "outcome_unknown")
    );
    assert!(!e.message.contains("nothing was changed"));
    assert_eq!(cp.unsettled(), 1);
    let audit = cp.audit(None, None, 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(audit[0].kind, AuditKind::OutcomeUnknown);
    let state_of = |cp: &ControlPlane| {
        cp.approvals()
            .into_iter()
            .find(|a| a.id == id)
            .map(|a| a.state)
    };
    assert_eq!(state_of(&cp), Some(ApprovalState::Pending));
    // Still unknown: no second write to that flag meanwhile.
    ext.lose.store(0, Ordering::SeqCst);
    let again = Action::SetPercent {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "us-east".into(),
        percent: 10,
    };
    assert_eq!(
        cp.submit(&op, &req(again), None).err().map(|e| e.kind),
        Some(ErrorKind::Conflict)
    );
    assert_eq!(
        cp.settle_unknown(),
        0,
        "settled while the store cannot be read"
    );
    // The store answers again: the truth (applied) is recorded and the request follows it.
    ext.reads_fail.store(false, Ordering::SeqCst);
    assert_eq!(cp.settle_unknown(), 1);
    assert_eq!(cp.unsettled(), 0);
    assert_eq!(state_of(&cp), Some(ApprovalState::Applied));
    let live = cp.state().flags["checkout-v2"]
        .env("production")
        .and_then(|e| e.cohort("us-east"))
        .map(|c| c.percent);
    assert_eq!(live, Some(50));
}

#[test]
fn a_change_the_flag_store_applied_but_flagtop_could_not_record_is_never_reported_as_refused() {
    let (_d, cp, ext) = external_plane("calm");
    fail_next_commit(&cp);
    let e = cp
        .submit(
            &person("ic", Role::Operator),
            &req(staging("eu-west", 17)),
            None,
        )
        .err()
        .unwrap_or_else(|| panic!("recorded although the commit failed"));
    assert_eq!(
        (e.kind, e.code),
        (ErrorKind::OutcomeUnknown, "applied_not_recorded"),
        "{}",
        e.message
    );
    assert!(e.message.contains("applied the change"), "{}", e.message);
    assert_eq!(ext.holds("checkout-v2", "eu-west"), Some(17));
}
