//! Owns getting frames onto the terminal: ratatui renders into its buffer, and this sends the
//! difference from what the terminal already shows. Where the view marks a band of rows that
//! moves as a whole (the Activity log gaining an entry, a list scrolling) and the band spans the
//! full width, the terminal scrolls it (a scroll region, DECSTBM, then reverse index or line
//! feed, all VT100) and only what is new is written, instead of every line of the band. The cursor is
//! shown, moved or hidden only when that changes, and a frame that changes nothing writes
//! nothing. Must not know about the model.

use ratatui::Frame;
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Position, Rect};
use std::io::{self, Write};

/// What a view reports about the frame it rendered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drawn {
    /// Where the terminal cursor goes (an input line); hidden when None.
    pub cursor: Option<Position>,
    /// Bands of rows whose content moves up or down as a whole between frames (a log, a list).
    pub scroll: Vec<Rect>,
}

/// The frames sent so far.
#[derive(Debug, Default)]
pub struct Screen {
    /// What the terminal shows now.
    shown: Buffer,
    /// The cursor as last sent; None when unknown (first frame, after a resize).
    cursor: Option<Option<Position>>,
}

impl Screen {
    pub fn new() -> Screen {
        Screen::default()
    }

    /// The terminal was cleared (a resize): the next frame is sent whole.
    pub fn invalidate(&mut self) {
        self.shown = Buffer::default();
        self.cursor = None;
    }

    /// Renders one frame with `render` and sends what changed.
    pub fn draw<B>(
        &mut self,
        term: &mut Terminal<B>,
        render: impl FnOnce(&mut Frame) -> Drawn,
    ) -> io::Result<()>
    where
        B: Backend<Error = io::Error> + Write,
    {
        term.autoresize()?;
        let mut frame = term.get_frame();
        let area = frame.area();
        let drawn = render(&mut frame);
        if self.shown.area != area {
            // A new size: ratatui cleared the screen.
            self.shown = Buffer::empty(area);
            self.cursor = None;
        }
        // Take the rendered frame out of the terminal and leave the previous one in its place
        // (same size; ratatui resets it before rendering into it again).
        let next = std::mem::take(term.current_buffer_mut());
        let mut out: Vec<u8> = Vec::new();
        for band in &drawn.scroll {
            scroll_band(&mut self.shown, &next, *band, &mut out);
        }
        if !out.is_empty() {
            term.backend_mut().write_all(&out)?;
        }
        let updates = bridge_gaps(diff(&self.shown, &next), &next);
        if !updates.is_empty() {
            term.backend_mut().draw(updates.into_iter())?;
        }
        let previous = std::mem::replace(&mut self.shown, next);
        *term.current_buffer_mut() = previous;
        if self.cursor != Some(drawn.cursor) {
            match drawn.cursor {
                None => term.hide_cursor()?,
                Some(p) => {
                    term.show_cursor()?;
                    term.set_cursor_position(p)?;
                }
            }
            self.cursor = Some(drawn.cursor);
        } else if let Some(p) = drawn.cursor {
            // Writing cells moved the terminal's cursor: put it back.
            term.set_cursor_position(p)?;
        }
        term.swap_buffers();
        Backend::flush(term.backend_mut())
    }
}

