//! Owns reading keymap files (`keymaps/*.toml`, the user's `keymap.toml`): contexts with
//! `keymap = [{ on, run, desc, hint }]` and `unbind = [..]`, `extends` layering, and checks
//! (unknown action, bad key, duplicate in one context, prefix clash, destructive action on a
//! tmux/screen Ctrl-letter). It must not look keys up at runtime (that is `tui::keymap`).

use super::doc::{self, Value};
use super::problem::{Problems, Source, choices_hint};
use super::{Kind, find};
use crate::tui::keymap::{Binding, Context, Keymap};
use crate::tui::keys::{Cmd, KeyPress, parse_seq};
use std::path::Path;
use toml::de::DeTable;

/// A binding with where it was written (file name and byte offset of its `on`).
#[derive(Debug, Clone)]
struct Placed {
    b: Binding,
    src: usize,
    at: usize,
    /// Order of application (a later layer or entry has a higher number).
    order: usize,
}

/// Resolution state: the sources read so far (for positions) and the bindings.
#[derive(Default)]
struct Layered {
    sources: Vec<Source>,
    placed: Vec<Placed>,
    applied: usize,
}

const TOP_KEYS: &[&str] = &[
    "extends",
    "description",
    "global",
    "flags",
    "ladder",
    "guardrails",
    "approvals",
    "activity",
    "dialog",
];
const CTX_KEYS: &[&str] = &["keymap", "unbind"];
const ENTRY_KEYS: &[&str] = &["on", "run", "desc", "hint"];

/// The embedded `keymaps/default.toml` (a test keeps it free of problems).
pub fn builtin_default() -> Keymap {
    let mut p = Problems::default();
    let k = resolve(None, "default", &mut p);
    if p.has_errors() {
        Keymap {
            name: "default".into(),
            bindings: Vec::new(),
        }
    } else {
        k
    }
}

/// The keymap named `name` (user `keymaps/NAME.toml` first, then shipped), with the user's
/// `keymap.toml` layered on top when `dir` has one.
/// `origin` names where `name` came from (e.g. `--keymap`) for an unknown-name problem.
pub fn load(dir: Option<&Path>, name: &str, origin: &str, p: &mut Problems) -> Keymap {
    let mut l = Layered::default();
    let user = dir.map(|d| d.join("keymap.toml")).filter(|f| f.exists());
    match &user {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => {
                let src = Source::new(path.display().to_string(), text);
                layer_source(dir, src, &mut l, &mut Vec::new(), p, Some((name, origin)));
            }
            Err(e) => p.push(Source::new(path.display().to_string(), "").problem(
                0,
                super::problem::Severity::Error,
                format!("cannot read: {e}"),
                None,
            )),
        },
        None => layer_named(dir, name, &mut l, &mut Vec::new(), Err(origin), p),
    }
    finish(name, l, p)
}

/// Resolves one named keymap alone (no user layer).
pub fn resolve(dir: Option<&Path>, name: &str, p: &mut Problems) -> Keymap {
    let mut l = Layered::default();
    layer_named(dir, name, &mut l, &mut Vec::new(), Err("keymap"), p);
    finish(name, l, p)
}

/// `from`: where the name was written — a file position, or a label such as `--keymap`.
fn layer_named(
    dir: Option<&Path>,
    name: &str,
    l: &mut Layered,
    chain: &mut Vec<String>,
    from: Result<(usize, usize), &str>,
    p: &mut Problems,
) {
    let report = |p: &mut Problems, l: &Layered, msg: String, hint: Option<String>| match from {
        Ok((s, at)) => p.error(&l.sources[s], at, msg, hint),
        Err(label) => p.push(super::problem::Problem {
            file: label.to_string(),
            line: 1,
            col: 1,
            severity: super::problem::Severity::Error,
            msg,
            hint,
        }),
    };
    if chain.iter().any(|c| c == name) {
        let cycle = format!("{} → {name}", chain.join(" → "));
        return report(
            p,
            l,
            format!("keymap extends cycle: {cycle}"),
            Some("remove one `extends`".into()),
        );
    }
    let Some(src) = find(dir, Kind::Keymaps, name, p) else {
        let names = super::names(dir, Kind::Keymaps);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        return report(
            p,
            l,
            format!("unknown keymap `{}`", name.escape_debug()),
            Some(choices_hint(name, &refs)),
        );
    };
    chain.push(name.to_string());
    layer_source(dir, src, l, chain, p, None);
    chain.pop();
}

