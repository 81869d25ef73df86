//! Settings and vendor apps (`provider_apps`): a vendor app's client id and sealed secrets,
//! and the way back chosen for a provider's sign-ins. Installer accounts share the table
//! ([`super::accounts`]).

use std::collections::HashMap;

use sqlx::Row;

use super::*;

impl Store {
    /// The way back chosen in Settings for a provider's sign-in: (mode, relay URL).
    /// For every provider at once: whether an installer account is saved, and the saved way
    /// back for sign-ins (as [`Store::sign_in_return`]). One read for the providers list.
    pub async fn provider_settings(
        &self,
    ) -> Result<HashMap<ProviderId, (bool, Option<RedirectMode>, Option<String>)>> {
        let rows =
            sqlx::query("SELECT provider, kind, redirect_mode, relay_url FROM provider_apps")
                .fetch_all(&self.pool)
                .await?;
        let mut out: HashMap<ProviderId, (bool, Option<RedirectMode>, Option<String>)> =
            HashMap::new();
        for r in rows {
            let Ok(provider) = provider_of(&r.get::<String, _>("provider")) else {
                continue;
            };
            let entry = out.entry(provider).or_default();
            match r.get::<String, _>("kind").as_str() {
                "installer_account" => entry.0 = true,
                "oauth_app" => {
                    entry.1 = r
                        .get::<Option<String>, _>("redirect_mode")
                        .and_then(|m| serde_json::from_value(serde_json::Value::String(m)).ok());
                    entry.2 = r.get("relay_url");
                }
                _ => {}
            }
        }
        Ok(out)
    }

    pub async fn sign_in_return(
        &self,
        provider: ProviderId,
    ) -> Result<(Option<RedirectMode>, Option<String>)> {
        let row = sqlx::query(
            "SELECT redirect_mode, relay_url FROM provider_apps WHERE provider = ? AND kind = 'oauth_app'",
        )
        .bind(provider.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => (
                r.get::<Option<String>, _>("redirect_mode")
                    .and_then(|m| serde_json::from_value(serde_json::Value::String(m)).ok()),
                r.get("relay_url"),
            ),
            None => (None, None),
        })
    }

    pub async fn put_sign_in_return(
        &self,
        provider: ProviderId,
        mode: RedirectMode,
        relay_url: Option<&str>,
    ) -> Result<()> {
        let mode = serde_json::to_value(mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        sqlx::query(
            "INSERT INTO provider_apps (provider, kind, redirect_mode, relay_url, updated_at)
             VALUES (?, 'oauth_app', ?, ?, ?)
             ON CONFLICT (provider, kind) DO UPDATE SET redirect_mode = excluded.redirect_mode,
                relay_url = excluded.relay_url, updated_at = excluded.updated_at",
        )
        .bind(provider.as_str())
        .bind(mode)
        .bind(relay_url)
        .bind(self.now())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A vendor app registration's client id and its sealed secrets (client secret, API key).
    /// A row without secrets (only a way back chosen in Settings) is no app.
    pub async fn oauth_app(&self, provider: ProviderId) -> Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT client_id, sealed FROM provider_apps WHERE provider = ? AND kind = 'oauth_app'
                AND client_id IS NOT NULL",
        )
        .bind(provider.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| Some((r.get("client_id"), r.get::<Option<String>, _>("sealed")?))))
    }

    /// Saves a vendor app: its client id and sealed secrets in one row, with an event.
    pub async fn put_oauth_app(
        &self,
        provider: ProviderId,
        client_id: &str,
        vault: &Vault,
        secrets: &Secrets,
        event: &NewEvent<'_>,
    ) -> Result<()> {
        let sealed = vault.seal(&app_aad(&app_row(provider, "oauth_app")), secrets)?;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO provider_apps (provider, kind, client_id, sealed, updated_at)
             VALUES (?, 'oauth_app', ?, ?, ?)
             ON CONFLICT (provider, kind) DO UPDATE SET client_id = excluded.client_id,
                sealed = excluded.sealed, secret_ref = NULL, updated_at = excluded.updated_at",
        )
        .bind(provider.as_str())
        .bind(client_id)
        .bind(&sealed)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        self.commit_with(tx, event).await
    }
}

/// A `provider_apps` row's key, which its sealed secrets are bound to.
pub fn app_row(provider: ProviderId, kind: &str) -> String {
    format!("{}/{kind}", provider.as_str())
}
