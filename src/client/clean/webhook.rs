//! Webhook health from a control plane made inert: hook names, delivery ids and errors.

use super::{Neutralise, opt, text};

impl Neutralise for crate::wire::webhook::HookHealth {
    fn neutralise(&mut self) {
        text(&mut self.name);
        if let Some(d) = &mut self.last_attempt {
            text(&mut d.hook);
            text(&mut d.id);
            opt(&mut d.error);
        }
    }
}

impl<T: Neutralise> Neutralise for Vec<T> {
    fn neutralise(&mut self) {
        self.iter_mut().for_each(Neutralise::neutralise);
    }
}
