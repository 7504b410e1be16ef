//! flagtop: `top` for feature-flag rollouts.
//!
//! - [`domain`]: pure vocabulary and rules (flags, cohorts, ladders, actions and reverses,
//!   guardrails, approvals, audit, evaluation).
//! - [`wire`]: the HTTP API's bodies, shared by server and client.
//! - [`control`]: the control plane (store, service, policy, engine, simulator, API, runtime).
//! - [`client`]: the only code that speaks HTTP to a control plane (requests, SSE stream).
//! - [`tui`]: the operator TUI (Elm-style model / update / view).
//! - [`cli`], [`status`], [`app`]: command line, one-shot views, process set-up.
//! - [`sanitize`]: neutralises untrusted text before it reaches a terminal.
//! - [`config`]: config.toml, themes and keymaps (strict, with positions), `check-config`.
//! - [`screenshot`]: fixture state rendered to SVG for the README.
//! - [`mcp`]: `flagtop mcp`, the MCP server for AI assistants (read tools + `propose`).
pub mod app;
pub mod cli;
pub mod domain;
pub mod exit;
pub mod status;
pub mod wire;
pub mod client;
pub mod control;
pub mod sanitize;
pub mod tui;
pub mod config;
pub mod screenshot;
pub mod testkit;
pub mod fuzz_checks;
pub mod mcp;
