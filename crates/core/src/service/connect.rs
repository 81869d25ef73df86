//! Connecting by key: sites picked from the installer's account (its list cached a few
//! minutes), or the customer's own key, checked with the vendor before anything is written; and
//! removing a connection (a signed-in grant is revoked at the vendor first).

use std::time::{Duration, Instant};

use super::{words, CachedSites, Onramp};
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::providers::{self, Credential, VendorSite};
use crate::seal::Secrets;
use crate::store::{new_id, NewConnection, NewSites};

/// How long an installer account's site list is reused for searches before it is fetched again.
const ACCOUNT_CACHE_TTL: Duration = Duration::from_secs(600);
const SEARCH_LIMIT: usize = 200;

/// The refusal of a key connection whose key is no longer kept (its row's secrets, or the
/// installer account it was made from).
pub(super) fn key_gone() -> Error {
    Error::new(
        Code::NotConfigured,
        "The key of this connection is no longer configured.",
    )
    .hint("Connect the customer again with a current key.")
}

impl Onramp {
    /// A key credential's secrets, named as they are sealed.
    pub(super) fn credential_secrets(credential: &Credential) -> Secrets {
        let mut s = Secrets::new();
        for (name, secret) in credential.entries() {
            s.insert(name, secret.clone());
        }
        s
    }

    /// A provider's key credential from its opened secrets.
    pub(super) fn credential_from(provider: ProviderId, s: &Secrets) -> Result<Credential> {
        let need = |name: &str| {
            s.get(name).cloned().ok_or_else(|| {
                Error::new(
                    Code::KeychainUnavailable,
                    "A saved key is missing from Onramp's store.",
                )
                .hint("Enter the key again to reconnect.")
            })
        };
        providers::vendor(provider).stored_key(&need)
    }

    /// A key connection's credential, opened from its row.
    pub(super) async fn connection_credential(&self, conn: &Connection) -> Result<Credential> {
        let row = self
            .store
            .connection_secrets(&conn.id)
            .await?
            .ok_or_else(key_gone)?;
        let s = self
            .vault
            .open(
                &crate::store::connection_aad(&conn.id, row.generation),
                &row.sealed,
            )
            .await?;
        Self::credential_from(conn.provider, &s)
    }

    /// The installer account's sites, fetched at most every few minutes.
    async fn account_sites(&self, provider: ProviderId, fresh: bool) -> Result<Vec<VendorSite>> {
        let spec = providers::spec(provider);
        // The account is read first (a partner sign-in is renewed, or refused) even when its
        // sites are cached: a list is never offered from an account that no longer works.
        let credential = self.account_credential(provider).await?.ok_or_else(|| {
            Error::new(
                Code::NotConfigured,
                format!("No {} installer account is set up.", spec.name),
            )
            .hint(if spec.keyed() {
                format!(
                    "Add the account key in Settings → Installer accounts, or use the customer's own {} key.",
                    spec.name
                )
            } else {
                format!(
                    "Add your company's {} key in Settings → Installer accounts, or have the customer sign in.",
                    spec.name
                )
            })
        })?;
        let mut cache = self.account_sites.lock().await;
        if let Some(c) = cache.get(&provider) {
            if !fresh && c.fetched.elapsed() < ACCOUNT_CACHE_TTL {
                return Ok(c.sites.clone());
            }
        }
        let sites =
            providers::list_sites(&self.http, provider, &self.base_url(provider), &credential)
                .await?;
        cache.insert(
            provider,
            CachedSites {
                fetched: Instant::now(),
                sites: sites.clone(),
            },
        );
        Ok(sites)
    }

    /// Sites of the installer's account whose name, address or id contain every word of `query`.
    pub async fn search_account_sites(
        &self,
        provider: ProviderId,
        query: &str,
    ) -> Result<SiteSearch> {
        let sites = self.account_sites(provider, false).await?;
        let connected = self.store.connected_sites(provider).await?;
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let matches: Vec<&VendorSite> = sites
            .iter()
            .filter(|s| {
                let hay = format!(
                    "{} {} {}",
                    s.name,
                    s.address.as_deref().unwrap_or_default(),
                    s.external_id
                )
                .to_lowercase();
                words.iter().all(|w| hay.contains(w))
            })
            .collect();
        Ok(SiteSearch {
            total: matches.len() as u32,
            sites: matches
                .into_iter()
                .take(SEARCH_LIMIT)
                .map(|s| RemoteSite {
                    external_id: s.external_id.clone(),
                    name: s.name.clone(),
                    address: s.address.clone(),
                    peak_power_kw: s.peak_power_kw,
                    status: s.status.clone(),
                    connected_to: connected.get(&s.external_id).map(|(_, name)| name.clone()),
                })
                .collect(),
        })
    }

