//! Owns the cohort chooser `r` opens when there is no single target: several breached cohorts,
//! or none (then every cohort). Must not mutate the model or hard-code colours.

use super::super::dialog::Choose;
use super::super::model::Model;
use super::super::theme::Theme;
use crate::tui::layout::centered;
use crate::tui::text::fit;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn render(f: &mut Frame, area: Rect, m: &Model, ch: &Choose, t: &Theme) {
    let width = area.width.saturating_sub(4).min(70);
    let inner = usize::from(width.saturating_sub(2));
    let shown = ch
        .options
        .len()
        .min(usize::from(area.height.saturating_sub(6)).max(1));
    let r = centered(
        area,
        width,
        u16::try_from(shown).unwrap_or(1).saturating_add(4),
    );
    f.render_widget(Clear, r);
    let (start, end) = super::window(ch.row, ch.options.len(), shown);
    let mut lines = vec![Line::from(Span::styled(fit(&ch.title, inner), t.base))];
    for (i, c) in ch.options.iter().enumerate().take(end).skip(start) {
        let sel = i == ch.row;
        let cohort = m
            .data
            .state
            .flags
            .get(&ch.flag)
            .and_then(|fl| fl.env(&ch.env))
            .and_then(|fe| fe.cohorts.iter().find(|x| x.name == *c));
        let what = match cohort {
            Some(x) if x.rolled_back => format!("restore (rolled back, keeps {}%)", x.percent),
            Some(x) => format!("roll back (now {}%)", x.effective_percent()),
            None => "gone".to_string(),
        };
        let mark = if m.cohort_breached(&ch.flag, c) {
            " ✗ breached"
        } else {
            ""
        };
        let text = format!(
            "{} {}. {}  {what}{mark}",
            if sel { "▶" } else { " " },
            i + 1,
            c
        );
        let style = if sel {
            t.selection
        } else if mark.is_empty() {
            t.base
        } else {
            t.danger
        };
        lines.push(Line::from(Span::styled(fit(&text, inner), style)));
    }
    let more = if end < ch.options.len() || start > 0 {
        " · more ↑↓"
    } else {
        ""
    };
    lines.push(Line::from(Span::styled(
        fit(
            &format!("↑↓/1–9: choose · Enter: review · Esc: cancel{more}"),
            inner,
        ),
        t.muted,
    )));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" rollback: which cohort? ", t.title));
    f.render_widget(Paragraph::new(lines).block(block), r);
}
