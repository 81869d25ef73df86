//! Settings and the app's state: keys as typed, installer accounts, vendor apps and the way
//! back of their sign-ins, the vault's state, the environment, backups.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{CustomerList, ErrorInfo, ProviderId, ProviderInfo, RedirectMode};

/// What a backup holds (after making one, or after restoring one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct BackupSummary {
    /// The backup file.
    pub path: String,
    /// When the backup was made (RFC 3339).
    pub created_at: String,
    /// The Onramp version that made it.
    pub onramp_version: String,
    pub customers: u32,
    pub connections: u32,
    pub sites: u32,
    /// Vendor apps, installer accounts and sign-in return settings.
    pub vendor_apps: u32,
    pub usage_series: u32,
    pub events: u32,
    /// Secrets carried (tokens, keys, client secrets), opened and encrypted to the passphrase.
    pub secrets: u32,
    /// What the installer should know (after a restore: what a backup cannot bring back).
    pub note: Option<String>,
}

/// Credentials as the installer typed them. Secret fields are never logged nor stored in SQLite.
#[derive(Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct KeyInput {
    pub provider: ProviderId,
    /// SolarEdge: the API key.
    pub api_key: Option<String>,
    /// Solis: KeyId and KeySecret.
    pub key_id: Option<String>,
    pub key_secret: Option<String>,
    /// Enphase partner plan: the partner application's client id and secret (its API key in
    /// `api_key`) and the Enlighten user it signs in as. The password is sent once, to sign
    /// in, and never kept.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub client_id: Option<String>,
    #[serde(default)]
    #[ts(optional = nullable)]
    pub client_secret: Option<String>,
    #[serde(default)]
    #[ts(optional = nullable)]
    pub username: Option<String>,
    #[serde(default)]
    #[ts(optional = nullable)]
    pub password: Option<String>,
}

impl KeyInput {
    /// An input for `provider` with every field empty.
    pub fn empty(provider: ProviderId) -> KeyInput {
        KeyInput {
            provider,
            api_key: None,
            key_id: None,
            key_secret: None,
            client_id: None,
            client_secret: None,
            username: None,
            password: None,
        }
    }

    /// Sets the field a provider's [`FieldSpec`](super::FieldSpec) names; false if no such field.
    pub fn set(&mut self, name: &str, value: Option<String>) -> bool {
        let slot = match name {
            "api_key" => &mut self.api_key,
            "key_id" => &mut self.key_id,
            "key_secret" => &mut self.key_secret,
            "client_id" => &mut self.client_id,
            "client_secret" => &mut self.client_secret,
            "username" => &mut self.username,
            "password" => &mut self.password,
            _ => return false,
        };
        *slot = value;
        true
    }
}

impl std::fmt::Debug for KeyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyInput")
            .field("provider", &self.provider)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("key_id", &self.key_id)
            .field("key_secret", &self.key_secret.as_ref().map(|_| "***"))
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct InstallerAccount {
    pub provider: ProviderId,
    pub provider_name: String,
    pub configured: bool,
    pub credential_hint: Option<String>,
    pub updated_at: Option<String>,
    pub help: String,
    /// The account is a sign-in Onramp keeps alive (Enphase's partner plan), not a key that
    /// lasts: its access token's and refresh token's expiries (RFC 3339).
    pub renews: bool,
    pub access_expires_at: Option<String>,
    pub refresh_expires_at: Option<String>,
    /// The account must be signed in again, and why (its refresh was refused, or it was saved
    /// the earlier way, as a pasted token).
    pub needs_sign_in: Option<ErrorInfo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Sandbox,
    Production,
}

/// Secure storage as Onramp found it: each state the installer must tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum VaultState {
    /// The data folder's key is held: secrets are sealed and opened.
    Ready,
    /// The keyring is locked, not running or not answering; nothing is written meanwhile.
    Unavailable,
    /// The keyring answered but does not have this data folder's key (it was reset, or the
    /// folder came from another laptop): restore a backup.
    KeyMissing,
    /// The keyring's key does not open this data folder's check value.
    KeyMismatch,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct VaultStatus {
    /// Secrets can be sealed and opened (the state is `ready`).
    pub available: bool,
    pub state: VaultState,
    /// Which store holds the secrets ("Secret Service", "macOS Keychain", ...).
    pub backend: String,
    pub message: Option<String>,
    pub hint: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SandboxDemoKey {
    pub provider: ProviderId,
    pub label: String,
    pub api_key: Option<String>,
    pub key_id: Option<String>,
    pub key_secret: Option<String>,
    /// Enphase partner plan: the partner application and the Enlighten user it signs in as.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct AppStatus {
    pub version: String,
    pub environment: Environment,
    pub data_dir: String,
    pub config_file: String,
    pub vault: VaultStatus,
    /// Demo keys the Sandbox accepts (only in the Sandbox environment; these are not secrets).
    pub sandbox_keys: Vec<SandboxDemoKey>,
}

/// What the first screen shows, read once and handed to the window with its page (so the
/// first paint waits for no call): the status, the providers, and the first page of customers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct FirstScreen {
    pub status: AppStatus,
    pub providers: Vec<ProviderInfo>,
    pub customers: CustomerList,
}

/// Where a vendor app's credentials come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AppSource {
    /// The Sandbox's demo app.
    Sandbox,
    /// Saved here, in Settings.
    Settings,
    /// None yet.
    None,
}

/// A vendor app registration (OAuth client) as Settings shows it: never its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct VendorApp {
    pub provider: ProviderId,
    pub provider_name: String,
    pub client_id: Option<String>,
    /// Where its credentials come from.
    pub source: AppSource,
    /// Enphase apps also carry an API key.
    pub needs_api_key: bool,
    /// The vendor accepts a public client (PKCE, no secret: Tesla's Open Source apps): the
    /// secret may be left empty.
    pub public_client: bool,
    /// How the sign-in comes back (Settings over onramp.toml over the vendor's default).
    pub redirect_mode: RedirectMode,
    pub modes: Vec<RedirectMode>,
    /// The company's https relay page, used with the deep link.
    pub relay_url: Option<String>,
}

/// The way back for a provider's sign-ins, as chosen in Settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SignInReturn {
    pub provider: ProviderId,
    pub mode: RedirectMode,
    pub relay_url: Option<String>,
}

/// A vendor app as typed in Settings; the secret fields go to the vault only.
#[derive(Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VendorAppInput {
    pub provider: ProviderId,
    pub client_id: String,
    pub client_secret: String,
    pub api_key: Option<String>,
}

impl std::fmt::Debug for VendorAppInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorAppInput")
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The laptop's own settings (Settings → Company).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct CompanySettings {
    /// Your name: every event you cause records it, so the activity export names who acted.
    pub installer_name: Option<String>,
    /// The providers your company uses, in the customer page's order.
    pub providers: Vec<ProviderId>,
    /// No choice made: every provider Onramp knows (new ones included).
    pub all_providers: bool,
}
