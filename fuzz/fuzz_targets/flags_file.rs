//! `flags.toml` (`flagtop apply -f`) with arbitrary text: parse errors carry a position and
//! never panic; whatever parses is validated against the demo environments.
//! The checks live in `flagtop::fuzz_checks` so the test suite replays this corpus too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| flagtop::fuzz_checks::flags_file_check::flags_file(text));
