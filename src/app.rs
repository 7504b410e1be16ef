//! Owns process set-up, done once at start by `main`: TLS (the crypto provider every HTTP client
//! needs) and logging to a file (never to the terminal). It must not parse arguments (that is
//! `cli`) or print.

use std::path::PathBuf;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the ring crypto provider for rustls, once per process at start (`main`), before any
/// HTTP client (ours, the Unleash and Prometheus adapters') is built. Idempotent.
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Where logs go: `flagtop.log` in the state dir (or the data dir given with --data).
pub fn log_dir(data: Option<&std::path::Path>) -> Option<PathBuf> {
    if let Some(d) = data {
        return Some(d.to_path_buf());
    }
    directories::ProjectDirs::from("dev", "flagtop", "flagtop").map(|p| {
        p.state_dir()
            .map(PathBuf::from)
            .unwrap_or_else(|| p.data_local_dir().to_path_buf())
    })
}

/// Send tracing to a file; returns its path. Never to the terminal.
pub fn init_logging(
    data: Option<&std::path::Path>,
) -> Option<(PathBuf, tracing_appender::non_blocking::WorkerGuard)> {
    let dir = log_dir(data)?;
    crate::control::store::ensure_private_dir(&dir).ok()?;
    let appender = tracing_appender::rolling::never(&dir, "flagtop.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    // `FLAGTOP_LOG`: a level (`debug`) or per-target levels (`info,flagtop::control=debug`).
    let filter = std::env::var("FLAGTOP_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let make = move || InertLog(writer.clone());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(make)
        .with_ansi(false);
    let ok = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .try_init()
        .is_ok();
    ok.then(|| (dir.join("flagtop.log"), guard))
}

/// Neutralises each log event (one write = one event): tracing-subscriber escapes the message
/// but writes `%`-formatted fields raw, so a backend error or a path could carry ESC, C1, bidi
/// or a newline (a forged line) into a file people `tail -f` in a terminal.
struct InertLog<W: std::io::Write>(W);

impl<W: std::io::Write> std::io::Write for InertLog<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(b);
        let (body, end) = text.strip_suffix('\n').map_or((&*text, ""), |t| (t, "\n"));
        self.0
            .write_all(format!("{}{end}", crate::sanitize::sanitize(body)).as_bytes())?;
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The panic report: plain text (the same on a terminal, in a file and in a pipe), the message
/// made inert, where it happened, std's backtrace when `RUST_BACKTRACE` asks for one, and a copy
/// in the log file. Written with an ignored failure: a print to an output that is gone ends the
/// process quietly instead of with a report that would itself fail to print and abort (SIGABRT) —
/// a closed stdout (`flagtop status --json | head -1`) is success; a dead terminal (an SSH drop:
/// EIO) or a full disk is a failure. color-eyre's own hooks are not installed: they `eprintln!`
/// (the abort above) and bring a second backtrace symboliser besides std's (~0.3 MB of the
/// binary's 15 MB budget); eyre's default handler formats errors, and `main` prints them itself.
pub fn install_hooks() {
    std::panic::set_hook(Box::new(move |info| {
        match lost_output(info) {
            Some(LostOutput::ClosedPipe) => std::process::exit(crate::exit::OK),
            Some(LostOutput::Failed) => std::process::exit(crate::exit::FAILURE),
            None => {}
        }
        let message = crate::sanitize::clean(&panic_text(info), 2000);
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "an unknown place".to_string());
        tracing::error!(%message, %place, "flagtop panicked");
        let trace = std::backtrace::Backtrace::capture();
        let trace = match trace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\n{trace}"),
            _ => "\n(run with RUST_BACKTRACE=1 for a backtrace)".to_string(),
        };
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "flagtop panicked (a bug; please report it with the log file): {message}\n  at {place}{trace}"
        );
    }));
}

fn panic_text(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Print one line to stderr, never panicking (the terminal may be gone: the TUI's after an SSH
/// drop). What cannot be printed is lost; the exit code still tells it.
pub fn report_line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

enum LostOutput {
    /// std's "failed printing to stdout: Broken pipe": the reader went away.
    ClosedPipe,
    /// Any other failed print to stdout or stderr (EIO on a closed terminal, a full disk).
    Failed,
}

/// Whether a panic is std's "failed printing to stdout/stderr: …", and which kind.
fn lost_output(info: &std::panic::PanicHookInfo<'_>) -> Option<LostOutput> {
    let text = panic_text(info);
    if !text.starts_with("failed printing to std") {
        return None;
    }
    Some(
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            LostOutput::ClosedPipe
        } else {
            LostOutput::Failed
        },
    )
}
