//! How many connections a listener others can reach may hold: `MAX_CONNECTIONS`, or fewer
//! under a low file limit, so that descriptors stay free for the owner (its socket, its TUI,
//! the store). It must not accept or evict (the registry does).

use super::MAX_CONNECTIONS;

/// File descriptors kept free of TCP connections: the owner's socket, its TUI, the store, logs.
pub const FD_RESERVE: usize = 256;
/// The fewest connections a listener admits, however low the file limit.
pub const MIN_CONNECTIONS: usize = 16;

/// The soft limit on open files of this process (`/proc/self/limits`), when it can be read.
pub fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The cap for a listener others can reach: `MAX_CONNECTIONS`, or fewer so that `FD_RESERVE`
/// descriptors stay free under the file limit — whoever holds connections to it cannot run
/// the process (and the TUI in it) out of files.
pub fn public_cap(open_files: Option<usize>) -> usize {
    match open_files {
        Some(n) => n
            .saturating_sub(FD_RESERVE)
            .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS),
        None => MAX_CONNECTIONS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_cap_leaves_descriptors_free_under_the_file_limit() {
        assert_eq!(public_cap(Some(1024)), 1024 - FD_RESERVE);
        assert_eq!(public_cap(Some(20_000)), MAX_CONNECTIONS);
        assert_eq!(public_cap(Some(100)), MIN_CONNECTIONS);
        assert_eq!(public_cap(None), MAX_CONNECTIONS);
        assert!(open_files_limit().is_some_and(|n| n > 0));
    }
}
