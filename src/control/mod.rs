//! The control plane: owns state, policy, audit and streams.

pub mod scenario;
pub mod simulator;
pub mod store;
pub mod metrics;
pub mod auth;
pub mod clock;
pub mod policy;
pub mod service;
pub mod definitions;
pub mod error;
pub mod engine;
pub mod flags;
pub mod follower;
pub mod api;
pub mod runtime;
pub mod server;
pub mod prometheus;
pub mod exposition;
pub mod exposure;

#[cfg(test)]
mod tests;
