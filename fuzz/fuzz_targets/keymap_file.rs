//! A user keymap (`keymap.toml` layered over a shipped one, and `keymaps/NAME.toml`) with
//! arbitrary text: must never panic; every problem renders as inert text with a position.
//! The checks live in `flagtop::fuzz_checks` so the test suite replays this corpus too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| flagtop::fuzz_checks::keymap_file_check::keymap_file(text));
