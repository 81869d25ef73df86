//! The facade: the only API the desktop shell and the CLI call.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

mod account;
mod apps;
mod backup;
mod check;
mod custody;
mod export;
mod join;
mod keep_alive;
mod oauth;
mod refresh;
mod sign_in;
mod tokens;
mod usage;
pub mod words;

pub use backup::{backup_file_name, EXTENSION as BACKUP_EXTENSION, MIN_PASSPHRASE, RESTORE_NOTE};
pub use export::ExportFormat;
pub use keep_alive::{
    KeepAlive, KeepAliveNews, KEYRING_RETRY as KEEP_ALIVE_KEYRING_RETRY,
    MAX_SLEEP as KEEP_ALIVE_MAX_SLEEP,
};
pub use oauth::{PasteOutcome, Redirect};
pub use refresh::Sweep;
pub use sign_in::{SignInRequest, Waiter, SIGN_IN_WAIT};
pub use usage::DerapiSession;

use crate::config::Config;
use crate::error::{Code, Error, Result};
use crate::lifecycle::{Clock, Lifecycle, Policy, SystemClock};
use crate::model::*;
use crate::providers::oauth::AppCredentials;
use crate::providers::{self, http, Credential, VendorSite};
use crate::seal::Secrets;
use crate::store::{new_id, NewConnection, NewSites, Store};
use crate::vault::Vault;

/// How long an installer account's site list is reused for searches before it is fetched again.
const ACCOUNT_CACHE_TTL: Duration = Duration::from_secs(600);
const SEARCH_LIMIT: usize = 200;

pub struct OpenOptions {
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
    pub config: Config,
    /// Who acts, for the activity log: `app` or `cli`.
    pub actor: &'static str,
    /// Demo keys of the running sandbox (Sandbox environment only).
    pub sandbox_keys: Vec<SandboxDemoKey>,
    /// Vendor app credentials given at start (the sandbox's demo apps); others come from Settings.
    pub oauth_apps: Vec<(ProviderId, AppCredentials)>,
}

struct CachedSites {
    fetched: Instant,
    sites: Vec<VendorSite>,
}

pub struct Onramp {
    store: Store,
    vault: Vault,
    http: http::Client,
    /// How long a vendor call may take ([`Onramp::set_http_timeout`]).
    http_timeout: Duration,
    config: Config,
    /// Each OAuth provider's endpoints as the configuration resolves them, worked out once
    /// (every refresh asks; the configuration does not change while Onramp runs).
    endpoints: HashMap<ProviderId, crate::providers::oauth::Endpoints>,
    status: AppStatus,
    actor: &'static str,
    account_sites: Mutex<HashMap<ProviderId, CachedSites>>,
    oauth_apps: HashMap<ProviderId, AppCredentials>,
    /// Vendor apps saved in Settings, once read from the store and the vault (a refresh sweep
    /// would otherwise read the same app secret from the keyring for every connection).
    saved_apps: std::sync::Mutex<HashMap<ProviderId, AppCredentials>>,
    /// Installer accounts whose last renewal failed for now (network, 5xx): the sweep leaves
    /// them until then, so a vendor that is down is not asked every few seconds.
    account_retry: std::sync::Mutex<HashMap<ProviderId, time::OffsetDateTime>>,
    /// The sign-ins in flight (their status and their waiters' cancellation).
    sign_ins: sign_in::SignIns,
    lifecycle: Lifecycle,
}

