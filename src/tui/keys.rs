//! Owns the `Cmd` enum — the actions a key can ask for, named in keymap files by their serde
//! snake_case names — and key notation (`j`, `<C-a>`, `<PageDown>`, `g g`). It must not act on
//! the model or know which key is bound to what (that is `keymap`).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::{Deserialize, Serialize};

/// What a key asks for. Keymap files name these by their snake_case names (`rollback`,
/// `pause_resume`, …); an unknown name is an error with its file position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cmd {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    Zoom,
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
    /// Jump to the worst breach (flag, environment, cohort) and focus it.
    JumpToBreach,
    /// The Cleanup view: flags ready for cleanup or stale (`:cleanup`).
    Cleanup,
    /// Dialogs: send / accept.
    Confirm,
    /// Dialogs: close without sending; outside dialogs: clear the status line and pending keys.
    Cancel,
    /// Confirm dialog: switch between the typed confirmation and the reason.
    SwitchField,
}

impl Cmd {
    /// Every command, in the order help lists them.
    pub const ALL: [Cmd; 33] = [
        Cmd::Up,
        Cmd::Down,
        Cmd::PageUp,
        Cmd::PageDown,
        Cmd::Top,
        Cmd::Bottom,
        Cmd::NextPane,
        Cmd::PrevPane,
        Cmd::Zoom,
        Cmd::Details,
        Cmd::Filter,
        Cmd::Sort,
        Cmd::Command,
        Cmd::Help,
        Cmd::CycleEnv,
        Cmd::Quit,
        Cmd::StepUp,
        Cmd::StepDown,
        Cmd::Percent,
        Cmd::Advance,
        Cmd::Retreat,
        Cmd::PauseResume,
        Cmd::Rollback,
        Cmd::Undo,
        Cmd::Freeze,
        Cmd::Kill,
        Cmd::Approve,
        Cmd::Reject,
        Cmd::JumpToBreach,
        Cmd::Cleanup,
        Cmd::Confirm,
        Cmd::Cancel,
        Cmd::SwitchField,
    ];

    /// Parses a keymap `run` name with serde (the enum's own snake_case names).
    pub fn from_name(s: &str) -> Option<Cmd> {
        Cmd::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(s)).ok()
    }

    /// The snake_case name used in keymap files.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The danger tier `?` help groups this command under (PRODUCT.md's key table).
    pub fn tier(self) -> &'static str {
        match self {
            // The tiers of docs/policy.md: hold, reduce, expand, global.
            Cmd::PauseResume | Cmd::Freeze => {
                "hold (stops automatic steps; undone by the same key)"
            }
            Cmd::StepDown | Cmd::Retreat | Cmd::Rollback => "reduce (applied after a confirm)",
            Cmd::StepUp | Cmd::Advance => "expand (a request in protected environments)",
            Cmd::Percent | Cmd::Undo => "expand or reduce",
            Cmd::Kill => "global (typed confirmation)",
            Cmd::Approve | Cmd::Reject => "decide a request",
            _ => "look and move",
        }
    }

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

