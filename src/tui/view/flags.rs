//! Owns the Flags pane: one row per flag passing the filter, built only for the visible window
//! (10,000 flags cost the same as 20). Must not mutate the model or hard-code colours.

use super::super::model::{Model, Pane};
use super::super::theme::Theme;
use super::{live, pane_block, put, window};
use crate::domain::{Flag, GuardrailStatus, LifecycleStage};
use crate::tui::text::{fit, life_label};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// The columns: flag, environments, exposure, ladder stage, lifecycle, guard, pending marker.
const HEAD: [&str; 7] = ["flag", "envs", "exposure", "stage", "life", "guard", ""];
/// The narrowest the flag column gets before the stage column gives way to it.
const FLAG_MIN: u16 = 14;
/// The longest flag name the column makes room for.
const FLAG_MAX: u16 = 60;

/// The pane width (borders included) at which every name in the window of `rows` rows fits
/// beside the columns that never give way (exposure, guard, pending marker) and the lifecycle
/// column: the wide layout
/// gives the Flags pane this much when it can.
pub fn wanted_width(m: &Model, rows: u16) -> u16 {
    let (start, end) = window(
        m.flags.sel.row(),
        m.flags.visible.len(),
        usize::from(rows.saturating_sub(3)),
    );
    let longest = m.flags.visible[start..end]
        .iter()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0);
    let name = u16::try_from(longest)
        .unwrap_or(u16::MAX)
        .clamp(FLAG_MIN, FLAG_MAX);
    name.saturating_add(EXPOSURE + LIFE + GUARD + PEND + 4 + 2)
}

const EXPOSURE: u16 = 8;
const STAGE: u16 = 9;
const LIFE: u16 = 8;
const GUARD: u16 = 12;
const PEND: u16 = 1;

/// Column widths by priority: the flag name gets what it needs (up to `FLAG_MAX`) while there is
/// room; when there is not, the ladder-stage column gives way first, then the lifecycle column,
/// then the environments column, then the name is cut (with `…`). Spare width goes to the name.
pub fn widths(inner: u16, longest: u16, envs: u16) -> [u16; 7] {
    let envs_w = envs.saturating_mul(3).max(4);
    let want = longest.clamp(FLAG_MIN, FLAG_MAX);
    let fixed = |envs: u16, stage: u16, life: u16| {
        let gaps = 3 + u16::from(envs > 0) + u16::from(stage > 0) + u16::from(life > 0);
        envs + EXPOSURE + stage + life + GUARD + PEND + gaps
    };
    let fits = |e: u16, s: u16, l: u16| inner.saturating_sub(fixed(e, s, l)) >= want;
    let (envs_w, stage, life) = [(envs_w, STAGE, LIFE), (envs_w, 0, LIFE), (envs_w, 0, 0)]
        .into_iter()
        .find(|&(e, s, l)| fits(e, s, l))
        .unwrap_or((0, 0, 0));
    let name = inner
        .saturating_sub(fixed(envs_w, stage, life))
        .max(FLAG_MIN.min(inner));
    [name, envs_w, EXPOSURE, stage, life, GUARD, PEND]
}