/// If the rows of `band` in `next` are those of `shown` moved down or up by whole lines (and
/// the band spans the full width, so the terminal can scroll it), appends the escape sequences
/// that scroll the terminal's copy, and scrolls `shown` the same way.
fn scroll_band(shown: &mut Buffer, next: &Buffer, band: Rect, out: &mut Vec<u8>) {
    let area = shown.area;
    let band = band.intersection(area);
    if band.x != area.x || band.width != area.width || band.height < 3 || next.area != area {
        return;
    }
    let (top, bottom) = (band.y, band.bottom());
    let same = |a: u16, b: u16| row(shown, a) == row(next, b);
    // The common case: the band did not move.
    if same(top, top) && same(bottom - 1, bottom - 1) {
        return;
    }
    // The shift that keeps the most rows (each comparison stops at the first differing cell, so
    // rows that do not match cost little): down by k (new lines at the top) or up by k.
    let h = band.height;
    let kept = |k: u16, down: bool| -> usize {
        if down {
            (top..bottom - k).filter(|&y| same(y, y + k)).count()
        } else {
            (top + k..bottom).filter(|&y| same(y, y - k)).count()
        }
    };
    let in_place = (top..bottom).filter(|&y| same(y, y)).count();
    let Some((kept, k, is_down)) = (1..h - 1)
        .flat_map(|k| [(kept(k, true), k, true), (kept(k, false), k, false)])
        .max_by_key(|c| c.0)
    else {
        return;
    };
    // Worth it only when it saves rewriting at least two lines more than staying put.
    if kept < in_place + 2 {
        return;
    }
    let w = usize::from(area.width);
    let start = usize::from(top - area.y) * w;
    let end = usize::from(bottom - area.y) * w;
    let rows = &mut shown.content[start..end];
    let moved = usize::from(k) * w;
    // Scroll region = the band (1-based rows); the cursor to its edge; reverse index (ESC M) or
    // line feed k times; then the whole screen again (which homes the cursor; the cells that
    // follow position themselves). All VT100; a line feed at the bottom margin scrolls the
    // region whether or not the tty turns it into CR LF.
    let _ = write!(out, "\x1b[{};{}r", top + 1, bottom);
    if is_down {
        let _ = write!(out, "\x1b[{};1H", top + 1);
        out.extend(std::iter::repeat_n(b"\x1bM".as_slice(), usize::from(k)).flatten());
        rows.rotate_right(moved);
        rows[..moved].fill(Cell::EMPTY);
    } else {
        let _ = write!(out, "\x1b[{};1H", bottom);
        out.extend(std::iter::repeat_n(b'\n', usize::from(k)));
        rows.rotate_left(moved);
        let n = rows.len();
        rows[n - moved..].fill(Cell::EMPTY);
    }
    out.extend_from_slice(b"\x1b[r");
}

