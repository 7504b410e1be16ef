//! Owns the default key table (PRODUCT.md) and key → command lookup; it must not act on the
//! model or know about dialogs (text inputs get raw keys before this table is consulted).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for, outside of dialogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cmd {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    Details,
    Filter,
    Sort,
    Command,
    Help,
    CycleEnv,
    Quit,
    StepUp,
    StepDown,
    Percent,
    Advance,
    Retreat,
    PauseResume,
    Rollback,
    Undo,
    Freeze,
    Kill,
    Approve,
    Reject,
}

impl Cmd {
    /// Whether this command changes flag state (and so opens a confirm dialog).
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Cmd::StepUp
                | Cmd::StepDown
                | Cmd::Percent
                | Cmd::Advance
                | Cmd::Retreat
                | Cmd::PauseResume
                | Cmd::Rollback
                | Cmd::Undo
                | Cmd::Freeze
                | Cmd::Kill
                | Cmd::Approve
                | Cmd::Reject
        )
    }
}

/// One binding: the key, the label shown to people, and what it does.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub code: KeyCode,
    pub label: &'static str,
    pub cmd: Cmd,
    pub desc: &'static str,
    /// Shown in the footer's key hints (the rest only in `?` help).
    pub footer: bool,
}

const fn b(code: KeyCode, label: &'static str, cmd: Cmd, desc: &'static str, footer: bool) -> Binding {
    Binding { code, label, cmd, desc, footer }
}

/// The default key table. No Ctrl bindings: nothing collides with tmux/screen prefixes.
pub const DEFAULT: &[Binding] = &[
    b(KeyCode::Char('?'), "?", Cmd::Help, "help", true),
    b(KeyCode::Char('j'), "j/↓", Cmd::Down, "move down", false),
    b(KeyCode::Down, "↓", Cmd::Down, "move down", false),
    b(KeyCode::Char('k'), "k/↑", Cmd::Up, "move up", false),
    b(KeyCode::Up, "↑", Cmd::Up, "move up", false),
    b(KeyCode::PageDown, "PgDn", Cmd::PageDown, "page down", false),
    b(KeyCode::PageUp, "PgUp", Cmd::PageUp, "page up", false),
    b(KeyCode::Char('g'), "g", Cmd::Top, "first", false),
    b(KeyCode::Char('G'), "G", Cmd::Bottom, "last", false),
    b(KeyCode::Tab, "Tab", Cmd::NextPane, "next pane", true),
    b(KeyCode::BackTab, "S-Tab", Cmd::PrevPane, "previous pane", false),
    b(KeyCode::Enter, "Enter", Cmd::Details, "details", false),
    b(KeyCode::Char('/'), "/", Cmd::Filter, "filter flags", false),
    b(KeyCode::Char('s'), "s", Cmd::Sort, "sort flags: by key / worst first / recent first", false),
    b(KeyCode::Char(':'), ":", Cmd::Command, "command line", false),
    b(KeyCode::Char('e'), "e", Cmd::CycleEnv, "next environment", true),
    b(KeyCode::Char('q'), "q", Cmd::Quit, "quit", true),
    b(KeyCode::Char('r'), "r", Cmd::Rollback, "rollback cohort", true),
    b(KeyCode::Char('+'), "+", Cmd::StepUp, "cohort step up", true),
    b(KeyCode::Char('-'), "-", Cmd::StepDown, "cohort step down", true),
    b(KeyCode::Char('%'), "%", Cmd::Percent, "set exact percent", false),
    b(KeyCode::Char(']'), "]", Cmd::Advance, "ladder advance", false),
    b(KeyCode::Char('['), "[", Cmd::Retreat, "ladder retreat", false),
    b(KeyCode::Char(' '), "space", Cmd::PauseResume, "pause/resume ladder", true),
    b(KeyCode::Char('u'), "u", Cmd::Undo, "undo", true),
    b(KeyCode::Char('F'), "F", Cmd::Freeze, "freeze/unfreeze env", true),
    b(KeyCode::Char('K'), "K", Cmd::Kill, "kill switch (typed)", false),
    b(KeyCode::Char('a'), "a", Cmd::Approve, "approve request", true),
    b(KeyCode::Char('x'), "x", Cmd::Reject, "reject request", false),
];

/// Looks a key up in the default table. Shift is ignored for characters (`K` arrives as
/// Shift+K); any Ctrl/Alt chord is unbound.
pub fn lookup(key: &KeyEvent) -> Option<Cmd> {
    if key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SUPER) {
        return None;
    }
    DEFAULT.iter().find(|b| b.code == key.code).map(|b| b.cmd)
}

/// Key hints for the footer, built from the table: `(label, desc)`.
pub fn footer_hints() -> impl Iterator<Item = (&'static str, &'static str)> {
    DEFAULT.iter().filter(|b| b.footer).map(|b| (b.label, b.desc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_and_plain_keys_resolve() {
        let k = KeyEvent::new(KeyCode::Char('K'), KeyModifiers::SHIFT);
        assert_eq!(lookup(&k), Some(Cmd::Kill));
        let r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE);
        assert_eq!(lookup(&r), Some(Cmd::Rollback));
        let ctrl = KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL);
        assert_eq!(lookup(&ctrl), None);
    }

    #[test]
    fn no_duplicate_keys() {
        for (i, a) in DEFAULT.iter().enumerate() {
            assert!(DEFAULT[i + 1..].iter().all(|b| b.code != a.code), "{:?} bound twice", a.code);
        }
    }
}
