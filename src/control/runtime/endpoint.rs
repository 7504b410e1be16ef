//! The endpoint file `DATA/endpoint.json` (mode 0600): where the owner's control plane can be
//! reached (its owner-only Unix socket, and its TCP address), the owner's token, the pid and
//! the per-start proof key; a stale file is removed. It must not connect anywhere.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where a running control plane can be reached by its owner (`DATA/endpoint.json`, mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub url: String,
    pub token: String,
    pub pid: u32,
    /// A key made at start: the server proves it holds it (`GET /v1/hello`) before a client
    /// sends the token, so whoever binds a dead server's port gets no token. Files written by
    /// older versions have none and are not trusted.
    #[serde(default)]
    pub proof_key: Option<String>,
    /// The owner's Unix socket (`local_socket`): the local CLI uses it, after checking it, in
    /// place of `url`; absent when the data dir has no room for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<PathBuf>,
}

pub fn owner_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| crate::domain::ids::valid_key(u))
        .unwrap_or_else(|| "owner".to_string())
}

pub fn endpoint_path(data_dir: &Path) -> PathBuf {
    data_dir.join("endpoint.json")
}

pub fn read_endpoint(data_dir: &Path) -> Option<Endpoint> {
    let text = std::fs::read_to_string(endpoint_path(data_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The endpoint file if the process that wrote it still runs; a stale one (its process gone,
/// after `kill -9`) is removed and ignored, so a client never offers its token to whoever
/// binds that port next. Files from older versions (no proof key) are ignored too.
pub fn live_endpoint(data_dir: &Path) -> Option<Endpoint> {
    let ep = read_endpoint(data_dir)?;
    let alive = Path::new(&format!("/proc/{}", ep.pid)).exists();
    if !alive || ep.proof_key.is_none() {
        if !alive {
            tracing::info!(
                pid = ep.pid,
                "removing a stale endpoint file (its control plane is gone)"
            );
            let _ = std::fs::remove_file(endpoint_path(data_dir));
        }
        return None;
    }
    Some(ep)
}

pub(super) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}
