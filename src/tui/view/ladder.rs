//! Owns the Ladder pane of the selected flag in the current environment: stages with the current
//! one marked, time in stage, state (with pause note), cohort exposure gauges with the cohort
//! cursor, rolled-back and breached cohorts marked. Must not mutate the model or hard-code colours.

use super::super::model::{Model, Pane};
use super::super::theme::Theme;
use super::{bar, human_secs, live, pane_block, window};
use crate::domain::LadderState;
use crate::tui::text::fit;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) {
    let Some(fl) = m.selected_flag() else {
        f.render_widget(
            Paragraph::new("no flag selected").block(pane_block(Pane::Ladder, String::new(), m, t)),
            area,
        );
        return;
    };
    // Exposure: one note in the title when nothing of the flag was evaluated here, else a cell
    // per cohort.
    let unserved = super::served::title_note(m, &fl.key);
    let evaluated = unserved.is_empty();
    let title = format!("{} · {}{unserved}", fit(&fl.key, 40), fit(&m.env, 20));
    let mut lines: Vec<Line> = Vec::new();
    let Some(fe) = fl.env(&m.env) else {
        f.render_widget(
            Paragraph::new("not configured in this environment").block(pane_block(
                Pane::Ladder,
                title,
                m,
                t,
            )),
            area,
        );
        return;
    };
    if fe.killed() {
        lines.push(Line::from(Span::styled(
            "✗ KILLED — everyone gets the fallthrough",
            live(t.danger, m, t),
        )));
    } else if !fe.enabled {
        lines.push(Line::from(Span::styled(
            "○ off in the flag store — everyone gets the fallthrough",
            live(t.muted, m, t),
        )));
    }
    match &fe.ladder {
        Some(l) => {
            let mut stages = Vec::new();
            for (i, s) in l.stages.iter().enumerate() {
                if i > 0 {
                    stages.push(Span::styled(" › ", t.muted));
                }
                let name = fit(&s.name, 20);
                if i == l.current {
                    stages.push(Span::styled(
                        format!("[{name}]"),
                        live(t.title_focused, m, t),
                    ));
                } else {
                    stages.push(Span::styled(
                        name,
                        live(if i < l.current { t.base } else { t.muted }, m, t),
                    ));
                }
            }
            lines.push(Line::from(stages));
            let state = l.effective_state(m.is_frozen());
            let style = match state {
                LadderState::Paused => t.warning,
                LadderState::Frozen => t.insufficient,
                _ => t.healthy,
            };
            let mut st = vec![
                Span::styled(format!("{} ", state.as_str()), live(style, m, t)),
                Span::styled(
                    format!(
                        "· {} at this stage",
                        human_secs((m.now - l.entered_at).num_seconds())
                    ),
                    live(t.base, m, t),
                ),
            ];
            if let Some(n) = &l.pause_note {
                st.push(Span::styled(
                    format!("  — {}", fit(n, 120)),
                    live(t.warning, m, t),
                ));
            }
            lines.push(Line::from(st));
            lines.push(Line::from(Span::styled(
                next_step(l, fe.enabled, m),
                live(t.muted, m, t),
            )));
        }
        None => lines.push(Line::from(Span::styled("no ladder", t.muted))),
    }
    // Lines wrap: count the screen lines they take, so the cohort rows (and the breached one
    // under the cursor) are never pushed out of the pane unmarked.
    let inner_w = usize::from(area.width.saturating_sub(2)).max(1);
    let used: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .sum();
    let room = usize::from(area.height.saturating_sub(2)).saturating_sub(used);
    let (start, end) = window(m.ladder.sel.row(), fe.cohorts.len(), room);
    // Cohorts that do not fit are counted in the title.
    let more = super::approvals::more(start, end, fe.cohorts.len());
    let block = pane_block(Pane::Ladder, format!("{title}{more}"), m, t);
    let gauge_w = if area.width > 70 { 20 } else { 10 };
    for (i, c) in fe.cohorts.iter().enumerate().take(end).skip(start) {
        let sel = i == m.ladder.sel.row();
        let cursor = if sel { "▶ " } else { "  " };
        let name = format!("{cursor}{:<14}", fit(&c.name, 14));
        let mut row = vec![
            Span::styled(name, if sel { t.selection } else { live(t.base, m, t) }),
            Span::styled(
                format!(" {} ", bar(c.effective_percent(), gauge_w)),
                live(t.gauge, m, t),
            ),
            Span::styled(format!("{:>3}%", c.effective_percent()), live(t.base, m, t)),
        ];
        let breached = m.cohort_breached(&fl.key, &c.name);
        // What the cohort was served, where the row has room for it (never wrapping the row).
        let room = usize::from(area.width.saturating_sub(2)).saturating_sub(22 + gauge_w);
        if evaluated && !c.rolled_back && room >= 10 {
            row.push(Span::styled(
                format!(
                    "  {}",
                    fit(&super::served::cell(m, &fl.key, &c.name), room - 2)
                ),
                live(t.muted, m, t),
            ));
        }
        if c.rolled_back {
            row.push(Span::styled(
                format!(" ↩ ROLLED BACK (keeps {}%)", c.percent),
                live(t.danger, m, t),
            ));
            if breached {
                row.push(Span::styled(" · recovering", live(t.warning, m, t)));
            }
        } else if breached {
            row.push(Span::styled(
                " ✗ breached — r rolls it back",
                live(t.breached, m, t),
            ));
        }
        lines.push(Line::from(row));
        if let Some(moved) = c
            .rolled_back
            .then(|| super::served::moved(m, &fl.key, &c.name))
            .flatten()
        {
            lines.push(Line::from(Span::styled(
                format!("    {}", fit(&moved, 120)),
                live(t.muted, m, t),
            )));
        }
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// When and how the ladder takes its next automatic step, in words.
fn next_step(l: &crate::domain::Ladder, enabled: bool, m: &Model) -> String {
    use crate::domain::AdvancePolicy;
    let Some(next) = l.stages.get(l.current + 1) else {
        return "last stage reached".into();
    };
    let next_name = fit(&next.name, 20);
    match l.effective_state(m.is_frozen()) {
        LadderState::Paused => return format!("next: {next_name} — paused; resume with space"),
        LadderState::Frozen => {
            return format!("next: {next_name} — automatic advances stopped: environment frozen");
        }
        _ => {}
    }
    if !enabled {
        return "killed: no automatic advance".into();
    }
    let protected = m
        .data
        .state
        .environment(&m.env)
        .is_some_and(|e| e.protected);
    let how = match (l.policy, protected) {
        (AdvancePolicy::Manual, _) => return format!("next: {next_name} — manual only (])"),
        (AdvancePolicy::RequestApproval, true) => "then asks for approval",
        _ => "automatic",
    };
    let dwell = l.current_stage().map_or(0, |s| s.min_dwell_secs) as i64;
    let left = dwell - (m.now - l.entered_at).num_seconds();
    if left > 0 {
        format!(
            "next: {next_name} in ≥{} if every guardrail stays healthy ({how})",
            human_secs(left)
        )
    } else {
        format!(
            "next: {next_name} once every guardrail has been healthy for {} ({how})",
            human_secs(dwell)
        )
    }
}
