//! The checks behind the fuzz targets (`fuzz/fuzz_targets/*`), shared with the corpus replay
//! test (`tests/fuzz_corpus.rs`) so CI runs every committed corpus input through them. Each
//! function panics on a broken invariant; nothing here is reached by users.
#![doc(hidden)]
#![allow(clippy::panic, clippy::unwrap_used)]

pub mod sse_parser_check {
    //! See `fuzz/fuzz_targets/sse_parser.rs`.
    #[allow(unused_imports)]
    use super::scratch_dir;
    use crate::client::sse::{SseItem, SseParser};

    const MAX_LINE: usize = 256;
    const MAX_EVENT: usize = 1024;

    /// Feeds `chunks` until the first error; returns the items and whether it failed.
    fn run<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> (Vec<SseItem>, bool) {
        let mut p = SseParser::new(MAX_LINE, MAX_EVENT);
        let mut out = Vec::new();
        for c in chunks {
            if p.push(c, &mut out).is_err() {
                return (out, true);
            }
        }
        (out, false)
    }

    pub fn sse_parser(input: &[u8]) {
        let Some((&seed, data)) = input.split_first() else {
            return;
        };
        let whole = run(std::iter::once(data));
        // Chunk sizes 1..=16 driven by the seed byte, cycling.
        let mut chunks = Vec::new();
        let (mut at, mut k) = (0usize, u32::from(seed));
        while at < data.len() {
            let n = (k % 16 + 1) as usize;
            chunks.push(&data[at..(at + n).min(data.len())]);
            at += n;
            k = k.wrapping_mul(31).wrapping_add(7);
        }
        let split = run(chunks.into_iter());
        assert_eq!(whole, split, "chunking changed the result");
        let bytewise = run(data.chunks(1));
        assert_eq!(whole, bytewise, "byte-by-byte feeding changed the result");
        for item in &whole.0 {
            if let SseItem::Event(e) = item {
                assert!(
                    e.data.len() <= MAX_EVENT,
                    "event data over the limit: {}",
                    e.data.len()
                );
                assert!(
                    e.event.len() <= MAX_LINE && e.id.as_ref().is_none_or(|i| i.len() <= MAX_LINE)
                );
                assert!(!e.event.contains(['\n', '\r']) && !e.data.contains('\r'));
            }
        }
    }
}

pub mod api_json_check {
    //! See `fuzz/fuzz_targets/api_json.rs`.
    #[allow(unused_imports)]
    use super::scratch_dir;
    use crate::control::{definitions, scenario};
    use crate::domain::{Action, Flag, State};
    use crate::sanitize::{clean, sanitize};
    use crate::wire::{ActionRequest, MetricBatch, ProposalRequest};
    use std::sync::OnceLock;

    use crate::testkit::t0;

    fn demo() -> &'static State {
        static S: OnceLock<State> = OnceLock::new();
        S.get_or_init(|| match scenario::build("demo", t0()) {
            Ok(s) => s.state,
            Err(e) => panic!("demo scenario: {e}"),
        })
    }

    /// Ladder entry times move on every step; everything else must match.
    fn without_clock(mut s: State) -> State {
        for f in s.flags.values_mut() {
            for (_, e) in std::sync::Arc::make_mut(f).environments.iter_mut() {
                if let Some(l) = e.ladder.as_mut() {
                    l.entered_at = t0();
                }
            }
            // When exposure last changed moves forward with every change, like entered_at.
            std::sync::Arc::make_mut(f).changed_at = None;
        }
        s
    }

    fn inert(s: &str) {
        let out = sanitize(s);
        assert!(
            !out.chars().any(|c| c.is_control()),
            "control char survived sanitize: {out:?}"
        );
        let short = clean(s, 80);
        assert!(short.chars().count() <= 80);
    }

    fn exercise(action: &Action, reason: &str) {
        let state = demo();
        inert(&action.describe());
        let _ = action.command_line(reason);
        let _ = action.tier(state);
        let mut s = state.clone();
        match action.apply(&mut s, t0() + chrono::Duration::seconds(90)) {
            Err(_) => assert!(&s == state, "a failed action changed the state: {action:?}"),
            Ok(reverse) => {
                let _ = reverse.command_line(reason);
                let mut back = s.clone();
                let again = reverse.apply(&mut back, t0() + chrono::Duration::seconds(120));
                assert!(
                    again.is_ok(),
                    "reverse {reverse:?} of {action:?} failed: {again:?}"
                );
                assert!(
                    without_clock(back) == without_clock(state.clone()),
                    "reverse of {action:?} did not restore the state"
                );
            }
        }
    }

    pub fn api_json(input: &[u8]) {
        let Some((&which, body)) = input.split_first() else {
            return;
        };
        match which % 4 {
            0 => {
                if let Ok(req) = serde_json::from_slice::<ActionRequest>(body) {
                    inert(&req.reason);
                    exercise(&req.action, &req.reason);
                    let _ = serde_json::to_string(&req);
                }
            }
            1 => {
                if let Ok(req) = serde_json::from_slice::<ProposalRequest>(body) {
                    inert(&req.reason);
                    req.evidence_gap.as_deref().map(inert);
                    for e in &req.evidence {
                        inert(&e.metric);
                        inert(&e.cohort);
                    }
                    exercise(&req.action, &req.reason);
                    if let Some(r) = &req.reverse {
                        exercise(r, &req.reason);
                    }
                }
            }
            2 => {
                if let Ok(batch) = serde_json::from_slice::<MetricBatch>(body) {
                    for s in &batch.samples {
                        inert(&s.metric);
                        inert(&s.cohort);
                    }
                    let _ = serde_json::to_string(&batch);
                }
            }
            _ => {
                if let Ok(flag) = serde_json::from_slice::<Flag>(body) {
                    inert(&flag.description);
                    inert(&flag.owner);
                    let mut state = demo().clone();
                    if definitions::validate(&flag, &state).is_ok() {
                        let key = flag.key.clone();
                        let envs: Vec<_> = flag.environments.keys().cloned().collect();
                        state.flags.insert(key.clone(), std::sync::Arc::new(flag));
                        for env in envs {
                            let before = state.clone();
                            let kill = Action::Kill {
                                flag: key.clone(),
                                env,
                            };
                            if let Ok(rev) = kill.apply(&mut state, t0()) {
                                let _ = rev.apply(&mut state, t0());
                                assert!(
                                    without_clock(state.clone()) == without_clock(before.clone()),
                                    "kill + reverse on a defined flag"
                                );
                            }
                            state = before;
                        }
                    }
                }
            }
        }
    }
}

