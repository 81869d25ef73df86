//! Every secret a sandbox hands out or is handed (codes, access and refresh tokens, connect and
//! session tokens, the PKCE verifiers presented at its token endpoints) and every OAuth `state`
//! its authorization pages saw, so a test can look for each one where it must never be: the
//! store, logs, events, exports, what the UI is sent, a child process's argv.

use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub(crate) struct Ledger(Arc<Mutex<Books>>);

#[derive(Default)]
struct Books {
    secrets: Vec<String>,
    states: Vec<String>,
    verifiers: Vec<String>,
}

impl Ledger {
    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn record(&self, secret: &str) {
        self.books().secrets.push(secret.to_string());
    }

    /// A PKCE verifier presented at a token endpoint (a secret: it is also among [`Self::all`]).
    pub(crate) fn record_verifier(&self, verifier: &str) {
        let mut b = self.books();
        b.secrets.push(verifier.to_string());
        b.verifiers.push(verifier.to_string());
    }

    pub(crate) fn verifiers(&self) -> Vec<String> {
        self.books().verifiers.clone()
    }

    /// An OAuth `state` an authorization page was sent.
    pub(crate) fn record_state(&self, state: &str) {
        if !state.is_empty() {
            self.books().states.push(state.to_string());
        }
    }

    pub(crate) fn all(&self) -> Vec<String> {
        self.books().secrets.clone()
    }

    pub(crate) fn states(&self) -> Vec<String> {
        self.books().states.clone()
    }
}
