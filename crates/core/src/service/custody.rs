//! Keeping the grants safe over time: tidying the store at start-up and after sweeps, moving a
//! data folder from the earlier layout (a keyring entry per secret) into sealed rows, rotating
//! the data key, and revoking a grant at the vendor before it is removed.

use super::oauth::CLIENT_SECRET;
use super::tokens::{ACCESS_TOKEN, REFRESH_TOKEN};
use super::Onramp;
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::providers;
use crate::seal::{Aad, Secrets};
use crate::store::{app_aad_at, connection_aad, pending_aad, LegacyRow};
use crate::vault::Sensitive;

/// The names secrets had in the earlier layout, under a row's `secret_ref`.
const LEGACY_NAMES: [&str; 9] = [
    "tokens",
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    providers::API_KEY,
    providers::KEY_ID,
    providers::KEY_SECRET,
    // Enphase's installer account as it was saved before: a pasted partner access token.
    "partner_token",
    CLIENT_SECRET,
    crate::auth::VERIFIER,
];

/// What a key rotation did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Rotated {
    pub key_id: String,
    pub resealed: usize,
}

fn aad_of<'a>(table: &'static str, key: &'a str, generation: i64) -> Aad<'a> {
    match table {
        "connections" => connection_aad(key, generation),
        "provider_apps" => app_aad_at(key, generation),
        _ => pending_aad(key),
    }
}

