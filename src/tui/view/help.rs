//! Owns the `?` help overlay (built from the loaded keymap, grouped by danger tier, in as many
//! columns as the screen needs). Must not mutate the model or hard-code colours.

use super::super::keymap::Context;
use super::super::model::Model;
use super::super::theme::Theme;
use crate::tui::layout::centered;
use crate::tui::text::{fit, typed};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) {
    let mut items: Vec<Line> = Vec::new();
    // Global keys grouped by danger tier (harmless first, the kill switch last); then each
    // other context's keys under its name.
    let rows = m.keymap.rows_by_cmd(t.ascii);
    let order = [
        "look and move",
        "decide a request",
        "hold (stops automatic steps; undone by the same key)",
        "reduce (applied after a confirm)",
        "expand or reduce",
        "expand (a request in protected environments)",
        "global (typed confirmation)",
    ];
    let line = |keys: &str, desc: &str| {
        Line::from(vec![
            Span::styled(format!("{:>9} ", fit(keys, 9)), t.key_hint),
            Span::raw(fit(desc, 60)),
        ])
    };
    for tier in order {
        let mut group = rows
            .iter()
            .filter(|r| r.0 == Context::Global && r.1.tier() == tier)
            .peekable();
        if group.peek().is_none() {
            continue;
        }
        let style = if tier.starts_with("global") {
            t.danger
        } else if tier.starts_with("expand") {
            t.warning
        } else {
            t.title
        };
        items.push(Line::from(Span::styled(format!("{tier}:"), style)));
        items.extend(group.map(|r| line(&r.2, &r.3)));
    }
    let mut last_ctx = None;
    for (ctx, _, keys, desc) in rows.iter().filter(|r| r.0 != Context::Global) {
        if last_ctx != Some(*ctx) {
            items.push(Line::from(Span::styled(
                format!("in {}:", ctx.name()),
                t.title,
            )));
        }
        last_ctx = Some(*ctx);
        items.push(line(keys, desc));
    }
    items.push(Line::from(Span::styled(
        ":env NAME  :flag KEY  :freeze  :quit",
        t.muted,
    )));
    items.push(Line::from(Span::styled(
        ":lifecycle STAGE  :archived  :archive  :unarchive  :cleanup  :timeline",
        t.muted,
    )));
    items.push(Line::from(Span::styled(
        "in details (Enter): j/k PgUp/PgDn g/G scroll · Esc, Enter or q close",
        t.muted,
    )));
    items.push(Line::from(Span::styled(
        format!(
            "keymap: {} · any key closes",
            fit(&typed(&m.keymap.name), 30)
        ),
        t.muted,
    )));
    let room = usize::from(area.height.saturating_sub(4)).max(1);
    let cols = items.len().div_ceil(room).max(1);
    let col_w = if cols == 1 {
        64
    } else {
        area.width.saturating_sub(2) / cols as u16
    };
    let rows = items.len().div_ceil(cols);
    let r = centered(
        area,
        (col_w * cols as u16 + 2).min(area.width),
        rows as u16 + 2,
    );
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(" keys ", t.title));
    let inner = block.inner(r);
    f.render_widget(block, r);
    let mut it = items.into_iter();
    for c in 0..cols {
        let chunk: Vec<Line> = it.by_ref().take(rows).collect();
        let x = inner.x + (c as u16) * col_w;
        let w = col_w.min(inner.right().saturating_sub(x));
        f.render_widget(
            Paragraph::new(chunk),
            Rect {
                x,
                y: inner.y,
                width: w,
                height: inner.height,
            },
        );
    }
}
