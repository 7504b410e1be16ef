//! Owns bounded, incremental parsing of `text/event-stream` bytes into events (WHATWG SSE rules);
//! it must not do I/O, reconnection, or timers, must not hold unbounded input, and must not panic.

use std::fmt;

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The last event id in force when the event was dispatched (None if never set or reset).
    pub id: Option<String>,
    /// Event type; "message" when the stream did not set one.
    pub event: String,
    /// Data lines joined with '\n'.
    pub data: String,
    /// A valid `retry` value seen since the previous dispatched event, in milliseconds.
    pub retry: Option<u64>,
}

/// One parsed item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    Event(SseEvent),
    /// A comment line (starting with ':'), typically a heartbeat.
    Comment,
}

/// Why the stream must be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseError {
    LineTooLong { limit: usize },
    EventTooLarge { limit: usize },
    InvalidUtf8,
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong { limit } => write!(f, "event-stream line longer than {limit} bytes"),
            Self::EventTooLarge { limit } => write!(f, "event-stream event over {limit} bytes"),
            Self::InvalidUtf8 => f.write_str("event-stream line is not valid UTF-8"),
        }
    }
}

impl std::error::Error for SseError {}

/// Incremental parser; feed it bytes with [`SseParser::push`] as they arrive.
#[derive(Debug, Clone)]
pub struct SseParser {
    max_line: usize,
    max_event: usize,
    /// Bytes of the unfinished line (never more than `max_line`).
    line: Vec<u8>,
    /// The previous byte was CR, so a following LF belongs to the same line ending.
    pending_cr: bool,
    /// No line has completed yet (a leading UTF-8 BOM is stripped from the first line).
    first_line: bool,
    /// Data buffer, lines joined with '\n' (never more than `max_event` bytes).
    data: String,
    /// At least one `data` field was seen for the current event.
    has_data: bool,
    event_type: String,
    last_event_id: Option<String>,
    pending_retry: Option<u64>,
    retry: Option<u64>,
}

/// The index of the first CR or LF. Event lines are kilobytes of JSON: the scan looks at 32
/// bytes at a time with no early exit inside a block, which compiles to SIMD compares (a
/// byte-at-a-time scan was most of a client's CPU with many busy streams).
fn line_end(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 32;
    let is_end = |b: u8| u8::from(b == b'\n') | u8::from(b == b'\r');
    let clean = bytes
        .chunks_exact(BLOCK)
        .take_while(|block| block.iter().fold(0, |hit, &b| hit | is_end(b)) == 0)
        .count();
    let start = clean * BLOCK;
    bytes[start..]
        .iter()
        .position(|&b| is_end(b) != 0)
        .map(|i| start + i)
}

impl SseParser {
    /// `max_line`: longest line accepted, in bytes, excluding its terminator.
    /// `max_event`: largest accumulated data of one event, in bytes (including '\n' joins).
    pub fn new(max_line: usize, max_event: usize) -> Self {
        Self {
            max_line,
            max_event,
            line: Vec::new(),
            pending_cr: false,
            first_line: true,
            data: String::new(),
            has_data: false,
            event_type: String::new(),
            last_event_id: None,
            pending_retry: None,
            retry: None,
        }
    }

