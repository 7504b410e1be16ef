//! Owns ASCII mode: after a frame is drawn, every cell that is not ASCII becomes an ASCII
//! stand-in (box drawing → `+-|`, blocks and sparkline ticks → `#=.`, symbols → letters), so
//! nothing non-ASCII can reach a terminal that cannot show it. Must not change layout widths.

use ratatui::buffer::Buffer;

/// The one-cell ASCII stand-in for a glyph.
pub fn glyph(c: char) -> char {
    match c {
        '─' | '━' | '═' | '╌' | '┄' => '-',
        '│' | '┃' | '║' | '╎' | '┆' => '|',
        '┌' | '┐' | '└' | '┘' | '├' | '┤' | '┬' | '┴' | '┼' | '╭' | '╮' | '╰' | '╯' | '╔' | '╗'
        | '╚' | '╝' | '┏' | '┓' | '┗' | '┛' => '+',
        '█' | '▇' => '#',
        '▆' | '▅' => '=',
        '▄' | '▃' => '-',
        '▂' | '▁' => '_',
        '░' | '▒' | '▓' => '.',
        '●' | '◉' => '*',
        '○' | '◌' => 'o',
        '✗' | '✘' | '×' => 'X',
        '✓' | '✔' => 'v',
        '⚠' | '⚑' => '!',
        '▶' | '›' | '→' | '»' | '❯' => '>',
        '◀' | '‹' | '←' | '«' => '<',
        '↩' | '↶' => '<',
        '↑' => '^',
        '↓' => 'v',
        '❄' => '*',
        '·' | '•' => '.',
        '—' | '–' | '‐' => '-',
        '…' => '~',
        '≤' => '<',
        '≥' => '>',
        '\u{2800}' => ' ',
        '\u{2801}'..='\u{28FF}' => '*',
        '␛' | '␤' | '␡' | '\u{FFFD}' => '?',
        '‘' | '’' => '\'',
        '“' | '”' => '"',
        c if c.is_ascii() => c,
        _ => '?',
    }
}

/// Replaces every non-ASCII cell of `buf` (a wide glyph's trailing cell becomes a space).
pub fn asciify(buf: &mut Buffer) {
    let area = buf.area;
    for y in area.top()..area.bottom() {
        let mut blank_next = false;
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            let sym = cell.symbol();
            if blank_next && sym.is_empty() {
                cell.set_symbol(" ");
                blank_next = false;
                continue;
            }
            blank_next = false;
            if sym.is_ascii() {
                continue;
            }
            let mut chars = sym.chars();
            let first = chars.next().unwrap_or(' ');
            let wide = unicode_width(first) > 1;
            let mut s = [0u8; 4];
            let rep = glyph(first).encode_utf8(&mut s).to_string();
            cell.set_symbol(&rep);
            blank_next = wide;
        }
    }
}

/// Rough display width: East Asian wide and emoji ranges count 2.
fn unicode_width(c: char) -> usize {
    let u = u32::from(c);
    if (0x1100..=0x115F).contains(&u)
        || (0x2E80..=0xA4CF).contains(&u)
        || (0xAC00..=0xD7A3).contains(&u)
        || (0xF900..=0xFAFF).contains(&u)
        || (0xFE30..=0xFE4F).contains(&u)
        || (0xFF00..=0xFF60).contains(&u)
        || (0xFFE0..=0xFFE6).contains(&u)
        || (0x1F300..=0x1FAFF).contains(&u)
        || (0x20000..=0x3FFFD).contains(&u)
    {
        2
    } else {
        1
    }
}
