//! `config.toml` with arbitrary text: must never panic; every problem renders as inert text.
//! The checks live in `flagtop::fuzz_checks` so the test suite replays this corpus too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| flagtop::fuzz_checks::config_file_check::config_file(text));