    /// Feed bytes as they arrive (chunks may split lines, CRLF pairs, and UTF-8 sequences
    /// anywhere). Items completed by this chunk are appended to `out`, even when an error
    /// is returned later in the same chunk. After an error the buffers are cleared and the
    /// caller should drop the connection.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseError> {
        let result = self.push_inner(bytes, out);
        if result.is_err() {
            (self.line, self.data) = (Vec::new(), String::new());
            self.reset_event();
        }
        result
    }

    /// The last event id set by the stream, for a `Last-Event-ID` header on reconnect.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The latest valid reconnection time (ms) the stream asked for, dispatched or not.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    fn push_inner(&mut self, mut bytes: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseError> {
        while let Some((&first, rest)) = bytes.split_first() {
            // An LF right after a CR (possibly in an earlier chunk) ends no extra line.
            if std::mem::take(&mut self.pending_cr) && first == b'\n' {
                bytes = rest;
                continue;
            }
            let Some(pos) = line_end(bytes) else {
                self.extend_line(bytes)?;
                return Ok(());
            };
            let (head, rest) = (&bytes[..pos], &bytes[pos + 1..]);
            self.pending_cr = bytes[pos] == b'\r';
            bytes = rest;
            if self.line.is_empty() {
                // The whole line is in this chunk: parse it where it is.
                if head.len() > self.max_line {
                    return Err(SseError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                self.process_line(head, out)?;
                continue;
            }
            self.extend_line(head)?;
            let line = std::mem::take(&mut self.line);
            let result = self.process_line(&line, out);
            self.line = line; // reuse the allocation
            self.line.clear();
            result?;
        }
        Ok(())
    }

    fn extend_line(&mut self, part: &[u8]) -> Result<(), SseError> {
        if part.len() > self.max_line.saturating_sub(self.line.len()) {
            let limit = self.max_line;
            return Err(SseError::LineTooLong { limit });
        }
        self.line.extend_from_slice(part);
        Ok(())
    }

    fn process_line(&mut self, mut raw: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseError> {
        if std::mem::take(&mut self.first_line) {
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        }
        let line = std::str::from_utf8(raw).map_err(|_| SseError::InvalidUtf8)?;
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line.starts_with(':') {
            out.push(SseItem::Comment);
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => {
                self.event_type.clear();
                self.event_type.push_str(value);
            }
            "data" => {
                let sep = usize::from(self.has_data);
                if value.len() + sep > self.max_event.saturating_sub(self.data.len()) {
                    let limit = self.max_event;
                    return Err(SseError::EventTooLarge { limit });
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => {
                // An empty id resets the last event id (no Last-Event-ID header).
                self.last_event_id = (!value.is_empty()).then(|| value.to_owned());
            }
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // All digits; only overflow can fail, and an absurd value is ignored.
                if let Ok(ms) = value.parse::<u64>() {
                    self.pending_retry = Some(ms);
                    self.retry = Some(ms);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        if !self.has_data {
            self.reset_event();
            return;
        }
        let event = if self.event_type.is_empty() {
            "message".to_owned()
        } else {
            std::mem::take(&mut self.event_type)
        };
        out.push(SseItem::Event(SseEvent {
            id: self.last_event_id.clone(),
            event,
            data: std::mem::take(&mut self.data),
            retry: self.pending_retry.take(),
        }));
        self.reset_event();
    }

    fn reset_event(&mut self) {
        self.data.clear();
        self.has_data = false;
        self.event_type.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` to `p`; renders an event as `"data"@id:event~retry` (default parts
    /// omitted), a comment as `#`, and the first error as `!Error`.
    fn feed(p: &mut SseParser, chunks: &[&[u8]]) -> String {
        let mut out = Vec::new();
        let err = chunks.iter().find_map(|c| p.push(c, &mut out).err());
        let show = |item: &SseItem| match item {
            SseItem::Comment => "#".to_owned(),
            SseItem::Event(e) => {
                let mut s = format!("{:?}", e.data);
                s.extend(e.id.as_ref().map(|id| format!("@{id}")));
                s.extend((e.event != "message").then(|| format!(":{}", e.event)));
                s.extend(e.retry.map(|r| format!("~{r}")));
                s
            }
        };
        let mut parts: Vec<String> = out.iter().map(show).collect();
        parts.extend(err.map(|e| format!("!{e:?}")));
        parts.join(", ")
    }

    fn new() -> SseParser {
        SseParser::new(1024, 4096)
    }

    const CASES: &[(&[u8], &str)] = &[
        // Single event; only one leading space is stripped; no colon means an empty value.
        (b"data: hello\n\n", r#""hello""#),
        (b"event: flag\ndata:tight\n\n", r#""tight":flag"#),
        (b"data:  two\n\ndata\n\nbogus: 1\n\n", r#"" two", """#),
        // Multi-line data.
        (b"data: a\ndata: b\ndata\ndata: c\n\n", r#""a\nb\n\nc""#),
        // CRLF, lone CR, and mixed line endings.
        (b"event: x\r\ndata: 1\r\ndata: 2\r\n\r\n", r#""1\n2":x"#),
        (b"event: x\rdata: 1\rdata: 2\r\r", r#""1\n2":x"#),
        (b"data: 1\rdata: 2\r\n\ndata: 3\n\r", r#""1\n2", "3""#),
        // UTF-8 payload (every case is also fed byte by byte below).
        (
            "id: ü\ndata: café ✓ 日本 🚀\n\n".as_bytes(),
            r#""café ✓ 日本 🚀"@ü"#,
        ),
        // Comments (heartbeats) and a leading BOM.
        (b"\xEF\xBB\xBF: hi\n:\ndata: x\n\n", r#"#, #, "x""#),
        // Retry: only all-digit values; a retry-only block carries over to the next event.
        (b"retry: 3000\ndata: a\n\ndata: b\n\n", r#""a"~3000, "b""#),
        (
            b"retry: x\nretry: -5\nretry: 1 \nretry:\ndata: a\n\n",
            r#""a""#,
        ),
        (b"retry: 99999999999999999999999\ndata: a\n\n", r#""a""#),
        (b"retry: 10\n\ndata: a\n\n", r#""a"~10"#),
        // Id persistence; an id containing NUL is ignored; an empty id resets.
        (b"id: 1\ndata: a\n\ndata: b\n\n", r#""a"@1, "b"@1"#),
        (
            b"id: 1\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\n",
            r#""c"@1, "d""#,
        ),
        // Events without data (or unterminated) are not dispatched.
        (b"event: x\n\nid: 1\n\n\n\ndata: y\n\n", r#""y"@1"#),
        (b"data: unterminated\n", ""),
        // Invalid UTF-8, including a truncated sequence.
        (b"data: \xff\xfe\n", "!InvalidUtf8"),
        (b"data: ok\n\ndata: \xe2\x98\n", r#""ok", !InvalidUtf8"#),
    ];

    #[test]
    fn cases_whole_and_byte_by_byte() {
        for &(input, want) in CASES {
            let shown = String::from_utf8_lossy(input);
            assert_eq!(feed(&mut new(), &[input]), want, "whole: {shown:?}");
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(feed(&mut new(), &bytes), want, "bytewise: {shown:?}");
        }
    }

    #[test]
    fn cr_lf_split_across_chunks() {
        let chunks: [&[u8]; 6] = [b"data: a\r", b"\n", b"data: b\r", b"\n", b"\r", b"\n"];
        assert_eq!(feed(&mut new(), &chunks), r#""a\nb""#);
        // Empty chunks must not clear the pending CR.
        let chunks: [&[u8]; 6] = [b"data: c\r", b"", b"\n", b"\r", b"", b"\ndata: d\n\n"];
        assert_eq!(feed(&mut new(), &chunks), r#""c", "d""#);
    }

    #[test]
    fn parser_state_accessors() {
        let mut p = new();
        assert_eq!((p.last_event_id(), p.retry()), (None, None));
        assert_eq!(feed(&mut p, &[b"id: 7\nretry: 50\n\n"]), "");
        assert_eq!((p.last_event_id(), p.retry()), (Some("7"), Some(50)));
        assert_eq!(feed(&mut p, &[b"id\nretry: no\n\n"]), "");
        assert_eq!((p.last_event_id(), p.retry()), (None, Some(50)));
    }

    #[test]
    fn limits() {
        let mut p = SseParser::new(10, 5);
        assert_eq!(feed(&mut p, &[b"data: ab\ndata: cd\n\n"]), r#""ab\ncd""#);
        let too_big = feed(&mut p, &[b"data: ab\ndata: cde\n\n"]);
        assert_eq!(too_big, "!EventTooLarge { limit: 5 }");
        // Exactly 10 bytes pending is fine; one more is not, even without a terminator.
        assert_eq!(feed(&mut p, &[b"data: 1234"]), "");
        assert_eq!(feed(&mut p, &[b"5"]), "!LineTooLong { limit: 10 }");
        assert!(p.line.len() <= 10);
        let line = feed(&mut SseParser::new(10, 100), &[b"data: 12345\n"]);
        assert_eq!(line, "!LineTooLong { limit: 10 }");
    }

    #[test]
    fn pseudo_random_chunking_matches_whole() {
        let endings = ["\n", "\r\n", "\r"];
        let mut stream = String::new();
        for i in 0..50usize {
            let mut lines = Vec::new();
            (i % 7 == 0).then(|| lines.push(": heartbeat".to_owned()));
            (i % 4 == 0).then(|| lines.push(format!("id: evt-{i}")));
            (i % 5 == 0).then(|| lines.push("event: flag.updated".to_owned()));
            (i % 11 == 0).then(|| lines.push(format!("retry: {}", 1000 + i)));
            lines.push(format!("data: {{\"n\":{i},\"name\":\"größe ✓ 🚀\"}}"));
            (i % 3 == 0).then(|| lines.push("data:second line".to_owned()));
            lines.push(String::new());
            stream.extend(lines.iter().map(|l| format!("{l}{}", endings[i % 3])));
        }
        let stream = stream.as_bytes();
        let whole = feed(&mut new(), &[stream]);
        assert_eq!(whole.matches("größe").count(), 50);
        assert_eq!(whole.matches("flag.updated").count(), 10);
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for round in 0..200u64 {
            let max_chunk = 1 + (round % 16) * 4;
            let (mut chunks, mut rest) = (Vec::new(), stream);
            while !rest.is_empty() {
                state = state.wrapping_mul(6_364_136_223_846_793_005);
                state = state.wrapping_add(1_442_695_040_888_963_407);
                // 0..=max_chunk bytes: empty chunks are exercised too.
                let n = ((state >> 33) % (max_chunk + 1)) as usize;
                let (chunk, tail) = rest.split_at(n.min(rest.len()));
                chunks.push(chunk);
                rest = tail;
            }
            assert_eq!(feed(&mut new(), &chunks), whole, "round {round}");
        }
    }
}
