//! Owns the `?` help overlay (built from the key table) and the Enter details overlay. Must not
//! mutate the model or hard-code colours.

use super::super::keys;
use super::super::theme::Theme;
use super::centered;
use crate::sanitize::clean;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub fn render(f: &mut Frame, area: Rect, t: &Theme) {
    let mut lines: Vec<Line> = keys::DEFAULT
        .iter()
        .map(|b| Line::from(vec![Span::styled(format!("{:>7}  ", b.label), t.key_hint), Span::raw(b.desc)]))
        .collect();
    lines.push(Line::from(Span::styled(":env NAME  :flag KEY  :freeze  :quit", t.muted)));
    lines.push(Line::from(Span::styled("any key closes", t.muted)));
    let r = centered(area, 48, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    let block = Block::default().borders(Borders::ALL).title(Span::styled(" keys ", t.title));
    f.render_widget(Paragraph::new(lines).block(block), r);
}

pub fn details(f: &mut Frame, area: Rect, title: &str, lines: &[String], t: &Theme) {
    let r = centered(area, area.width.saturating_sub(8).min(100), (lines.len() as u16 + 4).min(area.height));
    f.render_widget(Clear, r);
    let body: Vec<Line> = lines.iter().map(|l| Line::from(clean(l, 400))).collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(format!(" {} ", clean(title, 60)), t.title))
        .title_bottom(Span::styled(" any key closes ", t.muted));
    f.render_widget(Paragraph::new(body).block(block).wrap(Wrap { trim: false }), r);
}
