//! Keymap tests: shipped keymaps and themes load without problems, multi-key sequences,
//! per-pane contexts, user overrides and unbinds, zoom, footer/help from the keymap, ASCII
//! mode, and the README key table generated from `keymaps/default.toml`.

use super::super::effect::Effect;
use super::super::keymap::{Context, Lookup};
use super::super::keys::{Cmd, KeyPress, parse_seq};
use super::super::model::Pane;
use super::super::update::update;
use super::fixture::*;
use crate::config::problem::Problems;
use crate::config::{THEMES, keymap, theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

fn screen(
    m: &super::super::model::Model,
    t: &super::super::theme::Theme,
    w: u16,
    h: u16,
) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| super::super::view::draw(f, m, t)).unwrap();
    let b = term.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| b[(x, y)].symbol().to_string())
                .collect::<String>()
                + "\n"
        })
        .collect()
}

#[test]
fn shipped_keymaps_and_themes_have_no_problems() {
    let mut p = Problems::default();
    for (name, _) in crate::config::KEYMAPS {
        let k = keymap::resolve(None, name, &mut p);
        assert!(!k.bindings.is_empty(), "{name}");
    }
    for (name, _) in THEMES {
        theme::resolve(None, name, "theme", &mut p);
    }
    assert!(p.0.is_empty(), "{}", crate::config::render_problems(&p));
}

#[test]
fn ansi16_uses_only_the_16_colours_and_mono_none() {
    let named = |c: Option<Color>| !matches!(c, Some(Color::Rgb(..) | Color::Indexed(_)));
    for s in theme::builtin("ansi16").styles() {
        assert!(named(s.fg) && named(s.bg), "{s:?}");
    }
    for s in theme::builtin("mono").styles() {
        assert!(s.fg.is_none() && s.bg.is_none(), "{s:?}");
    }
    // Selection stays visible without colour.
    assert!(
        theme::builtin("mono")
            .selection
            .add_modifier
            .contains(ratatui::style::Modifier::REVERSED)
    );
}

#[test]
fn default_keymap_is_the_product_table() {
    let k = crate::config::keymap::builtin_default();
    let at = |s: &str| k.lookup(Pane::Flags, &parse_seq(s).unwrap());
    for (key, cmd) in [
        ("r", Cmd::Rollback),
        ("K", Cmd::Kill),
        ("F", Cmd::Freeze),
        ("u", Cmd::Undo),
        ("a", Cmd::Approve),
        ("x", Cmd::Reject),
        ("]", Cmd::Advance),
        ("[", Cmd::Retreat),
        ("<Space>", Cmd::PauseResume),
        ("%", Cmd::Percent),
        ("+", Cmd::StepUp),
        ("-", Cmd::StepDown),
        ("?", Cmd::Help),
        ("e", Cmd::CycleEnv),
        ("q", Cmd::Quit),
        ("/", Cmd::Filter),
        (":", Cmd::Command),
        ("<Tab>", Cmd::NextPane),
        ("<S-Tab>", Cmd::PrevPane),
        ("<Enter>", Cmd::Details),
        ("j", Cmd::Down),
        ("k", Cmd::Up),
        ("g", Cmd::Top),
        ("G", Cmd::Bottom),
        ("<PageDown>", Cmd::PageDown),
        ("<PageUp>", Cmd::PageUp),
        ("z", Cmd::Zoom),
    ] {
        assert_eq!(at(key), Lookup::Exact(cmd), "{key}");
    }
    assert!(
        k.bindings
            .iter()
            .all(|b| b.on.iter().all(|p| p.ctrl_letter().is_none())),
        "no Ctrl keys by default"
    );
}

#[test]
fn vim_g_g_is_a_sequence_shown_in_the_footer() {
    let mut m = on_eu_west();
    let mut p = Problems::default();
    m.keymap = keymap::resolve(None, "vim", &mut p);
    m.focus = Pane::Flags;
    flag_row(&mut m, 3);
    update(&mut m, key('g'));
    assert_eq!(m.flags.sel.row(), 3, "a prefix waits");
    assert_eq!(m.pending_keys.len(), 1);
    let s = screen(&m, &crate::config::theme::builtin("dark"), 160, 48);
    assert!(s.contains("g …"), "{s}");
    update(&mut m, key('g'));
    assert_eq!(m.flags.sel.row(), 0);
    assert!(m.pending_keys.is_empty());
    // An unbound second key drops the sequence and does nothing else.
    flag_row(&mut m, 2);
    update(&mut m, key('g'));
    let step = update(&mut m, key('q'));
    assert!(
        !step.effects.contains(&Effect::Quit)
            && m.pending_keys.is_empty()
            && m.flags.sel.row() == 2
    );
    update(&mut m, key('l'));
    assert_eq!(m.focus, Pane::Ladder);
}