/// Reads one file and applies it over `l` (its parent first, when it `extends` one).
/// `base`: the keymap (and where its name came from) to layer over when the file has no `extends`.
fn layer_source(
    dir: Option<&Path>,
    src: Source,
    l: &mut Layered,
    chain: &mut Vec<String>,
    p: &mut Problems,
    base: Option<(&str, &str)>,
) {
    l.sources.push(src);
    let si = l.sources.len() - 1;
    let src = l.sources[si].clone();
    let Some(top) = doc::parse(&src, p) else {
        return;
    };
    doc::check_keys(&src, &top, TOP_KEYS, "a keymap file", p);
    match doc::string(&src, &top, "extends", p) {
        Some((parent, at)) => layer_named(dir, parent, l, chain, Ok((si, at)), p),
        // The user's keymap.toml layers over the configured keymap by default.
        None => {
            if let Some((name, origin)) = base {
                layer_named(dir, name, l, chain, Err(origin), p);
            }
        }
    }
    let _ = doc::string(&src, &top, "description", p);
    for ctx in Context::ALL {
        let Some(t) = doc::table(&src, &top, ctx.name(), p) else {
            continue;
        };
        apply_context(&src, si, ctx, t, l, p);
    }
}

fn apply_context(
    src: &Source,
    si: usize,
    ctx: Context,
    t: &DeTable<'_>,
    l: &mut Layered,
    p: &mut Problems,
) {
    doc::check_keys(src, t, CTX_KEYS, &format!("[{}]", ctx.name()), p);
    if let Some(list) = doc::array(src, t, "unbind", p) {
        for v in list {
            let Some(s) = v.get_ref().as_str() else {
                p.error(
                    src,
                    v.span().start,
                    "`unbind` entries must be key strings like \"K\" or \"g g\"",
                    None,
                );
                continue;
            };
            match parse_seq(s) {
                Ok(seq) => {
                    let before = l.placed.len();
                    l.placed.retain(|x| !(x.b.ctx == ctx && x.b.on == seq));
                    if l.placed.len() == before {
                        p.warn(
                            src,
                            v.span().start,
                            format!(
                                "`{}` is not bound in [{}]; nothing to unbind",
                                s.escape_debug(),
                                ctx.name()
                            ),
                            None,
                        );
                    }
                }
                Err(e) => p.error(src, v.span().start, e, Some(key_hint())),
            }
        }
    }
    let Some(entries) = doc::array(src, t, "keymap", p) else {
        return;
    };
    let mut mine: Vec<(Vec<KeyPress>, usize)> = Vec::new();
    for v in entries {
        let Some(e) = v.get_ref().as_table() else {
            p.error(src, v.span().start, "each `keymap` entry must be a table like { on = \"r\", run = \"rollback\", desc = \"…\" }", None);
            continue;
        };
        let Some(b) = entry(src, ctx, e, v, p) else {
            continue;
        };
        let at = doc::get(e, "on").map_or(v.span().start, |x| x.span().start);
        if let Some((_, first)) = mine.iter().find(|(s, _)| *s == b.on) {
            let (line, _) = src.pos(*first);
            p.error(
                src,
                at,
                format!("`{}` is bound twice in [{}]", crate::tui::keys::seq_label(&b.on, true), ctx.name()),
                Some(format!("first bound on line {line}; remove one (to change a preset's key, bind it once here: it replaces the preset's)")),
            );
            continue;
        }
        mine.push((b.on.clone(), at));
        l.applied += 1;
        let placed = Placed {
            b,
            src: si,
            at,
            order: l.applied,
        };
        match l
            .placed
            .iter_mut()
            .find(|x| x.b.ctx == ctx && x.b.on == placed.b.on)
        {
            Some(x) => *x = placed,
            None => l.placed.push(placed),
        }
    }
}

