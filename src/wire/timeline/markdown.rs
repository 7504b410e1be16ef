//! The incident record as Markdown for a postmortem: a heading with the window, then one
//! numbered item per entry with its details as sub-items. Untrusted text arrives inert
//! (`sanitize::clean`) and is escaped here so that it cannot form Markdown (links, emphasis,
//! HTML, headings); before/after go in code spans.

use super::{Entry, EntryKind, Timeline};
use std::fmt::Write as _;

/// Backslash-escape every character that can start Markdown inside a line (emphasis, code,
/// links and images, HTML, tables, strike-through). Text never starts a line here, so list and
/// heading markers need no escape.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\`*_[]<>|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A code span that cannot be broken out of (backticks inside become `'`).
fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'"))
}

fn headline(e: &Entry) -> String {
    let when = e.at.format("%H:%M:%S");
    let kind = e.kind.as_str();
    let place = match (&e.flag, &e.env) {
        (Some(f), Some(env)) => format!(" {} in {}", code(f), code(env)),
        (Some(f), None) => format!(" {}", code(f)),
        (None, Some(env)) => format!(" in {}", code(env)),
        (None, None) => String::new(),
    };
    match e.kind {
        EntryKind::Signal => format!("**{when} {kind}**{place}: {}", escape(&e.what)),
        _ => format!(
            "**{when} {kind}** by {} ({}): {}{}",
            escape(&e.who),
            e.who_kind,
            escape(&e.what),
            e.audit_id
                .map_or_else(String::new, |id| format!(" (audit #{id})"))
        ),
    }
}

fn entry(out: &mut String, n: usize, e: &Entry) {
    let _ = writeln!(out, "{n}. {}", headline(e));
    let sub = |out: &mut String, label: &str, value: &str| {
        let _ = writeln!(out, "   - {label}: {value}");
    };
    if !e.reason.is_empty() && e.kind != EntryKind::Signal {
        sub(out, "reason", &escape(&e.reason));
    }
    if let Some(a) = &e.approval {
        sub(out, "request", &code(a));
    }
    if let (Some(b), Some(a)) = (&e.before, &e.after) {
        sub(out, "before → after", &format!("{} → {}", code(b), code(a)));
    }
    if let Some(r) = &e.reverse {
        sub(out, "reverse", &escape(r));
    }
    if let Some(f) = e.follows {
        sub(out, "follows", &format!("audit #{f}"));
    }
    if e.kind != EntryKind::Signal {
        for ev in &e.evidence {
            sub(out, "evidence", &escape(ev));
        }
    }
    if e.kind == EntryKind::Proposal {
        let gap = e
            .evidence_gap
            .as_deref()
            .map_or("none stated".into(), escape);
        sub(out, "evidence gap", &gap);
    }
}

/// The record as a Markdown appendix.
pub fn to_markdown(t: &Timeline) -> String {
    let w = &t.window;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Incident record: {} → {} UTC\n",
        w.since.format("%Y-%m-%d %H:%M:%S"),
        w.until.format("%Y-%m-%d %H:%M:%S")
    );
    let mut scope = Vec::new();
    if let Some(f) = &w.flag {
        scope.push(format!("flag {}", code(&crate::sanitize::clean(f, 100))));
    }
    if let Some(e) = &w.env {
        scope.push(format!(
            "environment {}",
            code(&crate::sanitize::clean(e, 100))
        ));
    }
    let scope = if scope.is_empty() {
        "every flag and environment".to_string()
    } else {
        scope.join(", ")
    };
    let _ = writeln!(
        out,
        "From flagtop's audit trail and approval queue: {scope}; {} entries, oldest first.\n",
        t.entries.len()
    );
    if t.entries.is_empty() {
        out.push_str("Nothing was decided in this window.\n");
    }
    for (i, e) in t.entries.iter().enumerate() {
        entry(&mut out, i + 1, e);
    }
    if t.left_out > 0 {
        let _ = writeln!(
            out,
            "\n… {} more entries left out; narrow the window (--since, --flag, --env).",
            t.left_out
        );
    }
    out
}