#[test]
fn user_keymap_overrides_and_unbinds_per_context() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keymap.toml"),
        "[global]\nunbind = [\"K\"]\nkeymap = [ { on = \"R\", run = \"rollback\", desc = \"rollback!\", hint = true } ]\n\
         [ladder]\nkeymap = [ { on = \"d\", run = \"details\" } ]\n",
    )
    .unwrap();
    let mut p = Problems::default();
    let k = keymap::load(Some(dir.path()), "default", "keymap", &mut p);
    assert!(p.0.is_empty(), "{}", crate::config::render_problems(&p));
    let one = |s: &str| vec![KeyPress::parse(s).unwrap()];
    assert_eq!(k.lookup(Pane::Flags, &one("K")), Lookup::None);
    assert_eq!(
        k.lookup(Pane::Flags, &one("R")),
        Lookup::Exact(Cmd::Rollback)
    );
    assert_eq!(
        k.lookup(Pane::Ladder, &one("d")),
        Lookup::Exact(Cmd::Details)
    );
    assert_eq!(k.lookup(Pane::Flags, &one("d")), Lookup::None);
    assert!(
        k.hints(Pane::Flags, false)
            .iter()
            .any(|(l, d)| l == "R" && d == "rollback!")
    );
    assert!(
        k.rows(false)
            .iter()
            .any(|(c, keys, _)| *c == Context::Ladder && keys == "d")
    );
    let mut m = on_eu_west();
    m.keymap = k;
    update(&mut m, key('R'));
    assert!(matches!(
        m.dialog,
        Some(super::super::dialog::Dialog::Confirm(_))
    ));
}

#[test]
fn dialog_keys_come_from_the_keymap() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keymap.toml"),
        "[dialog]\nunbind = [\"<Esc>\"]\nkeymap = [ { on = \"<C-c>\", run = \"cancel\" } ]\n",
    )
    .unwrap();
    let mut p = Problems::default();
    let mut m = on_eu_west();
    m.keymap = keymap::load(Some(dir.path()), "default", "keymap", &mut p);
    update(&mut m, key('r'));
    assert!(m.dialog.is_some());
    update(
        &mut m,
        press(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('c'),
            crossterm::event::KeyModifiers::CONTROL,
        )),
    );
    assert!(m.dialog.is_none());
}

#[test]
fn zoom_maximises_the_focused_pane() {
    let mut m = on_eu_west();
    m.focus = Pane::Guardrails;
    update(&mut m, key('z'));
    assert!(m.zoom);
    let s = screen(&m, &crate::config::theme::builtin("dark"), 80, 24);
    assert!(
        s.contains("Guardrails") && s.contains("[zoom: z]") && !s.contains(" Flags "),
        "{s}"
    );
    update(&mut m, key('z'));
    assert!(!m.zoom);
}

#[test]
fn help_and_footer_come_from_the_loaded_keymap() {
    let mut m = on_eu_west();
    update(&mut m, key('?'));
    let s = screen(&m, &crate::config::theme::builtin("dark"), 160, 48);
    assert!(
        s.contains("rollback (the breached cohort)")
            && s.contains("keymap: default")
            && s.contains("in dialog:"),
        "{s}"
    );
    let s80 = screen(&m, &crate::config::theme::builtin("dark"), 80, 24);
    assert!(s80.contains("help") && s80.contains("quit"), "{s80}");
}

#[test]
fn ascii_mode_leaves_no_non_ascii_cell() {
    let mut m = on_eu_west();
    let mut t = theme::builtin("mono");
    t.ascii = true;
    for (w, h) in [(80, 24), (160, 48)] {
        for focus in Pane::ALL {
            m.focus = focus;
            let s = screen(&m, &t, w, h);
            assert!(s.is_ascii(), "{s}");
            assert!(s.contains("BREACH") && s.contains("* live"), "{s}");
        }
    }
    update(&mut m, key('r'));
    assert!(screen(&m, &t, 80, 24).is_ascii());
}

#[test]
fn readme_key_table_matches_default_toml() {
    let table = crate::config::keymap::builtin_default().markdown_table();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- keys:start -->")
        .expect("README has <!-- keys:start -->");
    let end = readme
        .find("<!-- keys:end -->")
        .expect("README has <!-- keys:end -->");
    let current = readme[start + "<!-- keys:start -->".len()..end].trim();
    assert_eq!(
        current,
        table.trim(),
        "README.md's key table is out of date with keymaps/default.toml; paste this between the markers:\n{table}"
    );
}
