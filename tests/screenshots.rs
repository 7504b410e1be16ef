//! Screenshots are a build artefact: every README image in `screenshots/` must equal a fresh
//! render of its state from the live demo's code path at a fixed clock
//! (`flagtop::screenshot::GALLERY`, `screenshot::live`). Regenerate with
//! `./scripts/screenshots`. Also runs the real `flagtop screenshot` command once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

use std::path::Path;

#[test]
fn committed_screenshots_are_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    let mut stale = Vec::new();
    for shot in flagtop::screenshot::GALLERY {
        let fresh = flagtop::screenshot::render_shot(shot).expect("render");
        assert!(
            fresh.starts_with("<svg") && fresh.trim_end().ends_with("</svg>"),
            "{}",
            shot.file
        );
        match std::fs::read_to_string(dir.join(shot.file)) {
            Ok(committed) if committed == fresh => {}
            Ok(_) => stale.push(format!("{} is stale", shot.file)),
            Err(e) => stale.push(format!("{} is missing: {e}", shot.file)),
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nregenerate with ./scripts/screenshots",
        stale.join("\n")
    );
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    for shot in flagtop::screenshot::GALLERY {
        assert!(
            readme.contains(&format!("(screenshots/{})", shot.file)),
            "README does not show {}",
            shot.file
        );
    }
}

#[test]
fn the_screenshot_command_writes_an_svg_with_the_incident() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("x.svg");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args([
            "screenshot",
            "--scenario",
            "demo",
            "--theme",
            "light",
            "--size",
            "120x36",
            "--state",
            "incident",
            "--out",
        ])
        .arg(&out)
        .env("FLAGTOP_CONFIG_DIR", tmp.path())
        .env("FLAGTOP_DATA", tmp.path().join("data"))
        .status()
        .expect("run");
    assert!(status.success());
    let svg = std::fs::read_to_string(&out).expect("svg");
    // The live demo's own engine actor (the old fixture called it `flagtop-safeguard`).
    for want in ["BREACHED", "eu-west", "flagtop-engine", "paused"] {
        assert!(svg.contains(want), "missing {want}");
    }
    assert!(!svg.contains('\u{1b}'));
    let ascii = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args([
            "screenshot",
            "--ascii",
            "--theme",
            "ansi16",
            "--size",
            "80x24",
            "--out",
        ])
        .arg(&out)
        .env("FLAGTOP_CONFIG_DIR", tmp.path())
        .env("FLAGTOP_DATA", tmp.path().join("data"))
        .status()
        .expect("run");
    assert!(ascii.success());
    let svg = std::fs::read_to_string(&out).expect("svg");
    assert!(svg.is_ascii(), "--ascii leaves only ASCII");
}
