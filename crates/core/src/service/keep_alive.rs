//! The keep-alive: what keeps signed-in connections (and a partner installer account) alive
//! while Onramp runs. A sweep at start catches up on what came due while Onramp was closed,
//! then one whenever the next is due (at least every minute, so new connections and backoffs
//! are picked up). Whoever starts it (the desktop shell, a hub replica) hears what changed.

use std::time::Duration;

use super::sweep::Sweep;
use super::Onramp;
use crate::model::{ConnectionsChanged, VaultStatus};

/// At most this long between two sweeps.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);
/// While the keyring is locked or gone, it is asked again this often (no token can be
/// refreshed without it; nothing is marked broken meanwhile).
pub const KEYRING_RETRY: Duration = Duration::from_secs(10);

/// What the keep-alive tells whoever started it.
#[derive(Clone, Debug, PartialEq)]
pub enum KeepAliveNews {
    /// A sweep changed something (refreshed, lost, failed): the UI's `connections-changed`.
    Connections(ConnectionsChanged),
    /// Secure storage came back or went away: the UI's `vault-changed`.
    Vault(VaultStatus),
}

/// The keep-alive's memory between turns.
#[derive(Debug)]
pub struct KeepAlive {
    vault_seen: bool,
}

impl Default for KeepAlive {
    fn default() -> Self {
        KeepAlive { vault_seen: true }
    }
}

impl KeepAlive {
    /// One turn: the keyring asked again if it was away, a sweep of what is due, and how long
    /// to wait before the next turn.
    pub async fn turn(&mut self, onramp: &Onramp) -> (Vec<KeepAliveNews>, Duration) {
        let mut news = Vec::new();
        if !onramp.status().vault.available {
            onramp.recheck_vault().await;
        }
        let wait = if onramp.status().vault.available {
            match onramp.refresh_sweep(Sweep::Due).await {
                Ok(report) => {
                    if !report.refreshed.is_empty()
                        || !report.needs_reauth.is_empty()
                        || !report.failed.is_empty()
                        || !report.accounts_failed.is_empty()
                    {
                        news.push(KeepAliveNews::Connections(ConnectionsChanged {
                            summary: report.summary(),
                            lost: report.lost.clone(),
                            refused: report.refused.clone(),
                        }));
                    }
                    report
                        .next_due_at
                        .map(|t| {
                            let secs = (t - onramp.lifecycle().now()).whole_seconds().max(1);
                            Duration::from_secs(secs as u64).min(MAX_SLEEP)
                        })
                        .unwrap_or(MAX_SLEEP)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "refresh sweep stopped");
                    MAX_SLEEP
                }
            }
        } else {
            KEYRING_RETRY
        };
        // The secure-storage warning follows the keyring both ways.
        let vault = onramp.status().vault;
        if vault.available != self.vault_seen {
            self.vault_seen = vault.available;
            news.push(KeepAliveNews::Vault(vault.clone()));
        }
        let wait = if vault.available { wait } else { KEYRING_RETRY };
        (news, wait)
    }
}

impl Onramp {
    /// Runs the keep-alive for as long as the returned future is polled, telling `tell` what
    /// changed after each turn.
    pub async fn keep_alive(&self, mut tell: impl FnMut(KeepAliveNews)) {
        let mut k = KeepAlive::default();
        loop {
            let (news, wait) = k.turn(self).await;
            news.into_iter().for_each(&mut tell);
            tokio::time::sleep(wait).await;
        }
    }
}
