//! The header says `⚠ webhook failing` (in the danger style) while a hook's last delivery
//! failed, from the snapshot or the stream, and stops saying it when the hook recovers.

use super::super::effect::Event;
use super::super::update::update;
use super::fixture::*;
use super::view::{assert_style, find, render, text};
use crate::client::Clean;
use crate::client::stream::StreamEvent;
use crate::wire::webhook::HookHealth;

fn health(failing: bool) -> Event {
    Event::Stream(StreamEvent::Webhooks(Clean::new(vec![HookHealth {
        name: "ops\x1b[31m".into(),
        failing,
        ..Default::default()
    }])))
}

#[test]
fn a_failing_hook_shows_in_the_header_until_it_recovers() {
    let mut m = on_eu_west();
    let header = |m: &super::super::model::Model| {
        text(&render(m, 120, 30))
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert!(!header(&m).contains("webhook"), "{}", header(&m));
    let step = update(&mut m, health(true));
    assert!(step.redraw);
    let b = render(&m, 120, 30);
    assert!(header(&m).contains("⚠ webhook failing"), "{}", header(&m));
    let at = find(&b, "⚠ webhook failing");
    assert_style(&b, at[0], 17, crate::config::theme::builtin("dark").danger);
    // The same state again draws nothing new.
    assert!(!update(&mut m, health(true)).redraw);
    assert!(update(&mut m, health(false)).redraw);
    assert!(!header(&m).contains("webhook"), "{}", header(&m));
}
