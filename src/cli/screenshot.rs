//! `flagtop screenshot …`: renders a fixture state (or the README gallery) to SVG files.

use super::Cli;
use crate::config::problem::Problems;
use crate::config::theme;
use crate::exit::{self, UsageError};
use crate::screenshot::{GALLERY, render, render_shot, state};
use clap::Args;
use color_eyre::eyre::{Result, eyre};
use std::path::{Path, PathBuf};

#[derive(Args, Debug, Clone)]
pub struct ScreenshotArgs {
    /// Terminal size in cells, WIDTHxHEIGHT.
    #[arg(long, default_value = "160x48")]
    pub size: String,
    /// What is on screen: dashboard, incident, confirm, details, help, zoom.
    #[arg(long, default_value = "dashboard")]
    pub state: String,
    /// The SVG file to write.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Regenerate the README gallery into this directory instead (shipped themes only).
    #[arg(long)]
    pub gallery: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<(u16, u16)> {
    let bad = || {
        eyre!(UsageError(format!(
            "--size wants WIDTHxHEIGHT like 80x24, got `{}`",
            s.escape_debug()
        )))
    };
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u16, u16) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if !(20..=400).contains(&w) || !(8..=200).contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}

/// `flagtop screenshot …`
pub fn run(cli: &Cli, a: &ScreenshotArgs) -> Result<i32> {
    if let Some(dir) = &a.gallery {
        std::fs::create_dir_all(dir)?;
        for s in GALLERY {
            write(&dir.join(s.file), &render_shot(s)?)?;
        }
        return Ok(exit::OK);
    }
    let out = a.out.as_ref().ok_or_else(|| {
        eyre!(UsageError(
            "say where with --out FILE.svg (or --gallery DIR)".into()
        ))
    })?;
    let (w, h) = parse_size(&a.size)?;
    let mut p = Problems::default();
    let dir = crate::config::config_dir();
    let name = if cli.no_color {
        "mono"
    } else {
        cli.theme.as_deref().unwrap_or("dark")
    };
    let mut t = theme::resolve(dir.as_deref(), name, "--theme", &mut p);
    if p.has_errors() {
        eprint!("{}", crate::config::render_problems(&p));
        return Ok(exit::USAGE);
    }
    t.ascii = cli.ascii;
    write(out, &render(&state(&cli.scenario, &a.state)?, &t, w, h)?)?;
    Ok(exit::OK)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| eyre!("cannot write {}: {e}", path.display()))
}
