//! The resume window is bounded in bytes as well as in count: big changes push the oldest out,
//! and a stream resuming from before the window gets `None` (a `reset`), never a partial replay.

use super::*;
use crate::control::service::RESUME_WINDOW_BYTES;
use crate::domain::Revision;
use crate::wire::Change;

#[test]
fn the_resume_window_holds_at_most_its_bytes_and_older_resumes_reset() {
    let (_dir, cp, _clock) = plane("calm");
    let (tx, _rx) = tokio::sync::broadcast::channel(16);
    let flag = cp
        .state()
        .flags
        .values()
        .next()
        .cloned()
        .unwrap_or_else(|| panic!("a flag"));
    let start = cp.revision().0;
    // Changes of ~64 KiB each (the flag plus a long description): the byte bound decides.
    let mut big = (*flag).clone();
    big.description = "x".repeat(64 << 10);
    let big = Arc::new(big);
    let n = (RESUME_WINDOW_BYTES / (64 << 10)) as u64 * 2;
    cp.with_inner(|inner| {
        for i in 1..=n {
            let change = Change {
                revision: Revision(start + i),
                at: chrono::Utc::now(),
                flags: vec![big.clone()],
                frozen: None,
                approvals: Vec::new(),
                audit: Vec::new(),
            };
            inner.publish(&tx, change);
        }
        inner.state.revision = Revision(start + n);
    });
    let window = cp
        .changes_since(Revision(start + n - 10))
        .unwrap_or_else(|| panic!("a recent resume replays"));
    assert_eq!(window.len(), 10, "the last changes are all there");
    // The whole window: the oldest point a resume still replays from.
    let whole = (start..start + n)
        .find_map(|r| cp.changes_since(Revision(r)))
        .unwrap_or_else(|| panic!("some window"));
    let held: usize = whole.iter().map(|c| c.json().len()).sum();
    let one = whole.first().map_or(0, |c| c.json().len());
    assert!(
        held <= RESUME_WINDOW_BYTES,
        "the window holds {held} bytes, over {RESUME_WINDOW_BYTES}"
    );
    assert!(
        held + one > RESUME_WINDOW_BYTES,
        "the window dropped more than it had to: {held} bytes of {RESUME_WINDOW_BYTES}"
    );
    assert!(
        cp.changes_since(Revision(start + 1)).is_none(),
        "a resume from before the window must reset, not replay part of it"
    );
}
