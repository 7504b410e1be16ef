//! Owns flagtop's user configuration: where it lives (`FLAGTOP_CONFIG_DIR` or the platform
//! config dir), the shipped themes and keymaps (embedded, also in `themes/` and `keymaps/`),
//! precedence (built-in < config.toml < environment < command line) and `check-config`. It
//! must not draw or touch the terminal; a broken file is an error, never a silent fallback.

pub mod doc;
pub mod keymap;
pub mod problem;
pub mod settings;
pub mod terminal;
pub mod theme;

use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;
use problem::{Problem, Problems, Severity, Source};
use settings::{Limits, Settings};
use std::path::{Path, PathBuf};
pub use terminal::ColorMode;

/// Shipped themes, embedded (the same files live in `themes/`).
pub const THEMES: &[(&str, &str)] = &[
    ("dark", include_str!("../themes/dark.toml")),
    ("light", include_str!("../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../themes/high-contrast.toml"),
    ),
    ("ansi16", include_str!("../themes/ansi16.toml")),
    ("mono", include_str!("../themes/mono.toml")),
];

/// Shipped keymaps, embedded (the same files live in `keymaps/`).
pub const KEYMAPS: &[(&str, &str)] = &[
    ("default", include_str!("../keymaps/default.toml")),
    ("vim", include_str!("../keymaps/vim.toml")),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Themes,
    Keymaps,
}

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Themes => "themes",
            Kind::Keymaps => "keymaps",
        }
    }
    fn shipped(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Themes => THEMES,
            Kind::Keymaps => KEYMAPS,
        }
    }
}

/// The config dir: `FLAGTOP_CONFIG_DIR`, else the platform's (`~/.config/flagtop`).
pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("FLAGTOP_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    directories::ProjectDirs::from("dev", "flagtop", "flagtop")
        .map(|p| p.config_dir().to_path_buf())
}

/// A theme or keymap by name: the user's `DIR/themes/NAME.toml` first, then the shipped one.
pub fn find(dir: Option<&Path>, kind: Kind, name: &str, p: &mut Problems) -> Option<Source> {
    let safe = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if let (Some(d), true) = (dir, safe) {
        let path = d.join(kind.dir()).join(format!("{name}.toml"));
        if path.is_file() {
            return match std::fs::read_to_string(&path) {
                Ok(text) => Some(Source::new(path.display().to_string(), text)),
                Err(e) => {
                    p.push(Problem {
                        file: path.display().to_string(),
                        line: 1,
                        col: 1,
                        severity: Severity::Error,
                        msg: format!("cannot read: {e}"),
                        hint: None,
                    });
                    None
                }
            };
        }
    }
    kind.shipped()
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| shipped_source(kind, n, text))
}

fn shipped_source(kind: Kind, name: &str, text: &str) -> Source {
    Source::new(format!("builtin:{}/{name}.toml", kind.dir()), text)
}

/// Every available name: shipped, then the user's files.
pub fn names(dir: Option<&Path>, kind: Kind) -> Vec<String> {
    let mut out: Vec<String> = kind.shipped().iter().map(|(n, _)| n.to_string()).collect();
    for n in user_names(dir, kind) {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

fn user_names(dir: Option<&Path>, kind: Kind) -> Vec<String> {
    let Some(d) = dir else { return Vec::new() };
    let mut out: Vec<String> = std::fs::read_dir(d.join(kind.dir()))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".toml"))
                .map(str::to_string)
        })
        .collect();
    out.sort();
    out
}

/// Reads `DIR/config.toml` when present.
pub fn read_settings(dir: Option<&Path>, p: &mut Problems) -> Settings {
    let Some(path) = dir.map(|d| d.join("config.toml")).filter(|f| f.exists()) else {
        return Settings::default();
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => settings::parse(&Source::new(path.display().to_string(), text), p),
        Err(e) => {
            p.push(Problem {
                file: path.display().to_string(),
                line: 1,
                col: 1,
                severity: Severity::Error,
                msg: format!("cannot read: {e}"),
                hint: None,
            });
            Settings::default()
        }
    }
}

/// What the command line says about looks and keys.
#[derive(Debug, Clone, Default)]
pub struct UiArgs {
    pub theme: Option<String>,
    pub keymap: Option<String>,
    pub ascii: bool,
    pub no_color: bool,
}

/// Everything the TUI needs from configuration, precedence applied.
#[derive(Debug, Clone)]
pub struct Ui {
    pub settings: Settings,
    pub theme: Theme,
    pub keymap: Keymap,
    pub color: ColorMode,
    pub limits: Limits,
    /// Warnings to show (the TUI still starts).
    pub warnings: Vec<Problem>,
}