    /// Connects sites picked from the installer's account to a customer.
    pub async fn connect_account_sites(&self, input: ConnectAccountSites) -> Result<Connection> {
        let provider = input.provider;
        let spec = providers::spec(provider);
        let customer = self.store.customer(&input.customer_id).await?;
        if input.site_ids.is_empty() {
            return Err(Error::validation(format!(
                "Pick at least one {}.",
                spec.site_noun
            )));
        }
        let mut sites = self.account_sites(provider, false).await?;
        if input
            .site_ids
            .iter()
            .any(|id| !sites.iter().any(|s| &s.external_id == id))
        {
            // The cached list may be old: ask the vendor once more before refusing.
            sites = self.account_sites(provider, true).await?;
        }
        let mut picked = Vec::new();
        for id in &input.site_ids {
            let site = sites.iter().find(|s| &s.external_id == id).ok_or_else(|| {
                Error::validation(format!(
                    "{} {id} is not in your {} installer account.",
                    spec.site_noun, spec.name
                ))
                .hint("Search again; the site may have been moved to another account.")
            })?;
            picked.push(site.clone());
        }
        let connected = self.store.connected_sites(provider).await?;
        for s in &picked {
            if let Some((owner_id, owner)) = connected.get(&s.external_id) {
                if owner_id != &customer.id {
                    return Err(Error::validation(format!(
                        "{} is already connected to {owner}.",
                        s.name
                    ))
                    .hint(
                        "Remove it from that customer first if it was connected to the wrong one.",
                    ));
                }
            }
        }
        let account = self
            .store
            .installer_account(provider)
            .await?
            .ok_or_else(|| Error::new(Code::NotConfigured, "The installer account was removed."))?;
        let id = match self
            .store
            .find_connection(&customer.id, provider, CredentialKind::InstallerAccount)
            .await?
        {
            Some(id) => {
                self.store
                    .add_sites(
                        &NewSites {
                            connection_id: &id,
                            provider,
                            sites: &picked,
                        },
                        &words::connected(&customer.id, &id, provider, &picked, self.actor),
                    )
                    .await?;
                id
            }
            None => {
                self.save_connection(&NewConnection {
                    id: new_id(),
                    customer_id: &customer.id,
                    provider,
                    kind: CredentialKind::InstallerAccount,
                    credential_hint: account.credential_hint,
                    secrets: None,
                    sites: &picked,
                    scopes: None,
                    access_expires_at: None,
                    refresh_expires_at: None,
                    tokens_issued_at: None,
                    details: Default::default(),
                })
                .await?
            }
        };
        self.store.connection(&id).await
    }

    /// Connects a customer with the key they gave for their own site(s): checked with the
    /// vendor, kept in the vault, and only then written to the store.
    pub async fn connect_customer_key(
        &self,
        customer_id: &str,
        input: KeyInput,
    ) -> Result<Connection> {
        let provider = input.provider;
        let spec = providers::spec(provider);
        let customer = self.store.customer(customer_id).await?;
        if !spec.keyed() {
            return Err(Error::validation(format!(
                "{} has no customer key; the customer signs in, or pick the system from your installer account.",
                spec.name
            )));
        }
        let credential = Credential::from_input(&input)?;
        let sites =
            providers::list_sites(&self.http, provider, &self.base_url(provider), &credential)
                .await?;
        if sites.is_empty() {
            return Err(Error::new(
                Code::VendorRejected,
                format!(
                    "{} accepted this key, but it sees no {}s. Nothing was saved.",
                    spec.name, spec.site_noun
                ),
            )
            .hint("Ask the customer for the key of the account that owns the system."));
        }
        let id = self
            .save_connection(&NewConnection {
                id: new_id(),
                customer_id: &customer.id,
                provider,
                kind: CredentialKind::CustomerKey,
                credential_hint: Some(credential.hint()),
                secrets: Some(Self::credential_secrets(&credential)),
                sites: &sites,
                scopes: None,
                access_expires_at: None,
                refresh_expires_at: None,
                tokens_issued_at: None,
                details: Default::default(),
            })
            .await?;
        self.store.connection(&id).await
    }

    /// Removes a connection, its sites and its secrets. A signed-in grant is first revoked at
    /// the vendor where the vendor offers revocation, so no live grant is left behind; a vendor
    /// that cannot be reached stops the removal (nothing changes) and says so.
    pub async fn remove_connection(&self, id: &str) -> Result<()> {
        let conn = self.store.grant(id).await?;
        if conn.kind == CredentialKind::Oauth {
            self.revoke_at_vendor(&conn).await?;
        }
        self.store
            .delete_connection(
                id,
                &words::connection_removed(&conn.customer_id, id, conn.provider, self.actor),
            )
            .await
    }
}
