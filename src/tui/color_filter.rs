//! Owns what reaches the terminal's colour machinery: a writer that buffers each frame and
//! rewrites its SGR sequences for the colour mode — 16-colour codes (30–37, 90–97) instead of
//! `38;5;N`, richer colours mapped to the nearest of the 16, or no colour escapes at all for
//! NO_COLOR. It must not know about the model or styles.

use std::io::{self, Write};

/// How much colour to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorMode {
    /// Whatever the theme asks for (256 colours, RGB).
    #[default]
    Full,
    /// Only the 16 terminal colours (SGR 30–37, 90–97); anything richer is mapped down.
    Ansi16,
    /// No colour escapes at all (NO_COLOR, --no-color).
    None,
}

/// Buffers writes until `flush`, then writes the frame once with its SGR sequences rewritten.
pub struct SgrFilter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    mode: ColorMode,
    /// The last frame written ended with [`NOOP_FRAME`] (attributes reset, cursor hidden).
    settled: bool,
}

/// All that ratatui + crossterm write for a frame in which nothing changed: the trailing SGR
/// resets and hide-cursor. After a frame that ended the same way it changes nothing on screen,
/// so it is not sent (0 B/s while idle instead of 25 B per redraw).
const NOOP_FRAME: &[u8] = b"\x1b[39m\x1b[49m\x1b[59m\x1b[0m\x1b[?25l";

impl<W: Write> SgrFilter<W> {
    pub fn new(inner: W, mode: ColorMode) -> Self {
        SgrFilter {
            inner,
            buf: Vec::with_capacity(16 * 1024),
            mode,
            settled: false,
        }
    }
}

impl<W: Write> Write for SgrFilter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.settled && self.buf == NOOP_FRAME {
            self.buf.clear();
        }
        if !self.buf.is_empty() {
            self.settled = self.buf.ends_with(NOOP_FRAME);
            let out = rewrite(&self.buf, self.mode);
            self.buf.clear();
            self.inner.write_all(&out)?;
        }
        self.inner.flush()
    }
}