/// Applies precedence — built-in < config.toml < environment < command line — and loads the
/// theme and keymap. Any error fails (the caller prints every problem).
pub fn load_ui(
    dir: Option<&Path>,
    args: &UiArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Ui, Problems> {
    let mut p = Problems::default();
    let settings = read_settings(dir, &mut p);
    let src = settings.source.clone();
    let flag = |k: &str| {
        env(k).map(|v| !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "false" | "no"))
    };
    let no_color_env = terminal::no_color(env);
    // Theme: --no-color / --theme > NO_COLOR / FLAGTOP_THEME > config.toml > terminal default.
    let (theme_name, origin): (String, String) = if args.no_color {
        ("mono".into(), "--no-color".into())
    } else if let Some(t) = &args.theme {
        (t.clone(), "--theme".into())
    } else if no_color_env {
        ("mono".into(), "NO_COLOR".into())
    } else if let Some(t) = env("FLAGTOP_THEME").filter(|t| !t.is_empty()) {
        (t, "FLAGTOP_THEME".into())
    } else if let Some(n) = &settings.theme {
        (n.name.clone(), String::new())
    } else if terminal::sixteen_colors(env) {
        ("ansi16".into(), "TERM".into())
    } else {
        ("dark".into(), "default".into())
    };
    let mut theme = if origin.is_empty() {
        named_from_config(
            dir,
            &theme_name,
            src.as_ref(),
            settings.theme.as_ref().map_or(0, |n| n.at),
            &mut p,
            theme::resolve,
        )
    } else {
        theme::resolve(dir, &theme_name, &origin, &mut p)
    };
    let keymap_name = args
        .keymap
        .clone()
        .or_else(|| env("FLAGTOP_KEYMAP").filter(|k| !k.is_empty()));
    let keymap = match (&keymap_name, &settings.keymap) {
        (Some(k), _) => keymap::load(
            dir,
            k,
            if args.keymap.is_some() {
                "--keymap"
            } else {
                "FLAGTOP_KEYMAP"
            },
            &mut p,
        ),
        (None, Some(n)) => {
            named_from_config(dir, &n.name, src.as_ref(), n.at, &mut p, keymap::load)
        }
        (None, None) => keymap::load(dir, "default", "keymap", &mut p),
    };
    theme.ascii = if args.ascii {
        true
    } else {
        flag("FLAGTOP_ASCII")
            .or(settings.ascii)
            .unwrap_or(!terminal::utf8_locale(env))
    };
    let color = if args.no_color || (no_color_env && args.theme.is_none()) {
        ColorMode::None
    } else if terminal::sixteen_colors(env) {
        ColorMode::Ansi16
    } else {
        ColorMode::Full
    };
    if p.has_errors() {
        p.0.sort();
        return Err(p);
    }
    let limits = settings.limits;
    Ok(Ui {
        settings,
        theme,
        keymap,
        color,
        limits,
        warnings: p.0,
    })
}

/// Loads a theme/keymap named in config.toml, reporting an unknown name at its position there.
fn named_from_config<T>(
    dir: Option<&Path>,
    name: &str,
    src: Option<&Source>,
    at: usize,
    p: &mut Problems,
    load: impl Fn(Option<&Path>, &str, &str, &mut Problems) -> T,
) -> T {
    let mut inner = Problems::default();
    let out = load(dir, name, "config.toml", &mut inner);
    for mut prob in inner.0 {
        if prob.file == "config.toml"
            && let Some(s) = src
        {
            let (line, col) = s.pos(at);
            (prob.file, prob.line, prob.col) = (s.name.clone(), line, col);
        }
        p.push(prob);
    }
    out
}

/// `flagtop check-config`: every problem in config.toml, every theme and keymap (shipped and
/// the user's) and keymap.toml, sorted by file and position.
pub fn check_all(dir: Option<&Path>) -> Problems {
    let mut p = Problems::default();
    let settings = read_settings(dir, &mut p);
    let src = settings.source.clone();
    for (name, text) in THEMES {
        let _ = text;
        let _ = theme::resolve(None, name, "theme", &mut p);
    }
    for name in user_names(dir, Kind::Themes) {
        let _ = theme::resolve(dir, &name, "theme", &mut p);
    }
    for (name, _) in KEYMAPS {
        let _ = keymap::resolve(None, name, &mut p);
    }
    for name in user_names(dir, Kind::Keymaps) {
        let _ = keymap::resolve(dir, &name, &mut p);
    }
    if let Some(n) = &settings.theme {
        named_from_config(dir, &n.name, src.as_ref(), n.at, &mut p, theme::resolve);
    }
    let km = settings.keymap.clone();
    match &km {
        Some(n) => {
            named_from_config(dir, &n.name, src.as_ref(), n.at, &mut p, keymap::load);
        }
        None => {
            keymap::load(dir, "default", "keymap", &mut p);
        }
    }
    p.0.sort();
    p
}

/// Prints problems the way check-config and a refused start both do.
pub fn render_problems(p: &Problems) -> String {
    let mut out = String::new();
    for prob in &p.0 {
        out.push_str(&crate::sanitize::sanitize_multiline(&prob.to_string()));
        out.push('\n');
    }
    let errors = p.errors().count();
    let warnings = p.0.len() - errors;
    out.push_str(&format!(
        "{errors} error{}, {warnings} warning{}\n",
        plural(errors),
        plural(warnings)
    ));
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Runs `flagtop check-config`: prints every problem; exit 0 when there is no error.
pub fn check_command() -> i32 {
    let dir = config_dir();
    let p = check_all(dir.as_deref());
    print!("{}", render_problems(&p));
    println!(
        "config dir: {}",
        dir.as_deref()
            .map_or_else(|| "(none)".to_string(), |d| d.display().to_string())
    );
    if p.has_errors() {
        crate::exit::USAGE
    } else {
        crate::exit::OK
    }
}
