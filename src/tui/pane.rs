//! Owns the names of the five panes and their order (Tab). Plain data; the keymap, the model
//! and the views all speak of panes by these.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Flags,
    Ladder,
    Guardrails,
    Approvals,
    Activity,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Flags,
        Pane::Ladder,
        Pane::Guardrails,
        Pane::Approvals,
        Pane::Activity,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Pane::Flags => "Flags",
            Pane::Ladder => "Ladder",
            Pane::Guardrails => "Guardrails",
            Pane::Approvals => "Approvals",
            Pane::Activity => "Activity",
        }
    }
}