impl Onramp {
    /// Opens the store (creating it on first use) and takes hold of the data folder's key. A
    /// keyring that is missing or locked, or a key that is gone, does not stop Onramp from
    /// opening: the status says so, and anything that needs a secret fails with
    /// `KeychainUnavailable` until it is back. With the key, secrets kept the earlier way move
    /// into the store and expired sign-ins are cleared.
    pub async fn open(opts: OpenOptions) -> Result<Onramp> {
        let file = match opts.config.environment {
            Environment::Sandbox => "sandbox.sqlite",
            Environment::Production => "onramp.sqlite",
        };
        let store = Store::open(&opts.data_dir.join(file)).await?;
        let vault = Vault::new(store.store_id());
        let vault_status = vault.unlock(&store).await;
        if !vault_status.available {
            tracing::warn!(message = ?vault_status.message, "secure storage unavailable");
        }
        let status = AppStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            environment: opts.config.environment,
            data_dir: opts.data_dir.display().to_string(),
            config_file: opts.config_file.display().to_string(),
            vault: vault_status,
            sandbox_keys: opts.sandbox_keys,
        };
        let onramp = Onramp {
            store,
            vault,
            http: http::Client::new()?,
            http_timeout: http::TIMEOUT,
            endpoints: ProviderId::ALL
                .iter()
                .filter_map(|&p| Some((p, opts.config.oauth_endpoints(p)?)))
                .collect(),
            config: opts.config,
            status,
            actor: opts.actor,
            account_sites: Mutex::default(),
            saved_apps: std::sync::Mutex::default(),
            account_retry: std::sync::Mutex::default(),
            sign_ins: Default::default(),
            oauth_apps: opts.oauth_apps.into_iter().collect(),
            lifecycle: Lifecycle::new(Arc::new(SystemClock), Policy::default()),
        };
        onramp.reconcile().await;
        Ok(onramp)
    }

    /// Replaces the clock and the refresh policy (tests and simulations move time by hand).
    /// The store stamps its writes with the same clock.
    pub fn set_lifecycle(&mut self, clock: Arc<dyn Clock>, policy: Policy) {
        self.store.set_clock(clock.clone());
        self.lifecycle = Lifecycle::new(clock, policy);
    }

    /// Replaces the keyring the vault talks to (benchmarks: [`Vault::in_memory`], to keep
    /// keyring calls out of a measurement). The data key already held goes along.
    pub async fn set_vault(&mut self, vault: Vault) -> VaultStatus {
        vault.hold_keys_of(&self.vault);
        self.vault = vault;
        self.saved_apps().clear();
        let status = self.vault.unlock(&self.store).await;
        self.reconcile().await;
        status
    }

    /// The store's id, which names this data folder's secrets in the vault.
    pub fn store_id(&self) -> &str {
        self.store.store_id()
    }

    /// How long a vendor call may take before Onramp gives up on it and says so (default 30 s).
    pub fn set_http_timeout(&mut self, timeout: std::time::Duration) -> Result<()> {
        self.http = http::Client::with_timeout(timeout)?;
        self.http_timeout = timeout;
        Ok(())
    }

    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// "Now", from the lifecycle's clock: token expiries are computed and compared with it.
    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.lifecycle.now()
    }

    /// The app's state; `vault` is live: the keyring as its last call found it.
    pub fn status(&self) -> AppStatus {
        AppStatus {
            vault: self.vault.status(),
            ..self.status.clone()
        }
    }

    /// Asks the keyring for the data folder's key again (after the installer unlocked it);
    /// once held, tidies the store as at start-up.
    pub async fn recheck_vault(&self) -> VaultStatus {
        let was = self.vault.status().available;
        let status = self.vault.unlock(&self.store).await;
        if status.available && !was {
            self.reconcile().await;
        }
        status
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The vault that seals this data folder's secrets.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Where a provider's key-based API lives (Enphase's partner API is its OAuth API host).
    pub(crate) fn base_url(&self, provider: ProviderId) -> String {
        match provider {
            ProviderId::Solaredge | ProviderId::Solis => self.config.base_url(provider).to_string(),
            other => self
                .config
                .oauth_endpoints(other)
                .map(|e| e.api_url)
                .unwrap_or_else(|| self.config.base_url(other).to_string()),
        }
    }

    // ---- customers -------------------------------------------------------------------------

    pub async fn add_customer(&self, input: NewCustomer) -> Result<Customer> {
        self.store
            .insert_customer(&input, words::customer_created(&input.name, self.actor))
            .await
    }

    /// Writes a new connection with its "connected" event.
    pub(crate) async fn save_connection(&self, new: &NewConnection<'_>) -> Result<String> {
        self.store
            .insert_connection(new, &self.vault, &words::new_connection(new, self.actor))
            .await
    }

    pub async fn list_customers(&self, query: Option<&str>) -> Result<Vec<CustomerSummary>> {
        self.store.list_customers(query).await
    }

    pub async fn customer(&self, id: &str) -> Result<CustomerDetail> {
        let customer = self.store.customer(id).await?;
        let (now, policy) = (self.now(), self.lifecycle.policy());
        let mut connections = self.store.connections_for(id).await?;
        for c in &mut connections {
            c.state = crate::lifecycle::state_at(c, now, policy);
        }
        Ok(CustomerDetail {
            providers: self.providers().await?,
            connections,
            events: self.store.events(Some(id), 200).await?,
            usage: self.store.usage(id).await?,
            customer,
        })
    }

    pub async fn events(&self, customer_id: Option<&str>) -> Result<Vec<Event>> {
        self.store.events(customer_id, 500).await
    }

    pub async fn providers(&self) -> Result<Vec<ProviderInfo>> {
        let mut out = Vec::new();
        let mut settings = self.store.provider_settings().await?;
        for id in ProviderId::ALL {
            let (configured, mode, relay) = settings.remove(&id).unwrap_or_default();
            let mut info = providers::spec(id).info(configured);
            if let Some(sign_in) = info.sign_in.as_mut() {
                // Settings or onramp.toml choose the way back, where the provider supports it.
                sign_in.default_mode = self.sign_in_return_from(id, (mode, relay))?.0;
                if id == ProviderId::Utilityapi {
                    sign_in.choices = self
                        .config
                        .utilities
                        .iter()
                        .map(|u| SignInChoice {
                            id: u.id.clone(),
                            label: u.name.clone(),
                        })
                        .collect();
                }
            }
            out.push(info);
        }
        Ok(out)
    }

    // ---- secrets ---------------------------------------------------------------------------

    /// A key credential's secrets, named as they are sealed.
    fn credential_secrets(credential: &Credential) -> Secrets {
        let mut s = Secrets::new();
        for (name, secret) in credential.entries() {
            s.insert(name, secret.clone());
        }
        s
    }

    /// A provider's key credential from its opened secrets.
    fn credential_from(provider: ProviderId, s: &Secrets) -> Result<Credential> {
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
    async fn connection_credential(&self, conn: &Connection) -> Result<Credential> {
        let row = self
            .store
            .connection_secrets(&conn.id)
            .await?
            .ok_or_else(|| {
                Error::new(
                    Code::NotConfigured,
                    "The key of this connection is no longer configured.",
                )
                .hint("Connect the customer again with a current key.")
            })?;
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

    /// Asks the vendor again with the stored credential: refreshes the sites and the health state.
    /// A vendor refusal marks the connection `error` with the reason; a transient failure
    /// (network, rate limit) is returned and changes nothing.
    pub async fn check_connection(&self, id: &str) -> Result<Connection> {
        let conn = self.store.connection(id).await?;
        if conn.kind == CredentialKind::Oauth {
            return self.check_oauth_connection(conn).await;
        }
        let credential = match conn.kind {
            CredentialKind::InstallerAccount => self
                .account_credential(conn.provider)
                .await?
                .ok_or_else(|| {
                    Error::new(
                        Code::NotConfigured,
                        "The key of this connection is no longer configured.",
                    )
                    .hint("Connect the customer again with a current key.")
                })?,
            CredentialKind::CustomerKey | CredentialKind::Oauth => {
                self.connection_credential(&conn).await?
            }
        };
        let found = providers::list_sites(
            &self.http,
            conn.provider,
            &self.base_url(conn.provider),
            &credential,
        )
        .await;
        let found = found.map(|all| match conn.kind {
            CredentialKind::CustomerKey | CredentialKind::Oauth => all,
            // Only the sites picked for this customer, not the whole installer account.
            CredentialKind::InstallerAccount => all
                .into_iter()
                .filter(|s| conn.sites.iter().any(|k| k.external_id == s.external_id))
                .collect(),
        });
        self.record_check(id, found).await
    }

    /// Records what asking the vendor again found: the sites, or the vendor's refusal as the
    /// connection's error. A transient failure (network, rate limit) is returned and changes nothing.
    async fn record_check(&self, id: &str, found: Result<Vec<VendorSite>>) -> Result<Connection> {
        match found {
            Ok(sites) => {
                self.store
                    .record_check(id, None, &sites, self.actor)
                    .await?
            }
            Err(e) if e.code == Code::VendorRejected => {
                self.store
                    .record_check(id, Some(&e.info()), &[], self.actor)
                    .await?
            }
            Err(e) => return Err(e),
        }
        self.store.connection(id).await
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
