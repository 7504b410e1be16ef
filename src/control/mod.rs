//! The control plane: owns state, policy, audit and streams.

pub mod api;
pub mod auth;
pub mod clock;
pub mod definitions;
pub mod engine;
pub mod error;
pub mod exposition;
pub mod exposure;
pub mod flags;
pub mod follower;
pub mod local_socket;
pub mod memory;
pub mod metrics;
pub mod policy;
pub mod prometheus;
pub mod runtime;
pub mod scenario;
pub mod server;
pub mod service;
pub mod simulator;
pub mod store;
pub mod webhooks;

#[cfg(test)]
mod tests;
