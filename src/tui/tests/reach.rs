//! Whether the header may say live: a request that cannot reach the control plane (refused,
//! out of file descriptors, timed out) turns it to "✕ unreachable" although the stream is up,
//! until a request gets an answer; rendered and in the model. Tests only.

use super::super::confirm::Phase;
use super::super::effect::{Effect, Event};
use super::super::model::Conn;
use super::super::update::update;
use super::fixture::*;
use super::view::{render, text};
use crate::client::stream::StreamEvent;
use crate::client::{Clean, ClientError};
use crossterm::event::KeyCode;

fn emfile() -> ClientError {
    ClientError::Unreachable {
        url: "http://127.0.0.1:4711".into(),
        detail: "Too many open files (os error 24)".into(),
    }
}

fn header(m: &super::super::model::Model) -> String {
    text(&render(m, 100, 30))
        .lines()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_confirm_that_cannot_connect_turns_the_header_from_live_to_unreachable() {
    let mut m = on_eu_west();
    assert!(m.is_live());
    assert!(header(&m).contains("● live"), "{}", header(&m));
    update(&mut m, key('r'));
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let first = submit(&fx).1.to_string();
    let step = update(
        &mut m,
        Event::Outcome {
            idem_key: first.clone(),
            result: Err(emfile()),
        },
    );
    assert!(step.redraw);
    assert!(
        matches!(
            m.data.conn,
            Conn::Unreachable {
                stream_up: true,
                ..
            }
        ),
        "{:?}",
        m.data.conn
    );
    let h = header(&m);
    assert!(h.contains("✕ unreachable") && !h.contains("live"), "{h}");
    // Stream changes keep flowing, but they do not prove requests get through.
    let rev = m.data.revision;
    update(
        &mut m,
        Event::Stream(StreamEvent::Connected { revision: rev.0 }),
    );
    assert!(m.is_live(), "a new stream connection got through");
    update(
        &mut m,
        Event::Outcome {
            idem_key: first.clone(),
            result: Err(emfile()),
        },
    );
    assert!(!m.is_live());
    // The retry (same key) may be sent, and its answer makes the view live again.
    assert!(matches!(
        confirm_of(&m).phase,
        Phase::Failed {
            retry_same_key: true,
            ..
        }
    ));
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    assert!(matches!(fx.as_slice(), [Effect::Submit { .. }]), "{fx:?}");
    let conflict = ClientError::Api {
        status: 409,
        code: "conflict".into(),
        message: "changed since you looked".into(),
        current_revision: None,
    };
    update(
        &mut m,
        Event::Outcome {
            idem_key: first,
            result: Err(conflict),
        },
    );
    assert!(
        m.is_live(),
        "an answer from the server proves it is reached"
    );
    assert!(header(&m).contains("● live"));
}

#[test]
fn a_failed_snapshot_or_timeout_is_not_live_and_a_good_snapshot_heals_it() {
    for e in [
        emfile(),
        ClientError::Timeout { url: "x".into() },
        ClientError::Interrupted {
            url: "x".into(),
            detail: "reset".into(),
        },
    ] {
        let mut m = model();
        update(&mut m, Event::Snapshot(Err(e)));
        assert!(!m.is_live());
        assert!(header(&m).contains("✕ unreachable"), "{}", header(&m));
        update(
            &mut m,
            Event::Snapshot(Ok(Box::new(Clean::new(snapshot())))),
        );
        assert!(m.is_live(), "{:?}", m.data.conn);
    }
    // While the stream itself is down, its state is what the header shows.
    let mut m = model();
    update(
        &mut m,
        Event::Stream(StreamEvent::Disconnected {
            reason: "gone".into(),
            retry_in: std::time::Duration::from_secs(1),
        }),
    );
    update(&mut m, Event::Snapshot(Err(emfile())));
    assert!(matches!(m.data.conn, Conn::Reconnecting { .. }));
    assert!(header(&m).contains("reconnecting"));
}
