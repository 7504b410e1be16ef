//! The SSE parser (`flagtop::client::sse`) on arbitrary bytes: it must never panic, must keep
//! its size limits, and must give the same items whether the bytes arrive at once or split
//! into arbitrary chunks (lines, CRLF pairs and UTF-8 sequences cut anywhere).
//! The checks live in `flagtop::fuzz_checks` so the test suite replays this corpus too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| flagtop::fuzz_checks::sse_parser_check::sse_parser(input));