fn key_hint() -> String {
    "keys look like `j`, `K`, `?`, `<Space>`, `<Enter>`, `<Esc>`, `<Tab>`, `<S-Tab>`, `<Up>`, `<PageDown>`, `<F1>`, `<C-a>`, `<A-x>`; a sequence is keys separated by spaces: `g g`".into()
}

fn entry(
    src: &Source,
    ctx: Context,
    e: &DeTable<'_>,
    v: &Value<'_>,
    p: &mut Problems,
) -> Option<Binding> {
    doc::check_keys(src, e, ENTRY_KEYS, "a keymap entry", p);
    let on = doc::string(src, e, "on", p);
    let run = doc::string(src, e, "run", p);
    let desc = doc::string(src, e, "desc", p);
    let hint = doc::boolean(src, e, "hint", p).unwrap_or(false);
    if on.is_none() && doc::get(e, "on").is_none() {
        p.error(
            src,
            v.span().start,
            "keymap entry without `on` (the key)",
            None,
        );
    }
    if run.is_none() && doc::get(e, "run").is_none() {
        p.error(
            src,
            v.span().start,
            "keymap entry without `run` (the action)",
            None,
        );
    }
    let seq = match on {
        Some((s, at)) => match parse_seq(s) {
            Ok(seq) => Some(seq),
            Err(msg) => {
                p.error(src, at, msg, Some(key_hint()));
                None
            }
        },
        None => None,
    };
    let cmd = match run {
        Some((s, at)) => match Cmd::from_name(s) {
            Some(c) => Some(c),
            None => {
                let names: Vec<String> = Cmd::ALL.iter().map(|c| c.name()).collect();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                p.error(
                    src,
                    at,
                    format!("unknown action `{}`", s.escape_debug()),
                    Some(choices_hint(s, &refs)),
                );
                None
            }
        },
        None => None,
    };
    let (seq, cmd) = (seq?, cmd?);
    if let (Some(c), true) = (
        seq.first().and_then(KeyPress::ctrl_letter),
        cmd.is_mutating(),
    ) {
        let who = match c {
            'a' => "screen's prefix (and a common tmux prefix)",
            'b' => "tmux's prefix",
            'h' | 'j' | 'k' | 'l' => "tmux/vim pane navigation",
            'd' => "end-of-input in shells; closes panes",
            _ => "a common tmux/screen prefix or terminal control key",
        };
        p.warn(
            src,
            on.map_or(0, |o| o.1),
            format!("destructive action `{}` is bound to Ctrl-{c}, which is {who}", cmd.name()),
            Some("inside tmux or screen the key may never arrive, or arrive when you meant the multiplexer; bind it to a plain key".into()),
        );
    }
    // Shown in help and the footer: inert, like any text from outside.
    let desc = desc
        .map(|d| crate::sanitize::sanitize(d.0).into_owned())
        .unwrap_or_else(|| cmd.name().replace('_', " "));
    Some(Binding {
        ctx,
        on: seq,
        run: cmd,
        desc,
        hint,
    })
}

/// Final checks over the resolved bindings (prefix clashes), then the keymap.
fn finish(name: &str, l: Layered, p: &mut Problems) -> Keymap {
    for (i, a) in l.placed.iter().enumerate() {
        for b in &l.placed[i + 1..] {
            if a.b.ctx != b.b.ctx || a.b.on == b.b.on {
                continue;
            }
            let (short, long) = if a.b.on.len() < b.b.on.len() {
                (a, b)
            } else {
                (b, a)
            };
            if long.b.on.starts_with(&short.b.on) {
                let later = if a.order > b.order { a } else { b };
                p.error(
                    &l.sources[later.src],
                    later.at,
                    format!(
                        "`{}` starts `{}` in [{}]: the longer sequence could never be typed",
                        crate::tui::keys::seq_label(&short.b.on, true),
                        crate::tui::keys::seq_label(&long.b.on, true),
                        short.b.ctx.name()
                    ),
                    Some(format!(
                        "unbind `{}` in [{}] first",
                        crate::tui::keys::seq_label(&short.b.on, true),
                        short.b.ctx.name()
                    )),
                );
            }
        }
    }
    Keymap {
        name: name.to_string(),
        bindings: l.placed.into_iter().map(|x| x.b).collect(),
    }
}
