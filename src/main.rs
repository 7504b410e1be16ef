//! The flagtop binary: parse the command line, set up logging, run, exit with a documented code.

fn main() {
    flagtop::app::install_hooks();
    flagtop::app::init_tls();
    let cli: flagtop::cli::Cli = flagtop::cli::parse();
    // Before any other thread (the log's, the runtime's): how freed memory is kept and given back.
    flagtop::control::memory::tune();
    let _log = flagtop::app::init_logging(cli.data.as_deref());
    // The TUI (with its embedded control plane) needs one worker: its work is a few sockets on
    // loopback, and each extra worker is one more thread woken per stream event. Blocking work
    // goes to tokio's blocking pool either way. `serve` and the one-shot commands keep two.
    let workers = if cli.command.is_none() { 1 } else { 2 };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(workers)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flagtop: cannot start the async runtime: {e}");
            std::process::exit(flagtop::exit::FAILURE);
        }
    };
    let code = runtime.block_on(async {
        match flagtop::cli::run(cli).await {
            Ok(code) => code,
            Err(e) => {
                let code = flagtop::cli::exit_code(&e);
                flagtop::app::report_line(&format!(
                    "flagtop: {}",
                    flagtop::sanitize::clean(&format!("{e:#}"), 2000)
                ));
                code
            }
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    // `exit` runs no destructors: flush the log's last lines (why the TUI stopped) first.
    drop(_log);
    std::process::exit(code);
}
