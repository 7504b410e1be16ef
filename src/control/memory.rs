//! Giving freed memory back to the system. glibc keeps what a process frees inside its arenas
//! (one per thread that allocated, up to eight per core) and returns pages only from the top of
//! each heap, so a server whose streams come and go — each holding up to its byte budget while
//! its client does not read — can stay near the size it once reached after they have gone.
//! (What bounds the peak is the streams' budgets and closing a stream's connection when its
//! client falls behind, `api::stream`; this is about what is left after.)
//!
//! `tune` (first thing in `main`, before any other thread): at most `ARENAS` arenas, so freed
//! memory is found again by the next allocation instead of sitting in another thread's arena;
//! and a thread that calls `malloc_trim` (which also returns free pages from the middle of every
//! arena) a second after streams end — not on a timer: a trim holds each arena while it walks
//! it, and the pages it returns fault in again on the next allocations, which showed as stalls
//! of the action path. Elsewhere (musl, other systems) this is a no-op: their allocators return
//! memory on their own terms.

use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

/// Arenas for all threads: tokio's workers, its blocking pool and the store's runtime share
/// them (each thread's own cache still serves small allocations without a lock).
pub const ARENAS: i32 = 2;
/// After a stream ends, wait this long (more end in a burst) before trimming.
pub const TRIM_DELAY: Duration = Duration::from_secs(1);

struct Trimmer {
    due: Mutex<bool>,
    wake: Condvar,
}

static TRIMMER: OnceLock<Trimmer> = OnceLock::new();

/// Set the allocator up and start the trimming thread.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes allocator parameters; it has no memory preconditions.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
        let trimmer = TRIMMER.get_or_init(|| Trimmer {
            due: Mutex::new(false),
            wake: Condvar::new(),
        });
        let started = std::thread::Builder::new()
            .name("flagtop-trim".into())
            .spawn(move || trim_loop(trimmer));
        if let Err(e) = started {
            tracing::warn!(error = %e, "cannot start the memory trimmer; freed memory stays held");
        }
    }
}

/// A stream (or anything that held much memory) ended: trim shortly.
pub fn release_soon() {
    if let Some(t) = TRIMMER.get() {
        *t.due.lock().unwrap_or_else(|p| p.into_inner()) = true;
        t.wake.notify_one();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_loop(t: &Trimmer) {
    let mut due = t.due.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        due = t
            .wake
            .wait_while(due, |d| !*d)
            .unwrap_or_else(|p| p.into_inner());
        drop(due);
        // More streams end in a burst: one trim for all of them.
        std::thread::sleep(TRIM_DELAY);
        due = t.due.lock().unwrap_or_else(|p| p.into_inner());
        *due = false;
        drop(due);
        // SAFETY: `malloc_trim` only returns free pages to the system; no preconditions.
        unsafe {
            libc::malloc_trim(0);
        }
        due = t.due.lock().unwrap_or_else(|p| p.into_inner());
    }
}
