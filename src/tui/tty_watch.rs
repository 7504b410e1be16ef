//! Notices a hung-up terminal (the SSH link dropped, the PTY master closed) by itself: SIGHUP may
//! be ignored (`nohup`), and crossterm's event stream on a hung-up TTY reads end-of-file in a loop
//! without ever reporting it (crossterm #793), so neither can be the only way. The kernel marks a
//! hung-up TTY with POLLHUP, which poll(2) reports even when no event is asked for: one thread
//! sleeps in `poll` on a duplicate of the terminal's descriptor, asking for nothing, so keys
//! (crossterm's to read) never wake it, and wakes once, at the hang-up.

use std::io::IsTerminal;
use std::os::fd::{AsFd, OwnedFd};
use tokio::sync::oneshot;

pub struct TtyWatch(Option<oneshot::Receiver<()>>);

impl TtyWatch {
    /// Watches the terminal the keys come from: stdin when it is one, else `/dev/tty` (crossterm
    /// reads the same). When neither can be watched, `hung_up` never resolves (logged).
    pub fn new() -> TtyWatch {
        let fd = if std::io::stdin().is_terminal() {
            std::io::stdin().as_fd().try_clone_to_owned()
        } else {
            std::fs::File::open("/dev/tty").map(OwnedFd::from)
        };
        let (tx, rx) = oneshot::channel();
        let started = fd.and_then(|fd| {
            std::thread::Builder::new()
                .name("tty-watch".into())
                .spawn(move || watch(&fd, tx))
        });
        match started {
            Ok(_) => TtyWatch(Some(rx)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the terminal for a hang-up; SIGHUP and failed writes still end the TUI");
                TtyWatch(None)
            }
        }
    }

    /// Resolves once the terminal is hung up.
    pub async fn hung_up(&mut self) {
        match self.0.as_mut() {
            Some(rx) => match rx.await {
                Ok(()) => {}
                // The watcher gave up (logged): never again.
                Err(_) => {
                    self.0 = None;
                    std::future::pending().await
                }
            },
            None => std::future::pending().await,
        }
    }
}

/// Sleeps until the terminal hangs up (POLLHUP or POLLERR), then says so once.
fn watch(fd: &OwnedFd, tx: oneshot::Sender<()>) {
    use rustix::event::{PollFd, PollFlags, poll};
    loop {
        let mut fds = [PollFd::new(fd, PollFlags::empty())];
        match poll(&mut fds, None) {
            Ok(_) => {
                let got = fds[0].revents();
                if got.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
                    let _ = tx.send(());
                    return;
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                tracing::warn!(error = %e, "watching the terminal failed; SIGHUP and failed writes still end the TUI");
                return;
            }
        }
    }
}