impl Onramp {
    /// Tidies the store once the data key is held: secrets of the earlier layout move into
    /// their rows, expired sign-ins go with their verifiers. Failures are logged, never fatal:
    /// the next start (or sweep) tries again.
    pub(crate) async fn reconcile(&self) {
        if !self.vault.status().available {
            return;
        }
        match self.adopt_legacy_secrets().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "secrets moved from the keyring into the store"),
            Err(e) => tracing::warn!(error = %e, "secrets of the earlier layout not moved yet"),
        }
        if let Err(e) = self.tidy().await {
            tracing::warn!(error = %e, "store not tidied");
        }
    }

    /// Removes expired sign-ins (and their sealed verifiers). Runs at start-up and after each
    /// sweep.
    pub(crate) async fn tidy(&self) -> Result<()> {
        let gone = self.store.purge_pending(self.now()).await?;
        if gone > 0 {
            tracing::debug!(gone, "expired sign-ins removed");
        }
        Ok(())
    }

    /// Moves every secret of the earlier layout into its row: each is read from the keyring,
    /// all are sealed and committed in one transaction, and only then are the keyring entries
    /// removed. A keyring that fails midway changes nothing (the move runs again next time).
    async fn adopt_legacy_secrets(&self) -> Result<usize> {
        let rows = self.store.legacy_rows().await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut sealed: Vec<(LegacyRow, Option<String>)> = Vec::new();
        let mut found_entries = Vec::new();
        for row in rows {
            let mut secrets = Secrets::new();
            for name in LEGACY_NAMES {
                let entry = format!("{}/{name}", row.secret_ref);
                let Some(value) = self.vault.legacy_get(&entry).await? else {
                    continue;
                };
                found_entries.push(entry);
                if name == "tokens" {
                    // The one-entry pair: {"access_token": ..., "refresh_token": ...}.
                    let pair: std::collections::BTreeMap<String, String> =
                        serde_json::from_str(value.expose()).unwrap_or_default();
                    for (k, v) in pair {
                        secrets.insert(&k, Sensitive::new(v));
                    }
                } else {
                    secrets.insert(name, value);
                }
            }
            let value = if secrets.is_empty() {
                None
            } else {
                Some(self.vault.seal(&aad_of(row.table, &row.key, 0), &secrets)?)
            };
            sealed.push((row, value));
        }
        let adopted = self.store.adopt_legacy(&sealed, self.actor).await?;
        for entry in found_entries {
            if let Err(e) = self.vault.legacy_delete(&entry).await {
                tracing::warn!(error = %e, "an entry of the earlier layout stays in the keyring");
            }
        }
        Ok(adopted)
    }

    /// Re-seals every secret under a new data key in one transaction (`onramp vault
    /// rotate-key`). The new key is in the keyring before anything is sealed with it; the old
    /// one is removed only once nothing is sealed with it any more. A refresh that rotates a
    /// token meanwhile makes the transaction start again.
    pub async fn rotate_key(&self) -> Result<Rotated> {
        let new = self.vault.new_key().await?;
        for _ in 0..5 {
            let all = self.store.all_sealed().await?;
            let mut values = Vec::with_capacity(all.len());
            for (table, key, generation, old) in &all {
                let aad = aad_of(table, key, *generation);
                let secrets = self.vault.open(&aad, old).await?;
                values.push((*table, key.clone(), old.clone(), new.seal(&aad, &secrets)?));
            }
            let check = self.vault.check_value(&new)?;
            match self.store.reseal(&values, new.id(), &check).await {
                Ok(()) => {
                    let old = self.vault.current_key_id();
                    self.vault.rotated(new.clone());
                    if let Some(old) = old {
                        let left = self.store.sealed_by_key().await?;
                        if !left.contains_key(&old) {
                            if let Err(e) = self.vault.forget_key(&old).await {
                                tracing::warn!(error = %e, "the old data key stays in the keyring");
                            }
                        }
                    }
                    let _ = self
                        .store
                        .add_event(&crate::store::NewEvent {
                            customer_id: None,
                            connection_id: None,
                            provider: None,
                            kind: crate::model::EventKind::KeyRotated,
                            summary: format!(
                                "The data key was rotated: {} secrets re-sealed",
                                values.len()
                            ),
                            actor: self.actor,
                        })
                        .await;
                    return Ok(Rotated {
                        key_id: new.id().to_string(),
                        resealed: values.len(),
                    });
                }
                Err(e) if e.code == Code::Busy => continue,
                Err(e) => {
                    let _ = self.vault.forget_key(new.id()).await;
                    return Err(e);
                }
            }
        }
        let _ = self.vault.forget_key(new.id()).await;
        Err(Error::new(
            Code::Busy,
            "The key could not be rotated: refreshes kept changing secrets meanwhile.",
        )
        .hint("Run `onramp vault rotate-key` again when Onramp is idle."))
    }

    /// Revokes a signed-in grant at the vendor where the vendor offers revocation. A vendor
    /// without a revocation endpoint, or a grant without tokens, needs nothing.
    ///
    /// The refresh token is revoked (RFC 7009: revoking it ends the grant), or the access token
    /// when there is none. A grant the vendor already refuses needs no revocation.
    pub(crate) async fn revoke_at_vendor(&self, conn: &Connection) -> Result<()> {
        let Some(url) = self.config.revoke_url(conn.provider) else {
            return Ok(());
        };
        if matches!(
            conn.state,
            ConnectionState::Revoked | ConnectionState::NeedsReauth
        ) {
            return Ok(());
        }
        let Some(row) = self.store.connection_secrets(&conn.id).await? else {
            return Ok(());
        };
        let grant = self.open_grant(&conn.id, &row).await?;
        let (token, hint) = match (&grant.refresh, &grant.access) {
            (Some(r), _) => (r, "refresh_token"),
            (None, Some(a)) => (a, "access_token"),
            (None, None) => return Ok(()),
        };
        let (spec, _) = self.oauth_spec_pub(conn.provider)?;
        let ep = self.token_endpoints(conn)?;
        let app = self.app_credentials(conn.provider).await?;
        let name = providers::spec(conn.provider).name;
        crate::providers::oauth::TokenEndpoint {
            client: &self.http,
            vendor: name,
            spec,
            endpoints: &ep,
            app: &app,
        }
        .revoke(&url, token, hint)
        .await
        .or_else(|e| match e.code {
            // The vendor says the token is no good already: nothing left to revoke.
            Code::ReauthRequired | Code::TokenLost | Code::VendorRejected => Ok(()),
            _ => Err(e),
        })
        .map_err(|e| {
            let hint = format!(
                "Nothing was removed. Try again when {name} can be reached; the connection stays until {name} confirms the revocation."
            );
            Error { hint: Some(hint), ..e }
        })
    }
}