pub mod flags_file_check {
    //! See `fuzz/fuzz_targets/flags_file.rs`.
    #[allow(unused_imports)]
    use super::scratch_dir;
    use crate::control::{definitions, scenario};
    use crate::domain::State;
    use chrono::{TimeZone, Utc};
    use std::sync::OnceLock;

    fn demo() -> &'static State {
        static S: OnceLock<State> = OnceLock::new();
        S.get_or_init(|| {
            let t0 = Utc
                .with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
                .single()
                .unwrap_or_default();
            match scenario::build("demo", t0) {
                Ok(s) => s.state,
                Err(e) => panic!("demo scenario: {e}"),
            }
        })
    }

    pub fn flags_file(text: &str) {
        match definitions::parse("flags.toml", text) {
            Err(msg) => assert!(
                msg.starts_with("flags.toml:"),
                "error without a position: {msg}"
            ),
            Ok(file) => {
                let mut state = demo().clone();
                for env in &file.environments {
                    state.environments.push(env.clone());
                }
                for flag in &file.flags {
                    let _ = definitions::validate(flag, &state);
                }
            }
        }
    }
}

pub mod config_file_check {
    //! See `fuzz/fuzz_targets/config_file.rs`.
    #[allow(unused_imports)]
    use super::scratch_dir;
    use crate::config::problem::{Problems, Source};
    use crate::config::{render_problems, settings};

    pub fn config_file(text: &str) {
        let src = Source::new("config.toml", text);
        let mut p = Problems::default();
        let _ = settings::parse(&src, &mut p);
        let shown = render_problems(&p);
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "raw control char in problems: {shown:?}"
        );
    }
}

pub mod theme_file_check {
    //! See `fuzz/fuzz_targets/theme_file.rs`.
    #[allow(unused_imports)]
    use super::scratch_dir;
    use crate::config::problem::Problems;
    use crate::config::{render_problems, theme};
    use std::path::PathBuf;
    use std::sync::OnceLock;

    fn dir() -> &'static PathBuf {
        static D: OnceLock<PathBuf> = OnceLock::new();
        D.get_or_init(|| {
            let d = scratch_dir();
            std::fs::create_dir_all(d.join("themes")).unwrap_or_else(|e| panic!("mkdir: {e}"));
            d
        })
    }

    pub fn theme_file(text: &str) {
        let d = dir();
        if std::fs::write(d.join("themes").join("fuzz.toml"), text).is_err() {
            return;
        }
        let mut p = Problems::default();
        let _ = theme::resolve(Some(d), "fuzz", "--theme", &mut p);
        let shown = render_problems(&p);
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "raw control char in problems: {shown:?}"
        );
    }
}

pub mod keymap_file_check {
    //! See `fuzz/fuzz_targets/keymap_file.rs`.
    #[allow(unused_imports)]
    use super::scratch_dir;
    use crate::config::problem::Problems;
    use crate::config::{keymap, render_problems};
    use std::path::PathBuf;
    use std::sync::OnceLock;

    fn dir() -> &'static PathBuf {
        static D: OnceLock<PathBuf> = OnceLock::new();
        D.get_or_init(|| {
            let d = scratch_dir();
            std::fs::create_dir_all(d.join("keymaps")).unwrap_or_else(|e| panic!("mkdir: {e}"));
            d
        })
    }

    fn check(p: &Problems) {
        let shown = render_problems(p);
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "raw control char in problems: {shown:?}"
        );
    }

    pub fn keymap_file(text: &str) {
        let d = dir();
        // As a named keymap (`--keymap fuzz`).
        if std::fs::write(d.join("keymaps").join("fuzz.toml"), text).is_err() {
            return;
        }
        let mut p = Problems::default();
        let _ = keymap::resolve(Some(d), "fuzz", &mut p);
        check(&p);
        // As the user's keymap.toml over the default.
        let user = d.join("keymap.toml");
        if std::fs::write(&user, text).is_ok() {
            let mut p = Problems::default();
            let _ = keymap::load(Some(d), "default", "--keymap", &mut p);
            check(&p);
            let _ = std::fs::remove_file(&user);
        }
    }
}

/// A private scratch directory for file-based checks (one per process).
pub fn scratch_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("flagtop-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&d);
    d
}
