//! The real `flagtop check-config` against every folder in `tests/invalid/` (copied into a
//! temp config dir via FLAGTOP_CONFIG_DIR): its output must match the folder's `expected.txt`
//! message by message (file, line, column, hint), and exit non-zero when there is an error.
//! Starting the TUI with the same broken files must fail with the same messages (no silent
//! fallback). `tests/valid/` is clean and exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else if e.file_name() != "expected.txt" {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

fn flagtop(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(args)
        .env("FLAGTOP_CONFIG_DIR", dir)
        .env("FLAGTOP_DATA", dir.join("data"))
        .env_remove("NO_COLOR")
        .env_remove("FLAGTOP_THEME")
        .env_remove("FLAGTOP_KEYMAP")
        .env_remove("FLAGTOP_BACKEND")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run flagtop")
}

/// Output with the temp dir written as `$DIR`, without the trailing "config dir:" line.
fn normalise(text: &[u8], dir: &Path) -> String {
    String::from_utf8_lossy(text)
        .replace(&dir.display().to_string(), "$DIR")
        .lines()
        .filter(|l| !l.starts_with("config dir:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("tests/invalid")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

#[test]
fn every_planted_error_is_found_with_its_position() {
    let cases = cases();
    assert!(
        cases.len() >= 12,
        "expected a folder per kind of problem, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let tmp = tempfile::tempdir().expect("tempdir");
        copy_dir(case, tmp.path());
        let out = flagtop(tmp.path(), &["check-config"]);
        let got = normalise(&out.stdout, tmp.path());
        let want = std::fs::read_to_string(case.join("expected.txt")).expect("expected.txt");
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if got != want {
            failures.push(format!(
                "== {name}: output differs\n-- want:\n{want}-- got:\n{got}"
            ));
        }
        let has_error = want.lines().any(|l| l.contains(": error: "));
        let code = out.status.code();
        if has_error != (code != Some(0)) {
            failures.push(format!("== {name}: exit {code:?} with errors={has_error}"));
        }
        // Every message names a file, a line and a column.
        for l in want
            .lines()
            .filter(|l| !l.starts_with("  hint:") && l.contains(": error: "))
        {
            let pos: Vec<&str> = l.split(": ").next().unwrap_or("").rsplitn(3, ':').collect();
            assert!(
                pos.len() == 3 && pos[0].parse::<u32>().is_ok() && pos[1].parse::<u32>().is_ok(),
                "{name}: no file:line:col in {l:?}"
            );
        }
        // Starting the TUI with these files fails with the same messages.
        if has_error {
            let start = flagtop(tmp.path(), &[]);
            let err = normalise(&start.stderr, tmp.path());
            assert_eq!(
                start.status.code(),
                Some(2),
                "{name}: the TUI started with a broken config:\n{err}"
            );
            let errors: Vec<&str> = err.lines().filter(|l| l.contains(": error: ")).collect();
            assert!(!errors.is_empty(), "{name}: no error at start:\n{err}");
            for l in errors {
                assert!(
                    want.contains(l),
                    "{name}: start-up message {l:?} is not what check-config says:\n{want}"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_complete_valid_config_passes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/valid"),
        tmp.path(),
    );
    let out = flagtop(tmp.path(), &["check-config"]);
    let text = normalise(&out.stdout, tmp.path());
    assert_eq!(text, "0 errors, 0 warnings\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn an_empty_config_dir_checks_every_shipped_theme_and_keymap_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = flagtop(tmp.path(), &["check-config"]);
    assert_eq!(normalise(&out.stdout, tmp.path()), "0 errors, 0 warnings\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn shipped_files_on_disk_are_the_embedded_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (kind, list) in [
        ("themes", flagtop::config::THEMES),
        ("keymaps", flagtop::config::KEYMAPS),
    ] {
        for (name, text) in list {
            let disk = std::fs::read_to_string(root.join(kind).join(format!("{name}.toml")))
                .expect("shipped file");
            assert_eq!(&disk, text, "{kind}/{name}.toml");
        }
    }
}
