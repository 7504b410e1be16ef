//! Owns the two bottom lines: the status / outcome line (or the `/` and `:` input) and the key
//! hints built from the key table. Must not mutate the model or hard-code colours.

use super::super::dialog::Dialog;
use super::super::model::Model;
use super::super::theme::Theme;
use crate::tui::text::{fit, typed};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Returns where the cursor goes while `/` or `:` input is open.
pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) -> Option<Position> {
    let top = Rect {
        height: 1.min(area.height),
        ..area
    };
    let mut cursor = None;
    let status = match &m.dialog {
        Some(Dialog::Filter(input)) | Some(Dialog::Command(input)) => {
            let prefix = if matches!(m.dialog, Some(Dialog::Filter(_))) {
                "/"
            } else {
                ":"
            };
            let x = top.x + 1 + input.visual_cursor() as u16;
            cursor = Some(Position {
                x: x.min(top.right().saturating_sub(1)),
                y: top.y,
            });
            Line::from(vec![
                Span::styled(prefix, t.key_hint),
                Span::raw(fit(&typed(input.value()), 200)),
            ])
        }
        _ => match &m.status {
            Some(s) => Line::from(Span::styled(
                fit(&s.text, 300),
                if s.error { t.status_err } else { t.status_ok },
            )),
            None if !m.flags.filter.is_empty() => Line::from(Span::styled(
                format!("filter: {}", fit(&typed(&m.flags.filter), 60)),
                t.muted,
            )),
            None => Line::from(""),
        },
    };
    f.render_widget(Paragraph::new(status), top);
    if area.height < 2 {
        return cursor;
    }
    let mut hints = Vec::new();
    if !m.pending_keys.is_empty() {
        // A multi-key sequence in progress (`g` of `g g`): say so, and how to drop it.
        let typed = crate::tui::keys::seq_label(&m.pending_keys, t.ascii);
        hints.push(Span::styled(format!("{typed} …"), t.key_hint));
        hints.push(Span::styled(" (next key; Esc drops)  ", t.muted));
    }
    // Whole hints only, by priority, as many as fit: never one cut in half.
    let mut used: usize = hints.iter().map(|s| s.width()).sum();
    let incident = !m.breaches_here().is_empty();
    for (label, desc) in m.keymap.hints_for(m.focus, t.ascii, incident) {
        let desc = format!(" {desc}  ");
        let w = label.chars().count() + desc.chars().count();
        if used + w.saturating_sub(2) > usize::from(area.width) {
            break;
        }
        used += w;
        hints.push(Span::styled(label, t.key_hint));
        hints.push(Span::styled(desc, t.muted));
    }
    let bottom = Rect {
        y: area.y + 1,
        height: 1,
        ..area
    };
    f.render_widget(Paragraph::new(Line::from(hints)), bottom);
    cursor
}
