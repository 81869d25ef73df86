//! The facade: the only API the desktop shell and the CLI call.
//!
//! This file holds [`Onramp`] itself (opening, the clock, the vault, settings it is given);
//! each concern is its own file, all `impl Onramp`: `customers.rs` (customers and their page),
//! `connect.rs` (connecting by key: the installer account's sites, the customer's own key;
//! removing a connection), `check.rs` (asking the vendor again), `oauth.rs` and `sign_in.rs`
//! (the customer's sign-in), `refresh.rs` and `keep_alive.rs` (keeping grants alive),
//! `account.rs` (installer accounts), `apps.rs` (vendor apps), `usage.rs`, `join.rs`,
//! `backup/`, `export.rs`, `custody.rs` (adopting secrets, key rotation), `words.rs` (every
//! event's sentence).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

mod account;
mod account_sign_in;
mod apps;
mod backup;
mod check;
mod connect;
mod custody;
mod customers;
mod customers_import;
mod export;
mod hand_off;
mod keep_alive;
mod oauth;

mod paste;
mod refresh;
mod session;
mod settings;
mod sign_in;
mod sites;
mod sweep;
mod tokens;
mod usage;
pub mod words;

pub use backup::{
    backup_file_name, check_backup_payload, EXTENSION as BACKUP_EXTENSION, MIN_PASSPHRASE,
    RESTORE_NOTE,
};
pub use export::ExportFormat;
pub use keep_alive::{
    KeepAlive, KeepAliveNews, KEYRING_RETRY as KEEP_ALIVE_KEYRING_RETRY,
    MAX_SLEEP as KEEP_ALIVE_MAX_SLEEP,
};
pub use oauth::Redirect;
pub use paste::PasteOutcome;
pub use session::SignInSession;
pub use sign_in::{SignInRequest, Waiter, SIGN_IN_WAIT};
pub use sweep::Sweep;
pub use usage::{Progress as UsageProgress, MAX_BYTES as MAX_USAGE_BYTES};

use crate::config::Config;
use crate::error::Result;
use crate::lifecycle::{Clock, Lifecycle, Policy, SystemClock};
use crate::model::*;
use crate::providers::oauth::AppCredentials;
use crate::providers::{http, VendorSite};
use crate::store::Store;
use crate::vault::Vault;

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
    /// The usage imports being read, by customer: their Cancel.
    usage_imports: usage::Imports,
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
            usage_imports: Default::default(),
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

    /// Where a provider's key-based API lives: its own section of `onramp.toml`
    /// (`Vendor::api_section`), else its OAuth API host (Enphase's partner API), else its
    /// production base.
    pub(crate) fn base_url(&self, provider: ProviderId) -> String {
        if let Some(base) = self.config.configured_base(provider) {
            return base.to_string();
        }
        self.config
            .oauth_endpoints(provider)
            .map(|e| e.api_url)
            .unwrap_or_else(|| self.config.base_url(provider).to_string())
    }
}
