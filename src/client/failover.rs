//! Owns the list of control-plane replicas a client may use and which one it is on: clones of a
//! `Client` share it, so a request that found a replica gone moves every later request (and the
//! stream) to the next one. Decides nothing about what is safe to resend (that is `http`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// At most this many `--backend` URLs (a list, not a discovery mechanism).
pub const MAX_BACKENDS: usize = 16;

/// The replicas, in the order given, and the one in use.
#[derive(Debug, Clone)]
pub struct Backends {
    urls: Arc<[String]>,
    at: Arc<AtomicUsize>,
}

impl Backends {
    /// `urls` trimmed of a trailing `/`; empty entries dropped; at most [`MAX_BACKENDS`].
    pub fn new<S: AsRef<str>>(urls: &[S]) -> Result<Backends, String> {
        let urls: Vec<String> = urls
            .iter()
            .map(|u| u.as_ref().trim().trim_end_matches('/').to_string())
            .filter(|u| !u.is_empty())
            .collect();
        if urls.is_empty() {
            return Err("no control-plane URL given".into());
        }
        if urls.len() > MAX_BACKENDS {
            return Err(format!(
                "{} control-plane URLs given; at most {MAX_BACKENDS}",
                urls.len()
            ));
        }
        Ok(Backends {
            urls: urls.into(),
            at: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// How many replicas there are.
    pub fn len(&self) -> usize {
        self.urls.len()
    }

    /// Never: `new` refuses an empty list.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// Whether there is another replica to move to.
    pub fn several(&self) -> bool {
        self.urls.len() > 1
    }

    /// The replica in use: its position and URL.
    pub fn current(&self) -> (usize, &str) {
        let i = self.at.load(Ordering::Acquire) % self.urls.len();
        (i, &self.urls[i])
    }

    /// The replica at position `i` (any number: it wraps).
    pub fn url(&self, i: usize) -> &str {
        &self.urls[i % self.urls.len()]
    }

    /// Every replica, in the order given.
    pub fn all(&self) -> &[String] {
        &self.urls
    }

    /// Leave replica `from` for the next one, unless another request already moved on from
    /// it (many requests failing on one dead replica move once, not once each). Returns the
    /// position now in use.
    pub fn move_on_from(&self, from: usize) -> usize {
        let n = self.urls.len();
        let next = (from + 1) % n;
        match self
            .at
            .compare_exchange(from, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => next,
            Err(now) => now % n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_trimmed_bounded_and_never_empty() {
        let b = Backends::new(&["http://a:1/", " http://b:2 ", ""]).unwrap();
        assert_eq!(b.all(), ["http://a:1", "http://b:2"]);
        assert!(Backends::new::<&str>(&[]).is_err());
        assert!(Backends::new(&[""]).is_err());
        let many: Vec<String> = (0..=MAX_BACKENDS).map(|i| format!("http://h{i}")).collect();
        assert!(Backends::new(&many).is_err());
        assert!(Backends::new(&many[..MAX_BACKENDS]).is_ok());
    }

    #[test]
    fn failures_on_one_replica_move_on_once_and_wrap_around() {
        let b = Backends::new(&["http://a", "http://b", "http://c"]).unwrap();
        assert_eq!(b.current(), (0, "http://a"));
        assert_eq!(b.move_on_from(0), 1);
        // A second request that also failed on `a` does not skip `b`.
        assert_eq!(b.move_on_from(0), 1);
        assert_eq!(b.current(), (1, "http://b"));
        assert_eq!(b.move_on_from(1), 2);
        assert_eq!(b.move_on_from(2), 0, "after the last comes the first");
        let clone = b.clone();
        clone.move_on_from(0);
        assert_eq!(b.current().1, "http://b", "clones share where they are");
    }
}
