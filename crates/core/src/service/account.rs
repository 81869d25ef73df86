//! The company's installer accounts: keys that last (SolarEdge's fleet key, Solis's account
//! key pair) and sign-ins (Enphase's partner plan; the renewal is in [`super::account_sign_in`]):
//! listing, saving and removing them, the credential a call uses, and their rows on the health
//! board.

use std::time::Instant;

use super::account_sign_in::{parse_time, RENEW_ON_USE};
use super::{words, CachedSites, Onramp};
use crate::error::{Code, Error, Result};
use crate::lifecycle::{Finding, Subject};
use crate::model::*;
use crate::providers::{self, Credential};
use crate::store::{app_aad_at, app_row, AccountState};

impl Onramp {
    pub(super) fn retry_map(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<ProviderId, time::OffsetDateTime>>
    {
        self.account_retry.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn installer_accounts(&self) -> Result<Vec<InstallerAccount>> {
        let mut out = Vec::new();
        // Installer accounts exist where the vendor has account-wide keys.
        for id in ProviderId::ALL
            .into_iter()
            .filter(|p| !providers::spec(*p).installer_fields().is_empty())
        {
            let spec = providers::spec(id);
            let row = self.store.installer_account(id).await?;
            let needs_sign_in = row
                .as_ref()
                .filter(|r| r.state == Some(AccountState::NeedsSignIn))
                .map(|r| {
                    r.last_error.clone().unwrap_or(ErrorInfo {
                        details: None,
                        code: Code::ReauthRequired,
                        message: format!(
                            "The {} installer account must be signed in again.",
                            spec.name
                        ),
                        hint: None,
                    })
                });
            out.push(InstallerAccount {
                provider: id,
                provider_name: spec.name.to_string(),
                configured: row.is_some(),
                credential_hint: row.as_ref().and_then(|r| r.credential_hint.clone()),
                updated_at: row.as_ref().map(|r| r.updated_at.clone()),
                help: spec.account_key_help.to_string(),
                renews: providers::vendor(id).account_signs_in(),
                access_expires_at: row.as_ref().and_then(|r| r.access_expires_at.clone()),
                refresh_expires_at: row.as_ref().and_then(|r| r.refresh_expires_at.clone()),
                needs_sign_in,
            });
        }
        Ok(out)
    }

    /// Checks the account with the vendor, then keeps it: secrets sealed in its row, the hint
    /// beside them. An account that is a sign-in (`Vendor::account_signs_in`: Enphase's partner
    /// plan, the password grant) signs in first.
    pub async fn save_installer_account(&self, input: KeyInput) -> Result<InstallerAccount> {
        let provider = input.provider;
        let sites = if providers::vendor(provider).account_signs_in() {
            self.sign_in_account(&input).await?
        } else {
            let credential = Credential::from_input(&input)?;
            let sites =
                providers::list_sites(&self.http, provider, &self.base_url(provider), &credential)
                    .await?;
            self.store
                .put_installer_account(
                    provider,
                    &credential.hint(),
                    &self.vault,
                    &Self::credential_secrets(&credential),
                    &words::installer_account_saved(provider, &credential.hint(), self.actor),
                )
                .await?;
            sites
        };
        self.account_sites.lock().await.insert(
            provider,
            CachedSites {
                fetched: Instant::now(),
                sites,
            },
        );
        self.installer_accounts()
            .await?
            .into_iter()
            .find(|a| a.provider == provider)
            .ok_or_else(|| Error::internal("installer account vanished"))
    }

    pub async fn remove_installer_account(&self, provider: ProviderId) -> Result<()> {
        if self.store.installer_account(provider).await?.is_some() {
            // The row holds its sealed credential: both go in one statement.
            self.store
                .delete_installer_account(
                    provider,
                    &words::installer_account_removed(provider, self.actor),
                )
                .await?;
        }
        self.account_sites.lock().await.remove(&provider);
        Ok(())
    }

    /// The installer account's credential, opened from its row; a partner account whose
    /// access token has lapsed (or nearly) is renewed first.
    pub(super) async fn account_credential(
        &self,
        provider: ProviderId,
    ) -> Result<Option<Credential>> {
        if providers::vendor(provider).account_signs_in() {
            self.renew_installer_account(provider, Some(RENEW_ON_USE))
                .await?;
        }
        let Some(row) = self.store.installer_account(provider).await? else {
            return Ok(None);
        };
        if row.state == Some(AccountState::NeedsSignIn) {
            let e = row.last_error.unwrap_or(ErrorInfo {
                details: None,
                code: Code::ReauthRequired,
                message: String::new(),
                hint: None,
            });
            return Err(Error::new(
                Code::ReauthRequired,
                format!(
                    "The {} installer account must be signed in again: {}",
                    providers::spec(provider).name,
                    e.message
                ),
            )
            .hint("Sign in again in Settings → Installer accounts."));
        }
        let Some(sealed) = row.sealed else {
            return Ok(None);
        };
        let s = self
            .vault
            .open(
                &app_aad_at(&app_row(provider, "installer_account"), row.generation),
                &sealed,
            )
            .await?;
        Self::credential_from(provider, &s).map(Some)
    }

    // ---- Signed-in accounts on the health board ------------------------------------------

    /// The health board's rows for installer accounts: one that must be signed in again, and
    /// a partner sign-in whose refresh token lapses within the board's horizon unless Onramp
    /// runs.
    pub(crate) async fn account_health(&self) -> Result<Vec<HealthItem>> {
        let mut out = Vec::new();
        let now = self.now();
        for a in self.installer_accounts().await? {
            if !a.configured {
                continue;
            }
            let about = Subject::installer_account(
                app_row(a.provider, "installer_account"),
                a.provider,
                &a.provider_name,
            );
            if let Some(e) = &a.needs_sign_in {
                out.push(about.row(Finding::new(
                    ConnectionState::NeedsReauth,
                    Who::Installer,
                    Urgency::Now,
                    e.message.clone(),
                    e.hint.clone().unwrap_or_else(|| {
                        "Sign in again in Settings → Installer accounts.".into()
                    }),
                )));
                continue;
            }
            if let Some(lapses) = parse_time(&a.refresh_expires_at) {
                if lapses <= now {
                    out.push(about.row(Finding::new(
                        ConnectionState::NeedsReauth,
                        Who::Installer,
                        Urgency::Now,
                        format!("The {} installer account's sign-in lapsed while Onramp was not running.", a.provider_name),
                        "Sign in again in Settings → Installer accounts.",
                    ).due(a.refresh_expires_at.clone())));
                } else if lapses - now <= crate::lifecycle::HEALTH_HORIZON {
                    let urgency = if lapses - now < time::Duration::days(2) {
                        Urgency::Soon
                    } else {
                        Urgency::Later
                    };
                    out.push(about.row(Finding::new(
                        ConnectionState::Active,
                        Who::Onramp,
                        urgency,
                        format!("The {} installer account's sign-in lapses unless Onramp renews it first.", a.provider_name),
                        "Nothing to do while Onramp runs: it renews the sign-in every day.",
                    ).due(a.refresh_expires_at.clone())));
                }
            }
        }
        Ok(out)
    }
}
