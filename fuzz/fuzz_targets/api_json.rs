//! The control plane's JSON inputs: `ActionRequest`, `ProposalRequest`, `MetricBatch` and `Flag`
//! bodies. The first byte picks the type; the rest is the body. Whatever deserializes is run
//! through the domain: `Action::apply` on the demo state (a failed apply changes nothing; a
//! successful one has a reverse that restores the state), flag validation, and the text paths
//! that reach a terminal (`describe`, `command_line`, `sanitize`).
//! The checks live in `flagtop::fuzz_checks` so the test suite replays this corpus too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| flagtop::fuzz_checks::api_json_check::api_json(input));
