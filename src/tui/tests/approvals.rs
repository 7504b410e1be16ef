//! Unit tests of approvals through `update` and the model: approve shows the change it applies,
//! reject says nothing changes, roles that cannot decide are refused before a dialog, outdated
//! and superseded requests are named, pending first (oldest first) and decided below. Tests only.

use super::super::dialog::Dialog;
use super::super::effect::Event;
use super::super::model::{Model, Pane};
use super::super::update::update;
use super::fixture::*;
use crate::client::Clean;
use crate::client::stream::StreamEvent;
use crate::domain::{ApprovalState, Revision, Role, Tier};
use crate::wire::Change;

fn as_role(name: &str, role: Role) -> Model {
    let mut snap = snapshot();
    snap.identity = crate::domain::Actor::from_token(name, role);
    let mut m = Model::new(
        Clean::new(snap),
        "x",
        None,
        crate::config::keymap::builtin_default(),
        t0(),
    );
    update(
        &mut m,
        Event::Stream(StreamEvent::Connected {
            revision: STATE_REV,
        }),
    );
    m.focus = Pane::Approvals;
    m
}

fn change(m: &mut Model, c: Change) {
    update(
        m,
        Event::Stream(StreamEvent::Change(Box::new(Clean::new(c)))),
    );
}

#[test]
fn approve_shows_the_change_it_applies_and_reject_says_nothing_changes() {
    let mut m = as_role("alice", Role::Approver);
    update(&mut m, key('a'));
    let c = confirm_of(&m);
    assert!(
        c.preview.title.starts_with("approve apr-1"),
        "{}",
        c.preview.title
    );
    assert!(
        c.preview.change.iter().any(|l| l.contains("→")),
        "the change that will apply: {:?}",
        c.preview.change
    );
    assert!(
        c.preview
            .change
            .iter()
            .any(|l| l == "approving applies this change now"),
        "{:?}",
        c.preview.change
    );
    assert!(
        !c.preview.needs_approval,
        "approving does not become another request"
    );
    m.dialog = None;
    update(&mut m, key('x'));
    let c = confirm_of(&m);
    assert!(
        c.preview.title.starts_with("reject apr-1"),
        "{}",
        c.preview.title
    );
    assert_eq!(
        c.preview.change,
        ["nothing changes: the request is closed as rejected; no flag is touched"]
    );
    assert_eq!(
        (
            c.preview.tier,
            c.preview.reverse.as_ref(),
            c.preview.needs_approval
        ),
        (Tier::Hold, None, false)
    );
}

#[test]
fn roles_that_cannot_decide_are_refused_before_a_dialog() {
    let mut m = as_role("olga", Role::Operator);
    update(&mut m, key('a'));
    assert!(
        m.dialog.is_none(),
        "no dialog for a decision that would be refused"
    );
    assert!(
        m.status
            .as_ref()
            .unwrap()
            .text
            .contains("the operator role cannot approve"),
        "{:?}",
        m.status
    );
    update(&mut m, key('x'));
    assert!(m.dialog.is_none());
    assert!(
        m.status.as_ref().unwrap().text.contains("cannot reject"),
        "{:?}",
        m.status
    );
    // The requester may withdraw their own request, whatever their role.
    let mut m = as_role("ops-assistant", Role::Operator);
    update(&mut m, key('x'));
    let c = confirm_of(&m);
    assert!(
        c.preview.title.starts_with("withdraw apr-1"),
        "{}",
        c.preview.title
    );
    assert!(c.preview.change[0].contains("your request is withdrawn"));
}

#[test]
fn a_request_whose_flag_changed_since_is_outdated_and_cannot_be_approved() {
    let mut m = as_role("alice", Role::Approver);
    let req = m.data.approvals[0].clone();
    let flag = req.action.flag().unwrap().clone();
    let mut f = (**m.data.state.flags.get(&flag).unwrap()).clone();
    f.revision = Revision(50);
    change(
        &mut m,
        Change {
            revision: Revision(50),
            at: t0(),
            flags: vec![f.into()],
            frozen: None,
            approvals: vec![],
            audit: vec![],
        },
    );
    assert_eq!(
        m.outdated(&m.data.approvals[0]),
        Some((Revision(40), Revision(50)))
    );
    assert_eq!(m.approval_label(&m.data.approvals[0]), "outdated");
    update(&mut m, key('a'));
    assert!(m.dialog.is_none());
    assert!(
        m.status
            .as_ref()
            .unwrap()
            .text
            .starts_with("outdated (revision 40 → 50)"),
        "{:?}",
        m.status
    );
    update(&mut m, key('x'));
    assert!(
        matches!(m.dialog, Some(Dialog::Confirm(_))),
        "an outdated request can still be rejected"
    );
}

#[test]
fn pending_first_oldest_first_then_decided_and_superseded_named() {
    let mut m = as_role("alice", Role::Approver);
    update(&mut m, key('j')); // selects apr-1 by key
    let mut newer = m.data.approvals[0].clone();
    newer.id = "apr-new".into();
    newer.created_at = t0();
    let mut older = m.data.approvals[0].clone();
    older.id = "apr-old".into();
    older.created_at = t0() - chrono::Duration::minutes(30);
    let mut done = m.data.approvals[0].clone();
    done.id = "apr-done".into();
    done.created_at = t0() - chrono::Duration::hours(2);
    done.state = ApprovalState::Rejected;
    done.decided_at = Some(t0() - chrono::Duration::minutes(1));
    done.decision_reason =
        Some("superseded: the same change was applied directly (audit #9)".into());
    let c = Change {
        revision: Revision(43),
        at: t0(),
        flags: vec![],
        frozen: None,
        approvals: vec![done, newer, older],
        audit: vec![],
    };
    change(&mut m, c);
    let ids: Vec<&str> = m.data.approvals.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["apr-old", "apr-1", "apr-new", "apr-done"]);
    assert_eq!(
        m.approval_label(&m.data.approvals[3]),
        "superseded",
        "not shown as rejected"
    );
    // The selection stayed on its request when rows moved.
    assert_eq!(
        (
            m.approvals.sel.row(),
            m.selected_approval().map(|a| a.id.as_str())
        ),
        (1, Some("apr-1"))
    );
}
