//! Owns the `%` exact-percent prompt. Must not mutate the model or hard-code colours.

use super::super::theme::Theme;
use crate::domain::Action;
use crate::tui::layout::centered;
use crate::tui::text::{fit, typed};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use tui_input::Input;

pub fn percent(f: &mut Frame, area: Rect, base: &Action, current: u8, input: &Input, t: &Theme) {
    let r = centered(area, 50, 5);
    f.render_widget(Clear, r);
    let cohort = base.cohort().map(|c| fit(c, 30)).unwrap_or_default();
    let lines = vec![
        Line::from(Span::styled(
            format!("{cohort}: now {current}% — new percent (0–100):"),
            t.base,
        )),
        Line::from(vec![
            Span::styled("> ", t.key_hint),
            Span::raw(fit(&typed(input.value()), 10)),
        ]),
        Line::from(Span::styled("Enter: review · Esc: cancel", t.muted)),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" set percent ", t.title));
    f.render_widget(Paragraph::new(lines).block(block), r);
    f.set_cursor_position(Position {
        x: r.x + 3 + input.visual_cursor() as u16,
        y: r.y + 2,
    });
}
