//! The owner's private door to a control plane: a Unix socket `control.sock` in a directory
//! only the owner can enter (0700, the socket itself 0600), under the data dir — or under
//! `$XDG_RUNTIME_DIR` when the data dir's path is too long for a socket address. The server
//! checks each peer's uid (`server::Listener::Unix`); a client checks the directory, the socket
//! and the peer before it sends a token (`check`). So no other local user can reach, crowd out
//! or impersonate the plane the TUI and the local CLI use; TCP stays for OFREP, MCP and remote
//! clients. It must not read or write the endpoint file (the runtime does).

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The socket's file name inside its directory.
pub const SOCKET_NAME: &str = "control.sock";
/// The directory under the data dir that holds the socket.
pub const SOCKET_DIR: &str = "run";
/// Longest socket path the kernel takes (`sun_path` is 108 bytes with its terminating NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// The uid this process runs as (the owner of `/proc/self`); None when it cannot be read, and
/// then no socket is trusted.
pub fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Where the socket for `data_dir` lives: `DATA/run/control.sock`, or, when that path is too
/// long, `$XDG_RUNTIME_DIR/flagtop-<digest of the data dir>/control.sock`; None when neither fits.
pub fn socket_path(data_dir: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let local = dir.join(SOCKET_DIR).join(SOCKET_NAME);
    if local.as_os_str().len() <= MAX_SOCKET_PATH {
        return Some(local);
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, dir.as_os_str().as_encoded_bytes());
    let short: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = runtime.join(format!("flagtop-{short}")).join(SOCKET_NAME);
    (path.as_os_str().len() <= MAX_SOCKET_PATH).then_some(path)
}

/// Why a socket is not trusted (client side) or cannot be served (server side).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SocketError(pub String);

fn refuse(what: String) -> SocketError {
    SocketError(what)
}

/// The directory must be a real directory (not a link), owned by `uid`, open to nobody else.
fn check_dir(dir: &Path, uid: u32) -> Result<(), SocketError> {
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| refuse(format!("cannot inspect {}: {e}", dir.display())))?;
    if !meta.file_type().is_dir() {
        return Err(refuse(format!("{} is not a directory", dir.display())));
    }
    if meta.uid() != uid {
        return Err(refuse(format!(
            "{} belongs to uid {}, not to this user (uid {uid}); remove it",
            dir.display(),
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(refuse(format!(
            "{} is open to other users (mode {mode:o}); it must be 0700 (`chmod 700 {}`)",
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// The socket file must be a socket owned by `uid` that nobody else may connect to.
fn check_socket_file(path: &Path, uid: u32) -> Result<(), SocketError> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| refuse(format!("cannot inspect {}: {e}", path.display())))?;
    if !meta.file_type().is_socket() {
        return Err(refuse(format!("{} is not a socket", path.display())));
    }
    if meta.uid() != uid {
        return Err(refuse(format!(
            "the socket {} belongs to uid {}, not to this user (uid {uid})",
            path.display(),
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(refuse(format!(
            "the socket {} is open to other users (mode {mode:o}); it must be 0600",
            path.display()
        )));
    }
    Ok(())
}

/// Before a client sends its token over `path`: the directory and the socket belong to this
/// user and nobody else may use them, and the process listening on it runs as this user.
pub async fn check(path: &Path) -> Result<(), SocketError> {
    let uid = own_uid().ok_or_else(|| refuse("cannot tell which user this is".into()))?;
    let dir = path
        .parent()
        .ok_or_else(|| refuse(format!("{} has no directory", path.display())))?;
    check_dir(dir, uid)?;
    check_socket_file(path, uid)?;
    let probe = tokio::net::UnixStream::connect(path)
        .await
        .map_err(|e| refuse(format!("cannot connect to {}: {e}", path.display())))?;
    let peer = probe.peer_cred().map_err(|e| {
        refuse(format!(
            "cannot tell who listens on {}: {e}",
            path.display()
        ))
    })?;
    if peer.uid() != uid {
        return Err(refuse(format!(
            "the process on {} runs as uid {}, not as this user (uid {uid})",
            path.display(),
            peer.uid()
        )));
    }
    Ok(())
}

/// Make the socket's directory (0700) and bind a fresh socket (0600) at `path`, replacing one a
/// dead server left. A directory owned by someone else is refused, one of ours with loose
/// permissions is closed up first.
pub fn bind(path: &Path) -> Result<(tokio::net::UnixListener, u32), SocketError> {
    let uid = own_uid().ok_or_else(|| refuse("cannot tell which user this is".into()))?;
    let dir = path
        .parent()
        .ok_or_else(|| refuse(format!("{} has no directory", path.display())))?;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(refuse(format!("cannot create {}: {e}", dir.display()))),
    }
    if let Err(e) = check_dir(dir, uid) {
        let ours =
            std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_dir() && m.uid() == uid);
        if !ours {
            return Err(e);
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| refuse(format!("cannot make {} private: {e}", dir.display())))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(refuse(format!("cannot replace {}: {e}", path.display()))),
    }
    let listener = tokio::net::UnixListener::bind(path)
        .map_err(|e| refuse(format!("cannot listen on {}: {e}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| refuse(format!("cannot make {} private: {e}", path.display())))?;
    Ok((listener, uid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_data_dir_moves_the_socket_or_goes_without() {
        let short = socket_path(Path::new("/tmp/d")).unwrap();
        assert_eq!(short, Path::new("/tmp/d/run/control.sock"));
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
        if let Some(p) = socket_path(&long) {
            assert!(p.as_os_str().len() <= MAX_SOCKET_PATH);
            assert!(!p.starts_with(&long));
        }
    }

    #[tokio::test]
    async fn bind_makes_a_private_directory_and_socket_that_check_accepts() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("run").join(SOCKET_NAME);
        let (_l, uid) = bind(&path).unwrap();
        assert_eq!(Some(uid), own_uid());
        let dir_mode = std::fs::metadata(tmp.path().join("run")).unwrap().mode() & 0o777;
        let sock_mode = std::fs::symlink_metadata(&path).unwrap().mode() & 0o777;
        assert_eq!((dir_mode, sock_mode), (0o700, 0o600));
        check(&path).await.unwrap();
        // Loosened permissions are refused by a client, and closed up again by the next bind.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = check(&path).await.unwrap_err().to_string();
        assert!(e.contains("open to other users"), "{e}");
        std::fs::set_permissions(
            tmp.path().join("run"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let e = check(&path).await.unwrap_err().to_string();
        assert!(e.contains("0700"), "{e}");
        drop(_l);
        let (_l, _) = bind(&path).unwrap();
        check(&path).await.unwrap();
    }

    #[tokio::test]
    async fn a_plain_file_in_place_of_the_socket_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        std::fs::write(dir.join(SOCKET_NAME), "x").unwrap();
        std::fs::set_permissions(
            dir.join(SOCKET_NAME),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let e = check(&dir.join(SOCKET_NAME)).await.unwrap_err().to_string();
        assert!(e.contains("not a socket"), "{e}");
    }
}
