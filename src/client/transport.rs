//! How a client reaches its control plane: TCP to the URL, or the owner's Unix socket. It
//! must not check the socket (the caller does, before a token goes anywhere).

/// How requests reach the control plane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Transport {
    /// TCP (or TLS over TCP) to the URL's host and port.
    #[default]
    Tcp,
    /// The owner's Unix socket (checked by the caller before a token is sent); the URL then
    /// names the plane but is not dialled.
    Unix(std::path::PathBuf),
}
