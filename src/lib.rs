//! flagtop: `top` for feature-flag rollouts. The rows of modules and the rule between them
//! (imports run downward only; `scripts/check-layers` checks it) are in `docs/architecture.md`.
//!
//! - [`domain`]: pure vocabulary and rules (flags, cohorts, ladders, actions and reverses,
//!   guardrails, approvals, audit, evaluation).
//! - [`sanitize`], [`exit`], [`testkit`]: inert text, exit codes, the fixed test clock.
//! - [`wire`]: the HTTP API's bodies, shared by server and client.
//! - [`control`]: the control plane (store, service, policy, engine, simulator, API, runtime,
//!   webhook delivery).
//! - [`client`]: the only code that speaks HTTP to a control plane (requests, SSE stream); hands
//!   out backend text as `client::Clean` (inert).
//! - [`tui`]: the operator TUI (event loop, model, update, confirm flow, views).
//! - [`config`]: config.toml, themes and keymaps (strict, with positions), `check-config`.
//! - [`status`], [`app`]: the one-shot status view; process set-up (TLS, logging).
//! - [`screenshot`]: the live demo at a fixed clock (`screenshot::live`) rendered to SVG for the README; `screenshot::fixture` is the hand-made state of unit tests.
//! - [`cli`]: command line and dispatch, one file per subcommand.
//! - [`mcp`]: `flagtop mcp`, the MCP server for AI assistants (read tools + `propose`).
pub mod app;
pub mod cli;
pub mod client;
pub mod config;
pub mod control;
pub mod domain;
pub mod exit;
pub mod fuzz_checks;
pub mod mcp;
pub mod sanitize;
pub mod screenshot;
pub mod status;
pub mod testkit;
pub mod tui;
pub mod wire;