/// Returns the rows of the list (below its header row), which move as a whole when it scrolls.
/// Rows are written straight into the buffer, only for the visible window: one pass over the
/// cells they cover (a Table widget costs several passes and allocations per cell).
pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) -> Rect {
    let room = usize::from(area.height.saturating_sub(3));
    let (s0, e0) = window(m.flags.sel.row(), m.flags.visible.len(), room);
    let more = super::approvals::more(s0, e0, m.flags.visible.len());
    let extra = format!(
        "{}/{} · {}{more}",
        m.flags.visible.len(),
        m.data.state.flags.len(),
        m.flags.sort.label()
    );
    let block = pane_block(Pane::Flags, extra, m, t);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let band = Rect {
        y: area.y.saturating_add(2),
        height: area.height.saturating_sub(3),
        ..area
    };
    if inner.height == 0 || inner.width == 0 {
        return band;
    }
    let room = usize::from(inner.height - 1);
    let (start, end) = window(m.flags.sel.row(), m.flags.visible.len(), room);
    let longest = m.flags.visible[start..end]
        .iter()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0);
    let envs = u16::try_from(m.data.state.environments.len()).unwrap_or(u16::MAX);
    let constraints = widths(
        inner.width,
        u16::try_from(longest).unwrap_or(u16::MAX),
        envs,
    );
    // Side by side from the left, one space between; a column that gave way takes no gap.
    let mut cols = Vec::with_capacity(constraints.len());
    let mut x = inner.x;
    for w in constraints {
        let w = w.min(inner.right().saturating_sub(x));
        cols.push(Rect {
            x,
            y: inner.y,
            width: w,
            height: 1,
        });
        x = x
            .saturating_add(w)
            .saturating_add(u16::from(w > 0))
            .min(inner.right());
    }
    let buf = f.buffer_mut();
    buf.set_style(Rect { height: 1, ..inner }, t.muted);
    for (c, h) in cols.iter().zip(HEAD) {
        put(buf, c.x, inner.y, h, c.width, Style::default());
    }
    let flags = m.flags.visible[start..end]
        .iter()
        .enumerate()
        .filter_map(|(i, key)| m.data.state.flags.get(key).map(|fl| (start + i, fl)));
    for (y, (idx, fl)) in (inner.y + 1..inner.bottom()).zip(flags) {
        row(
            buf,
            Rect {
                y,
                height: 1,
                ..inner
            },
            &cols,
            fl,
            idx == m.flags.sel.row(),
            m,
            t,
        );
    }
    band
}

/// One flag's row on `line`, cell by cell into `cols`.
fn row(
    buf: &mut Buffer,
    line: Rect,
    cols: &[Rect],
    fl: &Flag,
    selected: bool,
    m: &Model,
    t: &Theme,
) {
    let y = line.y;
    if selected {
        buf.set_style(line, t.selection);
    }
    let cell = |buf: &mut Buffer, col: usize, text: &str, style: Style| {
        if let Some(c) = cols.get(col) {
            put(buf, c.x, y, text, c.width, style);
        }
    };
    let base = live(t.base, m, t);
    // Cut with `…` to the column, never by the buffer.
    let name_w = cols.first().map_or(0, |c| usize::from(c.width));
    cell(buf, 0, &fit(&fl.key, name_w), base);
    if let Some(c) = cols.get(1) {
        let mut envs = Vec::with_capacity(m.data.state.environments.len());
        for e in &m.data.state.environments {
            let on = fl.env(&e.key).is_some_and(|x| x.enabled);
            let first: String = fit(&e.key, 3).chars().take(1).collect();
            let style = if e.key == m.env {
                if on { t.flag_on } else { t.danger }
            } else {
                t.muted
            };
            envs.push(Span::styled(
                format!("{first}{} ", if on { "●" } else { "○" }),
                live(style, m, t),
            ));
        }
        buf.set_line(c.x, y, &Line::from(envs), c.width);
    }
    let fe = fl.env(&m.env);
    let exposure = match fe {
        None => "-".to_string(),
        Some(e) if e.killed() => "KILLED".to_string(),
        Some(e) if !e.enabled => "off".to_string(),
        Some(e) => {
            let ps = e.cohorts.iter().map(|c| c.effective_percent());
            match (ps.clone().min(), ps.max()) {
                (Some(a), Some(b)) if a == b => format!("{a}%"),
                (Some(a), Some(b)) => format!("{a}-{b}%"),
                _ => "-".into(),
            }
        }
    };
    cell(buf, 2, &exposure, base);
    let stage = fe
        .and_then(|e| e.ladder.as_ref())
        .and_then(|l| l.current_stage())
        .map(|s| fit(&s.name, 9))
        .unwrap_or_else(|| "-".into());
    cell(buf, 3, &stage, base);
    let life = m.stage_of(fl);
    let life_style = match life {
        LifecycleStage::Stale => t.warning,
        LifecycleStage::ReadyForCleanup => t.flag_on,
        LifecycleStage::Archived => t.muted,
        _ => t.base,
    };
    cell(buf, 4, life_label(life), live(life_style, m, t));
    let (word, style) = match m.worst_status(&fl.key) {
        Some(GuardrailStatus::Breached) => ("✗ BREACH", t.breached),
        Some(s) => (s.as_str(), t.status(s)),
        None => ("-", t.muted),
    };
    cell(buf, 5, word, live(style, m, t));
    if m.pending_for(&fl.key) {
        cell(buf, 6, "⚑", live(t.warning, m, t));
    }
}
