//! The only code that speaks HTTP to a control plane: requests, the event stream, reconnects.

pub mod clean;
pub mod failover;
pub mod http;
pub mod sse;
pub mod stream;
pub mod transport;

pub use clean::Clean;
pub use http::{Client, ClientError};
pub use transport::Transport;
