//! Owns the one confirm flow every mutating command goes through: state (`state`), the preview
//! computed by the domain's `Action::apply` (`preview`), transitions (`update`), answers (`outcome`) and drawing
//! (`view`). Nothing outside this folder builds, edits or sends a confirm dialog.

mod outcome;
mod preview;
pub mod state;
pub mod update;
pub mod view;

pub use outcome::on_outcome;
pub use preview::{Preview, default_reason};
pub use state::{Confirm, Intent, Phase};
pub use update::{on_key, open, open_decision, refresh_conflict_preview, refuse_if_not_writable};
