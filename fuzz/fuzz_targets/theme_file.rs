//! A user theme file (`themes/NAME.toml`) with arbitrary text, read through the same path as
//! `--theme NAME`: must never panic; every problem renders as inert text with a position.
//! The checks live in `flagtop::fuzz_checks` so the test suite replays this corpus too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| flagtop::fuzz_checks::theme_file_check::theme_file(text));
