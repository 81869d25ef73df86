//! A signed-in connection's tokens in the keyring: one entry holding the access and refresh
//! token together. A refresh is then one keyring write, not two (gnome-keyring rewrites its
//! whole file on every change, so writes are what a sweep waits for), and the pair is replaced
//! at once: a crash can no longer leave a new refresh token beside an old access token.
//!
//! Connections signed in before kept two entries (`access_token`, `refresh_token`); they are
//! read as before and moved into the one entry at their next write.

use serde::{Deserialize, Serialize};

use super::{Onramp, ACCESS_TOKEN, REFRESH_TOKEN};
use crate::error::{Code, Error, Result};
use crate::vault::Sensitive;

/// Vault entry name of a connection's tokens.
pub(crate) const TOKENS: &str = "tokens";

/// The tokens as read from the vault.
pub(crate) struct Grant {
    pub access: Option<Sensitive<String>>,
    pub refresh: Option<Sensitive<String>>,
    /// Read from the two entries of before: they go when the pair is next written.
    legacy: bool,
}

impl Grant {
    /// No tokens yet (a connection being created: nothing of the old layout to remove).
    pub(crate) fn none() -> Grant {
        Grant {
            access: None,
            refresh: None,
            legacy: false,
        }
    }
}

/// The entry's layout (no `Debug`: it holds the secrets in the clear).
#[derive(Serialize, Deserialize)]
struct Entry {
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl Onramp {
    /// The connection's tokens under `secret_ref`.
    pub(crate) async fn load_grant(&self, secret_ref: &str) -> Result<Grant> {
        if let Some(raw) = self.vault.get(&format!("{secret_ref}/{TOKENS}")).await? {
            let e: Entry = serde_json::from_str(raw.expose()).map_err(|_| {
                Error::new(
                    Code::KeychainUnavailable,
                    "A connection's tokens in secure storage are unreadable.",
                )
                .hint("Connect the vendor again with the customer.")
            })?;
            return Ok(Grant {
                access: Some(Sensitive::new(e.access_token)),
                refresh: e.refresh_token.map(Sensitive::new),
                legacy: false,
            });
        }
        let access = self
            .vault
            .get(&format!("{secret_ref}/{ACCESS_TOKEN}"))
            .await?;
        let refresh = self
            .vault
            .get(&format!("{secret_ref}/{REFRESH_TOKEN}"))
            .await?;
        Ok(Grant {
            legacy: access.is_some() || refresh.is_some(),
            access,
            refresh,
        })
    }

    /// The access token for an API call.
    pub(crate) async fn access_token(&self, secret_ref: &str) -> Result<Sensitive<String>> {
        self.load_grant(secret_ref).await?.access.ok_or_else(|| {
            Error::new(
                Code::KeychainUnavailable,
                "A connection's access token is missing from secure storage.",
            )
            .hint("The keyring may have been reset. Connect the vendor again with the customer.")
        })
    }

    /// Writes the pair in one keyring write; `before` (if read) says whether entries of the
    /// old layout are there to remove afterwards. Without a `before`, they are looked for.
    pub(crate) async fn save_grant(
        &self,
        secret_ref: &str,
        access: &Sensitive<String>,
        refresh: Option<&Sensitive<String>>,
        before: Option<&Grant>,
    ) -> Result<()> {
        let entry = Sensitive::new(
            serde_json::to_string(&Entry {
                access_token: access.expose().clone(),
                refresh_token: refresh.map(|r| r.expose().clone()),
            })
            .map_err(|e| Error::internal(format!("cannot encode tokens: {e}")))?,
        );
        self.vault
            .put(&format!("{secret_ref}/{TOKENS}"), &entry)
            .await?;
        if before.is_none_or(|b| b.legacy) {
            // The new entry is written: the old ones are only leftovers now, and a failure to
            // remove them changes nothing (the new entry is read first).
            for name in [ACCESS_TOKEN, REFRESH_TOKEN] {
                if let Err(e) = self.vault.delete(&format!("{secret_ref}/{name}")).await {
                    tracing::warn!(error = %e, "old token entry not removed");
                }
            }
        }
        Ok(())
    }
}