/// One key press, normalised: Shift is folded into characters (`K`), and only Ctrl/Alt count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyPress {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeyPress {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> KeyPress {
        let keep = match code {
            KeyCode::Char(_) | KeyCode::BackTab => KeyModifiers::CONTROL | KeyModifiers::ALT,
            _ => KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT,
        };
        let code = match code {
            KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            other => other,
        };
        KeyPress {
            code,
            mods: mods & keep,
        }
    }

    pub fn from_event(k: &KeyEvent) -> KeyPress {
        KeyPress::new(k.code, k.modifiers)
    }

    /// A bare Ctrl-letter (`<C-a>`), the kind tmux and screen use as prefixes.
    pub fn ctrl_letter(&self) -> Option<char> {
        match self.code {
            KeyCode::Char(c) if self.mods == KeyModifiers::CONTROL && c.is_ascii_lowercase() => {
                Some(c)
            }
            _ => None,
        }
    }

    /// Parses one token of key notation: `j`, `?`, `<Space>`, `<C-a>`, `<A-x>`, `<PageDown>`.
    pub fn parse(token: &str) -> Result<KeyPress, String> {
        let mut chars = token.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return Ok(KeyPress::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        let Some(inner) = token.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
            return Err(format!("unknown key `{token}`"));
        };
        let mut mods = KeyModifiers::NONE;
        let mut rest = inner;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 2 && (lower.starts_with("c-")) {
                mods |= KeyModifiers::CONTROL;
            } else if rest.len() > 2 && (lower.starts_with("a-") || lower.starts_with("m-")) {
                mods |= KeyModifiers::ALT;
            } else if rest.len() > 2 && lower.starts_with("s-") {
                mods |= KeyModifiers::SHIFT;
            } else {
                break;
            }
            rest = &rest[2..];
        }
        let mut cs = rest.chars();
        let code = match (cs.next(), cs.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "space" => KeyCode::Char(' '),
                "tab" if mods.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "enter" | "cr" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "pageup" | "pgup" => KeyCode::PageUp,
                "pagedown" | "pgdn" => KeyCode::PageDown,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "backspace" | "bs" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" => KeyCode::Insert,
                "lt" => KeyCode::Char('<'),
                "gt" => KeyCode::Char('>'),
                f if f.starts_with('f')
                    && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
                {
                    KeyCode::F(f[1..].parse::<u8>().unwrap_or(1))
                }
                _ => return Err(format!("unknown key `{token}`")),
            },
        };
        Ok(KeyPress::new(code, mods))
    }

    /// How the key is shown in help and the footer (`ascii`: no arrows).
    pub fn label(&self, ascii: bool) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => if ascii { "Up" } else { "↑" }.to_string(),
            KeyCode::Down => if ascii { "Down" } else { "↓" }.to_string(),
            KeyCode::Left => if ascii { "Left" } else { "←" }.to_string(),
            KeyCode::Right => if ascii { "Right" } else { "→" }.to_string(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Backspace => "Backspace".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::Insert => "Ins".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        let mut s = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            s.push_str("Ctrl-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            s.push_str("Alt-");
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            s.push_str("Shift-");
        }
        s + &base
    }
}

/// Parses a sequence: tokens separated by spaces (`g g`, `<C-w> l`).
pub fn parse_seq(on: &str) -> Result<Vec<KeyPress>, String> {
    let toks: Vec<&str> = on.split_whitespace().collect();
    if toks.is_empty() {
        return Err("empty key (write a space as `<Space>`)".into());
    }
    toks.into_iter().map(KeyPress::parse).collect()
}

/// A sequence's label: `g g`, `Ctrl-a`.
pub fn seq_label(seq: &[KeyPress], ascii: bool) -> String {
    seq.iter()
        .map(|k| k.label(ascii))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for c in Cmd::ALL {
            assert_eq!(Cmd::from_name(&c.name()), Some(c), "{c:?}");
        }
        assert_eq!(Cmd::from_name("pause_resume"), Some(Cmd::PauseResume));
        assert_eq!(Cmd::from_name("rollbak"), None);
    }

    #[test]
    fn notation_parses_and_normalises() {
        let k = KeyPress::from_event(&KeyEvent::new(KeyCode::Char('K'), KeyModifiers::SHIFT));
        assert_eq!(k, KeyPress::parse("K").unwrap());
        assert_eq!(KeyPress::parse("<C-a>").unwrap().ctrl_letter(), Some('a'));
        assert_eq!(
            KeyPress::parse("<S-Tab>").unwrap(),
            KeyPress::from_event(&KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT))
        );
        assert_eq!(KeyPress::parse("<Space>").unwrap().code, KeyCode::Char(' '));
        assert_eq!(parse_seq("g g").unwrap().len(), 2);
        assert!(KeyPress::parse("<Ctrl-x>").is_err());
        assert!(KeyPress::parse("jj").is_err());
    }
}
