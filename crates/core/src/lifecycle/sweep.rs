//! What a sweep did ([`SweepReport`]) and its summary in words.

use crate::error::{Error, Result};
use crate::model::{ErrorInfo, LostGrant, ProviderId};

/// What a sweep did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SweepReport {
    /// OAuth connections looked at.
    pub checked: usize,
    /// Refreshed now.
    pub refreshed: Vec<String>,
    /// The vendor no longer accepts the grant: the customer must sign in again.
    pub needs_reauth: Vec<String>,
    /// Of those, the ones whose refresh token was lost in an interrupted refresh (each has its
    /// `token_lost` event), named for the installer.
    pub lost: Vec<LostGrant>,
    /// The others: the vendor refused the grant (the customer withdrew it, or it lapsed), named
    /// for the installer.
    pub refused: Vec<LostGrant>,
    /// Failed for now (kept, retried later), with the reason.
    pub failed: Vec<(String, ErrorInfo)>,
    /// Due but held back (a vendor's Retry-After, a connection's backoff).
    pub held: usize,
    /// The company's installer accounts whose sign-in was renewed (Enphase's partner plan).
    pub accounts_renewed: Vec<ProviderId>,
    /// Installer accounts whose renewal failed, with the reason (a refusal: sign in again in
    /// Settings).
    pub accounts_failed: Vec<(ProviderId, ErrorInfo)>,
    /// When the next connection becomes due, if any (RFC 3339).
    pub next_due: Option<String>,
    /// For each rotation written now, how long it waited between the vendor's answer and its
    /// durable commit, in milliseconds: the window in which a crash loses a strictly
    /// single-use refresh token.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub durable_ms: Vec<f64>,
    /// The same instant, for a scheduler.
    #[serde(skip)]
    pub next_due_at: Option<time::OffsetDateTime>,
}

impl SweepReport {
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} refreshed", self.refreshed.len())];
        if !self.needs_reauth.is_empty() {
            parts.push(format!(
                "{} need the customer to sign in again",
                self.needs_reauth.len()
            ));
        }
        if !self.lost.is_empty() {
            parts.push(format!(
                "{} of them lost in an interrupted refresh",
                self.lost.len()
            ));
        }
        if !self.failed.is_empty() {
            parts.push(format!("{} failed for now", self.failed.len()));
        }
        if self.held > 0 {
            parts.push(format!("{} held back", self.held));
        }
        if !self.accounts_renewed.is_empty() {
            parts.push(format!(
                "{} installer account(s) renewed",
                self.accounts_renewed.len()
            ));
        }
        if !self.accounts_failed.is_empty() {
            parts.push(format!(
                "{} installer account(s) failed to renew",
                self.accounts_failed.len()
            ));
        }
        format!(
            "{} of {} signed-in connections: {}",
            self.refreshed.len() + self.needs_reauth.len() + self.failed.len(),
            self.checked,
            parts.join(", ")
        )
    }
}

pub(crate) fn result_of<T>(r: &Result<T>) -> std::result::Result<(), Error> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(e.clone()),
    }
}