/// Rewrites every `ESC [ … m` in `b` for `mode`; everything else passes unchanged.
pub fn rewrite(b: &[u8], mode: ColorMode) -> Vec<u8> {
    if mode == ColorMode::Full {
        return b.to_vec();
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0x1b && b.get(i + 1) == Some(&b'[') {
            let mut j = i + 2;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b';' || b[j] == b':') {
                j += 1;
            }
            if b.get(j) == Some(&b'm') {
                let params = std::str::from_utf8(&b[i + 2..j]).unwrap_or("");
                if let Some(new) = sgr(params, mode) {
                    out.extend_from_slice(b"\x1b[");
                    out.extend_from_slice(new.as_bytes());
                    out.push(b'm');
                }
                i = j + 1;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// New parameters for one SGR sequence, or `None` to drop it entirely.
fn sgr(params: &str, mode: ColorMode) -> Option<String> {
    if params.is_empty() {
        return Some(String::new());
    }
    let p: Vec<&str> = params.split(';').collect();
    let num = |s: &str| s.parse::<u32>().ok();
    let mut out: Vec<String> = Vec::new();
    let mut k = 0;
    while k < p.len() {
        let n = num(p[k]);
        match n {
            Some(base @ (38 | 48 | 58)) => {
                let (rgb, used) = match (
                    p.get(k + 1).and_then(|s| num(s)),
                    p.get(k + 2).and_then(|s| num(s)),
                ) {
                    (Some(5), Some(idx)) => (Some(index_rgb(idx)), 3),
                    (Some(2), _) => {
                        let c = |o: usize| {
                            p.get(k + o).and_then(|s| num(s)).unwrap_or(0).min(255) as u8
                        };
                        (Some((c(2), c(3), c(4))), 5)
                    }
                    _ => (None, 1),
                };
                if let (ColorMode::Ansi16, Some(rgb), true) = (mode, rgb, base != 58) {
                    let idx = match (
                        p.get(k + 1).and_then(|s| num(s)),
                        p.get(k + 2).and_then(|s| num(s)),
                    ) {
                        (Some(5), Some(i)) if i < 16 => i,
                        _ => nearest16(rgb),
                    };
                    let code = match (base, idx) {
                        (38, i) if i < 8 => 30 + i,
                        (38, i) => 90 + i - 8,
                        (_, i) if i < 8 => 40 + i,
                        (_, i) => 100 + i - 8,
                    };
                    out.push(code.to_string());
                }
                k += used;
            }
            Some(30..=37 | 39 | 40..=47 | 49 | 90..=97 | 100..=107) if mode == ColorMode::None => {
                k += 1
            }
            _ if p[k].contains(':') && mode != ColorMode::Full => k += 1,
            _ => {
                out.push(p[k].to_string());
                k += 1;
            }
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out.join(";"))
    }
}

const PALETTE16: [(u8, u8, u8); 16] = [
    (0, 0, 0),
    (205, 0, 0),
    (0, 205, 0),
    (205, 205, 0),
    (0, 0, 238),
    (205, 0, 205),
    (0, 205, 205),
    (229, 229, 229),
    (127, 127, 127),
    (255, 0, 0),
    (0, 255, 0),
    (255, 255, 0),
    (92, 92, 255),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
];

/// The RGB of a 256-colour index (xterm's cube and grey ramp).
pub fn index_rgb(i: u32) -> (u8, u8, u8) {
    let i = i.min(255);
    if i < 16 {
        return PALETTE16[i as usize];
    }
    if i >= 232 {
        let g = (8 + 10 * (i - 232)) as u8;
        return (g, g, g);
    }
    let l = [0u8, 95, 135, 175, 215, 255];
    let c = i - 16;
    (
        l[(c / 36) as usize],
        l[((c / 6) % 6) as usize],
        l[(c % 6) as usize],
    )
}

/// The closest of the 16 terminal colours.
pub fn nearest16(rgb: (u8, u8, u8)) -> u32 {
    let d = |a: (u8, u8, u8)| {
        let f = |x: u8, y: u8| (i32::from(x) - i32::from(y)).pow(2);
        f(a.0, rgb.0) + f(a.1, rgb.1) + f(a.2, rgb.2)
    };
    (0..16u32)
        .min_by_key(|i| d(PALETTE16[*i as usize]))
        .unwrap_or(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8], m: ColorMode) -> String {
        String::from_utf8(rewrite(b, m)).unwrap()
    }

    #[test]
    fn an_unchanged_frame_after_a_settled_one_writes_nothing() {
        let mut out = Vec::new();
        {
            let mut f = SgrFilter::new(&mut out, ColorMode::Full);
            for frame in [&b"\x1b[1;1HX"[..], NOOP_FRAME] {
                f.write_all(frame).unwrap();
            }
            f.flush().unwrap(); // a real frame, ending settled
            f.write_all(NOOP_FRAME).unwrap();
            f.flush().unwrap(); // nothing changed: skipped
            f.write_all(b"\x1b[?25h").unwrap();
            f.flush().unwrap(); // cursor shown: no longer settled
            f.write_all(NOOP_FRAME).unwrap();
            f.flush().unwrap(); // must be sent (hides the cursor again)
        }
        let want = [&b"\x1b[1;1HX"[..], NOOP_FRAME, b"\x1b[?25h", NOOP_FRAME].concat();
        assert_eq!(out, want);
    }

    #[test]
    fn sixteen_colour_mode_uses_classic_codes() {
        assert_eq!(s(b"\x1b[38;5;9mX", ColorMode::Ansi16), "\x1b[91mX");
        assert_eq!(
            s(b"\x1b[38;5;1;48;5;0mX", ColorMode::Ansi16),
            "\x1b[31;40mX"
        );
        assert_eq!(s(b"\x1b[38;2;200;0;0mX", ColorMode::Ansi16), "\x1b[31mX");
        assert_eq!(s(b"\x1b[1mX\x1b[0m", ColorMode::Ansi16), "\x1b[1mX\x1b[0m");
        assert_eq!(
            s(b"\x1b[2J\x1b[38;5;9m", ColorMode::Full),
            "\x1b[2J\x1b[38;5;9m"
        );
    }

    #[test]
    fn no_colour_mode_drops_every_colour_but_keeps_attributes() {
        assert_eq!(s(b"\x1b[38;5;9mX\x1b[39m\x1b[49mY", ColorMode::None), "XY");
        assert_eq!(s(b"\x1b[1;38;2;1;2;3;7mX", ColorMode::None), "\x1b[1;7mX");
        assert_eq!(s(b"\x1b[mX", ColorMode::None), "\x1b[mX");
    }
}