/// The cells of `next` to send over `prev`, as ratatui's `Buffer::diff` computes them (wide
/// characters, their trailing columns, skipped cells), about twice as fast: equal one-byte cells
/// are settled by comparing a byte and the styles, and widths are looked up only where needed.
pub(crate) fn diff<'a>(prev: &Buffer, next: &'a Buffer) -> Vec<(u16, u16, &'a Cell)> {
    use ratatui::buffer::CellDiffOption;
    use ratatui::style::{Color, Modifier};
    const VISIBLE_ON_BLANK: Modifier = Modifier::REVERSED
        .union(Modifier::UNDERLINED)
        .union(Modifier::SLOW_BLINK)
        .union(Modifier::RAPID_BLINK)
        .union(Modifier::CROSSED_OUT);
    #[allow(deprecated)]
    let is_skip = |c: &Cell| {
        matches!(c.diff_option, CellDiffOption::Skip)
            || (c.skip && matches!(c.diff_option, CellDiffOption::None))
    };
    #[allow(deprecated)]
    let same = |a: &Cell, b: &Cell| {
        let (x, y) = (a.symbol().as_bytes(), b.symbol().as_bytes());
        let symbol = match (x, y) {
            ([p], [q]) => p == q,
            _ => x == y,
        };
        symbol
            && a.fg == b.fg
            && a.bg == b.bg
            && a.modifier == b.modifier
            && a.underline_color == b.underline_color
            && a.diff_option == b.diff_option
            && a.skip == b.skip
    };
    let width = |c: &Cell| -> usize {
        match c.diff_option {
            CellDiffOption::ForcedWidth(w) => usize::from(w.get()),
            _ => {
                let s = c.symbol();
                if s.len() == 1 {
                    1
                } else {
                    let marks = s
                        .chars()
                        .filter(|ch| matches!(ch, '\u{FF9E}' | '\u{FF9F}'))
                        .count();
                    ratatui::text::Span::raw(s).width() + marks
                }
            }
        }
    };
    let w = usize::from(next.area.width.max(1));
    let at = |i: usize| (next.area.x + (i % w) as u16, next.area.y + (i / w) as u16);
    let len = next.content.len().min(prev.content.len());
    let mut out = Vec::new();
    let mut i = 0;
    while i < len {
        let (cur, old) = (&next.content[i], &prev.content[i]);
        let here = i;
        i += 1;
        if is_skip(cur) {
            continue;
        }
        if let CellDiffOption::ForcedWidth(fw) = cur.diff_option {
            i += usize::from(fw.get()) - 1;
            if !same(cur, old) {
                let (x, y) = at(here);
                out.push((x, y, cur));
            }
            continue;
        }
        if matches!(cur.diff_option, CellDiffOption::None) && same(cur, old) {
            // Equal: one column for a one-byte symbol, else skip the columns it covers.
            if cur.symbol().len() > 1 {
                i += width(cur).saturating_sub(1);
            }
            continue;
        }
        let cw = width(cur);
        let (x, y) = at(here);
        out.push((x, y, cur));
        // Trailing columns: of an emoji with VS16 (some terminals leave them dirty: send those
        // whose symbol changed), or of a wider character replaced by a narrower one whose style
        // shows on blanks (send them all).
        let trailing = if cw > 1 && cur.symbol().contains('\u{FE0F}') {
            Some((here + cw, false))
        } else if cw > 1 {
            i += cw - 1;
            None
        } else {
            let pw = width(old);
            (pw > cw && (old.bg != Color::Reset || old.modifier.intersects(VISIBLE_ON_BLANK)))
                .then_some((here + pw, true))
        };
        if let Some((end, force)) = trailing {
            let mut end = end.min(len);
            let mut j = here + 1;
            while j < end {
                let k = j;
                j += width(&next.content[k]).max(1);
                end = end.max(j).min(len);
                if !is_skip(&next.content[k])
                    && (force || prev.content[k].symbol() != next.content[k].symbol())
                {
                    let (x, y) = at(k);
                    out.push((x, y, &next.content[k]));
                }
            }
            i = end;
        }
    }
    out
}

/// Short runs of unchanged cells between two changed ones on a row are cheaper to write again
/// than to jump over (a cursor move is 6–8 bytes): adds them when they are plain ASCII in the
/// style of the cell before them (so no colour change either), and that cell is one column wide
/// (so the terminal's cursor stands right where the gap starts).
fn bridge_gaps<'a>(
    updates: Vec<(u16, u16, &'a Cell)>,
    next: &'a Buffer,
) -> Vec<(u16, u16, &'a Cell)> {
    const MAX_GAP: u16 = 5;
    let plain = |c: &Cell| matches!(c.symbol().as_bytes(), [b' '..=b'~']);
    let narrow = |c: &Cell| plain(c) || ratatui::text::Span::raw(c.symbol()).width() == 1;
    let styled_as = |a: &Cell, b: &Cell| {
        a.fg == b.fg
            && a.bg == b.bg
            && a.modifier == b.modifier
            && a.underline_color == b.underline_color
    };
    let mut out = Vec::with_capacity(updates.len());
    let mut last: Option<(u16, u16, &Cell)> = None;
    for (x, y, cell) in updates {
        if let Some((lx, ly, lc)) = last
            && ly == y
            && x > lx + 1
            && x - lx - 1 <= MAX_GAP
            && narrow(lc)
        {
            let gap: Option<Vec<&Cell>> = (lx + 1..x).map(|gx| next.cell((gx, y))).collect();
            if let Some(gap) = gap.filter(|g| g.iter().all(|g| plain(g) && styled_as(g, lc))) {
                out.extend((lx + 1..x).zip(gap).map(|(gx, g)| (gx, y, g)));
            }
        }
        out.push((x, y, cell));
        last = Some((x, y, cell));
    }
    out
}

/// One full row of `b`.
fn row(b: &Buffer, y: u16) -> &[Cell] {
    let w = usize::from(b.area.width);
    let i = usize::from(y - b.area.y) * w;
    &b.content[i..i + w]
}
