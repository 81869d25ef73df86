//! Every secret a sandbox hands out (codes, access and refresh tokens, connect and session
//! tokens), so a test can look for each one where it must never be: the store, logs, events,
//! exports, what the UI is sent.

use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub(crate) struct Ledger(Arc<Mutex<Vec<String>>>);

impl Ledger {
    pub(crate) fn record(&self, secret: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(secret.to_string());
    }

    pub(crate) fn all(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
