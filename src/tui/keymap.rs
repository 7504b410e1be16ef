//! Owns the loaded keymap: bindings per context (global, each pane, dialogs), lookup of a key
//! sequence (exact, prefix of a longer one, or nothing), and the help/footer/README views of it.
//! It must not read files (that is `crate::config::keymap`) or act on the model.

use super::keys::{Cmd, KeyPress, seq_label};
use super::pane::Pane;

/// Where a binding applies. Pane contexts are consulted before `Global`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    Global,
    Flags,
    Ladder,
    Guardrails,
    Approvals,
    Activity,
    Dialog,
}

impl Context {
    pub const ALL: [Context; 7] = [
        Context::Global,
        Context::Flags,
        Context::Ladder,
        Context::Guardrails,
        Context::Approvals,
        Context::Activity,
        Context::Dialog,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Flags => "flags",
            Context::Ladder => "ladder",
            Context::Guardrails => "guardrails",
            Context::Approvals => "approvals",
            Context::Activity => "activity",
            Context::Dialog => "dialog",
        }
    }

    pub fn from_name(s: &str) -> Option<Context> {
        Context::ALL.into_iter().find(|c| c.name() == s)
    }

    pub fn of_pane(p: Pane) -> Context {
        match p {
            Pane::Flags => Context::Flags,
            Pane::Ladder => Context::Ladder,
            Pane::Guardrails => Context::Guardrails,
            Pane::Approvals => Context::Approvals,
            Pane::Activity => Context::Activity,
        }
    }
}

/// One binding: a key sequence, what it runs, and how it is described.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub ctx: Context,
    pub on: Vec<KeyPress>,
    pub run: Cmd,
    pub desc: String,
    /// Shown in the footer's key hints (all bindings show in `?` help).
    pub hint: bool,
}

/// The answer to a key sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Exact(Cmd),
    /// The keys so far start a longer binding: wait for the next key.
    Prefix,
    None,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keymap {
    /// Name of the keymap it was built from (`default`, `vim`, a user file).
    pub name: String,
    /// In file order.
    pub bindings: Vec<Binding>,
}

impl Keymap {
    fn lookup_in(&self, ctx: Context, seq: &[KeyPress]) -> Lookup {
        let mut prefix = false;
        for b in self.bindings.iter().filter(|b| b.ctx == ctx) {
            if b.on == seq {
                return Lookup::Exact(b.run);
            }
            if b.on.len() > seq.len() && b.on.starts_with(seq) {
                prefix = true;
            }
        }
        if prefix { Lookup::Prefix } else { Lookup::None }
    }

    /// Looks `seq` up in the focused pane's context, then in `global`.
    pub fn lookup(&self, pane: Pane, seq: &[KeyPress]) -> Lookup {
        match self.lookup_in(Context::of_pane(pane), seq) {
            Lookup::None => self.lookup_in(Context::Global, seq),
            hit => hit,
        }
    }

    /// What a key does inside a dialog (`confirm`, `cancel`, `switch_field`), if bound.
    pub fn dialog(&self, k: KeyPress) -> Option<Cmd> {
        match self.lookup_in(Context::Dialog, &[k]) {
            Lookup::Exact(c) => Some(c),
            _ => None,
        }
    }

    /// Footer hints for the focused pane: `(keys, desc)`, pane bindings first.
    pub fn hints(&self, pane: Pane, ascii: bool) -> Vec<(String, String)> {
        self.hints_for(pane, ascii, false)
    }

    /// The footer hints by priority: during an incident `!` and `r` come first, then help,
    /// then what changes things, then the rest.
    pub fn hints_for(&self, pane: Pane, ascii: bool, incident: bool) -> Vec<(String, String)> {
        let ctx = Context::of_pane(pane);
        let pane = self.bindings.iter().filter(|b| b.hint && b.ctx == ctx);
        let global = self
            .bindings
            .iter()
            .filter(|b| b.hint && b.ctx == Context::Global);
        let mut all: Vec<&Binding> = pane.chain(global).collect();
        // Help first, then what changes things (the keys an incident needs at 80 columns).
        all.sort_by_key(|b| {
            (
                !(incident && matches!(b.run, Cmd::JumpToBreach | Cmd::Rollback)),
                b.run != Cmd::Help,
                !b.run.is_mutating(),
            )
        });
        all.into_iter()
            .map(|b| (seq_label(&b.on, ascii), b.desc.clone()))
            .collect()
    }

    /// Rows for `?` help and the README: one per (context, command), keys joined by ` / `.
    pub fn rows(&self, ascii: bool) -> Vec<(Context, String, String)> {
        self.rows_by_cmd(ascii)
            .into_iter()
            .map(|(c, _, k, d)| (c, k, d))
            .collect()
    }

    /// `rows`, with the command of each.
    pub fn rows_by_cmd(&self, ascii: bool) -> Vec<(Context, Cmd, String, String)> {
        let mut rows: Vec<(Context, Cmd, Vec<String>, String)> = Vec::new();
        for b in &self.bindings {
            let label = seq_label(&b.on, ascii);
            match rows.iter_mut().find(|r| r.0 == b.ctx && r.1 == b.run) {
                Some(r) => r.2.push(label),
                None => rows.push((b.ctx, b.run, vec![label], b.desc.clone())),
            }
        }
        rows.into_iter()
            .map(|(c, cmd, keys, desc)| (c, cmd, keys.join(" / "), desc))
            .collect()
    }

    /// The README key table (markdown), generated from this keymap.
    pub fn markdown_table(&self) -> String {
        let mut s = String::from("| key | action | where |\n|---|---|---|\n");
        for (ctx, keys, desc) in self.rows(false) {
            let keys = keys
                .split(" / ")
                .map(|k| format!("`{}`", k.replace('|', "\\|")))
                .collect::<Vec<_>>()
                .join(" / ");
            let desc = desc.replace('|', "\\|");
            let where_ = if ctx == Context::Global {
                "everywhere".to_string()
            } else {
                ctx.name().to_string()
            };
            s.push_str(&format!("| {keys} | {desc} | {where_} |\n"));
        }
        s
    }
}
