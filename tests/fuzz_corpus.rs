//! A bounded fuzzing run for CI: every input of the committed fuzz corpus (`fuzz/corpus/*`,
//! grown and minimised by `scripts/fuzz`) goes through the same checks as the cargo-fuzz
//! targets. Coverage-guided fuzzing itself is `scripts/fuzz SECS` (see
//! docs/reliability-terminal.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

use flagtop::fuzz_checks::*;
use std::path::PathBuf;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let inputs: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    assert!(!inputs.is_empty(), "the {target} corpus is empty");
    inputs
}

fn text(input: &[u8]) -> Option<&str> {
    // cargo-fuzz hands `&str` targets only valid UTF-8.
    std::str::from_utf8(input).ok()
}

#[test]
fn replay_sse_parser() {
    for i in corpus("sse_parser") {
        sse_parser_check::sse_parser(&i);
    }
}

#[test]
fn replay_api_json() {
    for i in corpus("api_json") {
        api_json_check::api_json(&i);
    }
}

#[test]
fn replay_flags_file() {
    for i in corpus("flags_file") {
        if let Some(t) = text(&i) {
            flags_file_check::flags_file(t);
        }
    }
}

#[test]
fn replay_config_file() {
    for i in corpus("config_file") {
        if let Some(t) = text(&i) {
            config_file_check::config_file(t);
        }
    }
}

#[test]
fn replay_theme_and_keymap_files() {
    for i in corpus("theme_file") {
        if let Some(t) = text(&i) {
            theme_file_check::theme_file(t);
        }
    }
    for i in corpus("keymap_file") {
        if let Some(t) = text(&i) {
            keymap_file_check::keymap_file(t);
        }
    }
}
