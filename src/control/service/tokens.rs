//! Who a token is: authentication (stored tokens by hash, the owner's in-memory token), and the
//! tokens disabled for carrying a name the control plane keeps for itself. Minting is a
//! definition (`define`), through the commit pipeline.

use super::*;

impl ControlPlane {
    /// Authenticate a bearer token.
    pub fn authenticate(&self, token: &str) -> Option<Actor> {
        self.authenticate_scoped(token).map(|(a, _)| a)
    }

    /// Authenticate a token, with the environments an `sdk` token is bound to.
    pub fn authenticate_scoped(&self, token: &str) -> Option<(Actor, Vec<crate::domain::EnvKey>)> {
        let h = auth::hash(token);
        {
            let local = lock(&self.local_tokens);
            for (k, actor) in local.iter() {
                if auth::constant_time_eq(k.as_bytes(), h.as_bytes()) {
                    return Some((actor.clone(), Vec::new()));
                }
            }
        }
        match self.store.token(&h) {
            // A token carrying a reserved name (minted before names were reserved) is disabled.
            Ok(Some(rec)) if crate::domain::is_reserved_name(&rec.name) => None,
            Ok(Some(rec)) => Some((Actor::from_token(rec.name, rec.role), rec.environments)),
            _ => None,
        }
    }

    /// Disable stored tokens that carry a reserved name (an impostor planted in an older data
    /// dir): they authenticate nothing, the log says so once and `status` lists them.
    pub(super) fn disable_reserved_tokens(self: Arc<Self>) -> Arc<Self> {
        let names: Vec<String> = match self.store.tokens() {
            Ok(tokens) => tokens
                .into_iter()
                .map(|t| t.name)
                .filter(|n| crate::domain::is_reserved_name(n))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read tokens to check for reserved names");
                Vec::new()
            }
        };
        if names.is_empty() {
            return self;
        }
        let warnings: Vec<String> = names
            .iter()
            .map(|n| {
                let n = crate::sanitize::clean(n, 100);
                tracing::warn!(token = %n, "token disabled: its name is reserved for the control plane");
                format!("token `{n}` is disabled: its name is reserved for the control plane; mint a new one under another name")
            })
            .collect();
        match Arc::try_unwrap(self) {
            Ok(mut cp) => {
                cp.disabled_tokens = warnings;
                Arc::new(cp)
            }
            Err(cp) => cp,
        }
    }

    /// Problems the operator should know about (disabled tokens), for `status` and the TUI.
    pub fn warnings(&self) -> Vec<String> {
        self.disabled_tokens.clone()
    }

    /// An in-memory token for this process's owner; returns the secret.
    pub fn add_local_token(&self, actor: Actor) -> Result<String, ServiceError> {
        let t =
            auth::mint().map_err(|e| ServiceError::new(ErrorKind::Internal, "random_failed", e))?;
        lock(&self.local_tokens).insert(auth::hash(&t), actor);
        Ok(t)
    }

    pub fn has_tokens(&self) -> bool {
        self.store.tokens().map(|t| !t.is_empty()).unwrap_or(false)
    }
}
