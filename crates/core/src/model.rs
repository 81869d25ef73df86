//! The things Onramp talks about: customers, connections, sites, providers.
//!
//! Every type here crosses to the UI; its TypeScript twin is generated into
//! `ui/src/lib/bindings.ts` (see `bindings.rs`). Field names stay snake_case on both sides.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Declares [`ProviderId`] once: its variants, their names, [`ProviderId::ALL`] (in the order the
/// UI lists them) and parsing all come from this one list, so a vendor cannot be half declared.
macro_rules! providers {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal ),+ $(,)?) => {
        /// A vendor Onramp can connect.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
        #[serde(rename_all = "snake_case")]
        pub enum ProviderId {
            $( $(#[$doc])* $variant, )+
        }

        impl ProviderId {
            pub const ALL: [ProviderId; [$($name),+].len()] = [ $( ProviderId::$variant, )+ ];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( ProviderId::$variant => $name, )+
                }
            }
        }
    };
}

providers! {
    Solaredge = "solaredge",
    Solis = "solis",
    Tesla = "tesla",
    Enphase = "enphase",
    Sma = "sma",
    /// Derapi Join: any device vendor through Derapi.
    Derapi = "derapi",
    /// UtilityAPI Green Button Connect My Data.
    Utilityapi = "utilityapi",
    Pelm = "pelm",
    Metry = "metry",
}

impl ProviderId {
    pub fn parse(s: &str) -> Option<ProviderId> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Health of a connection. Key-based connections are `active` or `error`;
/// the OAuth states (`expiring`, `needs_reauth`, `revoked`, `pending`) are used by token lifecycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Active,
    Expiring,
    NeedsReauth,
    Error,
    Revoked,
    Pending,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Active => "active",
            ConnectionState::Expiring => "expiring",
            ConnectionState::NeedsReauth => "needs_reauth",
            ConnectionState::Error => "error",
            ConnectionState::Revoked => "revoked",
            ConnectionState::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<ConnectionState> {
        use ConnectionState::*;
        [Active, Expiring, NeedsReauth, Error, Revoked, Pending]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Whose credential a connection uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// The installer's own account key (saved once in Settings); the customer's sites were picked from it.
    InstallerAccount,
    /// A key the customer created for their own site(s).
    CustomerKey,
    /// The customer signed in at the vendor and granted access (OAuth tokens in the vault).
    Oauth,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::InstallerAccount => "installer_account",
            CredentialKind::CustomerKey => "customer_key",
            CredentialKind::Oauth => "oauth",
        }
    }

    pub fn parse(s: &str) -> Option<CredentialKind> {
        [
            CredentialKind::InstallerAccount,
            CredentialKind::CustomerKey,
            CredentialKind::Oauth,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_number: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct NewCustomer {
    pub name: String,
    pub address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_number: Option<String>,
}

/// One row of the customers list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct CustomerSummary {
    pub id: String,
    pub name: String,
    pub address: Option<String>,
    pub job_number: Option<String>,
    pub connected: u32,
    pub needs_attention: u32,
    pub sites: u32,
    /// RFC 3339: the newest event for this customer, or its creation.
    pub last_activity_at: String,
}

/// A site, station or system found through a connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Site {
    pub id: String,
    pub connection_id: String,
    pub provider: ProviderId,
    /// The vendor's id for it (SolarEdge siteId, Solis station id).
    pub external_id: String,
    pub name: String,
    pub address: Option<String>,
    pub peak_power_kw: Option<f64>,
    pub status: Option<String>,
}

/// Lives with the error it shows (`error` depends on nothing in `model`).
pub use crate::error::ErrorInfo;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Connection {
    pub id: String,
    pub customer_id: String,
    pub provider: ProviderId,
    pub kind: CredentialKind,
    pub state: ConnectionState,
    /// A masked form of the credential ("…B1O6" ), never the secret.
    pub credential_hint: Option<String>,
    pub last_error: Option<ErrorInfo>,
    pub created_at: String,
    pub last_checked_at: Option<String>,
    pub sites: Vec<Site>,
    /// OAuth: the scope the vendor granted (the customer may have edited it).
    pub scopes: Option<String>,
    /// Facts about the grant worth showing, never secrets.
    pub details: ConnectionDetails,
    /// OAuth: when the access token expires (RFC 3339), if the vendor said.
    pub access_expires_at: Option<String>,
    /// OAuth: when the refresh token expires unless it is used (RFC 3339), if known.
    pub refresh_expires_at: Option<String>,
    /// OAuth: when the current tokens were issued (RFC 3339).
    pub tokens_issued_at: Option<String>,
}

/// Who must act on a row of the health board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// The customer signs in again.
    Customer,
    /// The installer: a key, a setting, an installer account.
    Installer,
    /// Whoever manages the company's vendor app (its client id or secret).
    Company,
    /// Nobody while Onramp runs: it renews ahead of time.
    Onramp,
}

/// How soon a row of the health board needs someone. The order is the board's order: `Now`
/// sorts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Broken now: the vendor refuses Onramp's access, or it lapsed.
    Now,
    /// A failed check, or a lapse within a day or two.
    Soon,
    /// Waiting for the customer to finish a sign-in.
    Waiting,
    /// Coming, and handled while Onramp runs.
    Later,
}

impl Urgency {
    /// Every urgency, most urgent first (the UI's sort order, exported with the bindings).
    pub const ALL: [Urgency; 4] = [
        Urgency::Now,
        Urgency::Soon,
        Urgency::Waiting,
        Urgency::Later,
    ];
}

/// The events the app's shell sends the UI, by name: the shell emits them under these names and
/// the UI listens under the same ones (generated into `bindings.ts` as `UI_EVENTS`).
pub mod ui_event {
    /// A background sweep changed something; the payload is a `ConnectionsChanged`.
    pub const CONNECTIONS_CHANGED: &str = "connections-changed";
    /// The keyring went away or came back; the payload is a `VaultStatus`.
    pub const VAULT_CHANGED: &str = "vault-changed";
    /// Every event, with the name the UI knows it by.
    pub const ALL: [(&str, &str); 2] = [
        ("connectionsChanged", CONNECTIONS_CHANGED),
        ("vaultChanged", VAULT_CHANGED),
    ];
}

/// A connection that needs someone, or will: one row of the health board.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct HealthItem {
    pub connection_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub provider: ProviderId,
    pub state: ConnectionState,
    /// What is wrong or coming, in a sentence ("Enphase's refresh token expires in 2 days
    /// unless Onramp runs").
    pub title: String,
    /// What to do about it.
    pub action: String,
    /// Who must act.
    pub who: Who,
    /// How soon; the board sorts by it, most urgent first.
    pub urgency: Urgency,
    /// When it lapses, if it does (RFC 3339).
    pub due_at: Option<String>,
    /// Whether the customer signing in again fixes it (the re-authorize button).
    pub can_reauthorize: bool,
    /// Not a customer's connection but the company's installer account, fixed in Settings
    /// (`connection_id` is then `installer_account/{provider}`, `customer_id` empty).
    pub in_settings: bool,
}

/// A connection whose refresh token was lost when a refresh was interrupted (Onramp was
/// stopped, or the vendor's answer never arrived, after the vendor had replaced the token).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct LostGrant {
    pub connection_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub provider: ProviderId,
    /// What happened and when, for the installer.
    pub message: String,
}

/// What the background refresh tells the UI after a sweep that changed something.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ConnectionsChanged {
    /// "3 of 40 signed-in connections: 3 refreshed".
    pub summary: String,
    /// Connections whose sign-in was lost in an interrupted refresh: the customer must sign in
    /// again, and the installer should hear it at once.
    pub lost: Vec<LostGrant>,
}

/// What an event of the activity log records (its `kind`). Written by the service, stored as
/// its snake_case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A customer was added.
    CustomerCreated,
    /// A connection was made, or sites were added to one.
    Connected,
    /// The customer signed in again for an existing connection.
    Reauthorized,
    /// A connection's tokens were renewed.
    Refreshed,
    /// Asking the vendor again failed (the summary is the reason).
    CheckFailed,
    /// The vendor no longer accepts the grant: it lapsed.
    NeedsReauth,
    /// The customer or the vendor withdrew the grant.
    Revoked,
    /// The refresh token was spent by a refresh whose answer a crash lost.
    TokenLost,
    /// A refresh was refused for a reason that is not the grant's (its app).
    RefreshRefused,
    /// A connection was removed, with its secrets and sites.
    ConnectionRemoved,
    /// A connection's secrets were missing from the keyring at adoption.
    SecretsMissing,
    /// Usage summaries were imported.
    UsageImported,
    /// A vendor app (client id and secret) was saved.
    AppSaved,
    /// An installer account's key was saved.
    InstallerAccountSaved,
    /// An installer account was signed in.
    InstallerAccountSignedIn,
    /// An installer account was removed.
    InstallerAccountRemoved,
    /// An installer account's sign-in was renewed.
    InstallerAccountRenewed,
    /// An installer account must be signed in again.
    InstallerAccountNeedsSignIn,
    /// An installer account's renewal was lost in a crash; it must be signed in again.
    InstallerAccountTokenLost,
    /// The data key sealing the secrets was rotated.
    KeyRotated,
    /// A backup was written.
    BackupCreated,
    /// A backup was restored.
    BackupRestored,
}

impl EventKind {
    pub const ALL: [EventKind; 22] = [
        EventKind::CustomerCreated,
        EventKind::Connected,
        EventKind::Reauthorized,
        EventKind::Refreshed,
        EventKind::CheckFailed,
        EventKind::NeedsReauth,
        EventKind::Revoked,
        EventKind::TokenLost,
        EventKind::RefreshRefused,
        EventKind::ConnectionRemoved,
        EventKind::SecretsMissing,
        EventKind::UsageImported,
        EventKind::AppSaved,
        EventKind::InstallerAccountSaved,
        EventKind::InstallerAccountSignedIn,
        EventKind::InstallerAccountRemoved,
        EventKind::InstallerAccountRenewed,
        EventKind::InstallerAccountNeedsSignIn,
        EventKind::InstallerAccountTokenLost,
        EventKind::KeyRotated,
        EventKind::BackupCreated,
        EventKind::BackupRestored,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CustomerCreated => "customer_created",
            EventKind::Connected => "connected",
            EventKind::Reauthorized => "reauthorized",
            EventKind::Refreshed => "refreshed",
            EventKind::CheckFailed => "check_failed",
            EventKind::NeedsReauth => "needs_reauth",
            EventKind::Revoked => "revoked",
            EventKind::TokenLost => "token_lost",
            EventKind::RefreshRefused => "refresh_refused",
            EventKind::ConnectionRemoved => "connection_removed",
            EventKind::SecretsMissing => "secrets_missing",
            EventKind::UsageImported => "usage_imported",
            EventKind::AppSaved => "app_saved",
            EventKind::InstallerAccountSaved => "installer_account_saved",
            EventKind::InstallerAccountSignedIn => "installer_account_signed_in",
            EventKind::InstallerAccountRemoved => "installer_account_removed",
            EventKind::InstallerAccountRenewed => "installer_account_renewed",
            EventKind::InstallerAccountNeedsSignIn => "installer_account_needs_sign_in",
            EventKind::InstallerAccountTokenLost => "installer_account_token_lost",
            EventKind::KeyRotated => "key_rotated",
            EventKind::BackupCreated => "backup_created",
            EventKind::BackupRestored => "backup_restored",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A kind compares with its stored name (`kind == "refreshed"`).
impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Facts about a grant worth keeping and showing, never secrets; stored as JSON in the
/// connection's row (and, while a sign-in is in flight, in its pending authorization).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ConnectionDetails {
    /// UtilityAPI: the utility's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub utility: Option<String>,
    /// UtilityAPI: the utility's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub utility_name: Option<String>,
    /// UtilityAPI: the scope asked for (the customer may grant less).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub scope_requested: Option<String>,
    /// UtilityAPI: ESPI's `resourceURI` from the token answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub resource_uri: Option<String>,
    /// UtilityAPI: ESPI's `authorizationURI` from the token answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub authorization_uri: Option<String>,
    /// Pelm: the user the connection belongs to (the customer's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub user_id: Option<String>,
    /// Pelm Connect's mode for this sign-in: `create` or `update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub mode: Option<String>,
    /// Derapi: the device vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub vendor: Option<String>,
    /// Derapi: the sign-in flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub flow_id: Option<String>,
    /// Derapi: the enrollment the sign-in made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub enrollment_id: Option<String>,
    /// Derapi: the vendor session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub session_id: Option<String>,
    /// Derapi: the site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub site_id: Option<String>,
    /// The account the vendor says the grant is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub account: Option<String>,
}

impl ConnectionDetails {
    /// Takes every fact `other` has (its facts win).
    pub fn merge(&mut self, other: ConnectionDetails) {
        if other.utility.is_some() {
            self.utility = other.utility;
        }
        if other.utility_name.is_some() {
            self.utility_name = other.utility_name;
        }
        if other.scope_requested.is_some() {
            self.scope_requested = other.scope_requested;
        }
        if other.resource_uri.is_some() {
            self.resource_uri = other.resource_uri;
        }
        if other.authorization_uri.is_some() {
            self.authorization_uri = other.authorization_uri;
        }
        if other.user_id.is_some() {
            self.user_id = other.user_id;
        }
        if other.mode.is_some() {
            self.mode = other.mode;
        }
        if other.vendor.is_some() {
            self.vendor = other.vendor;
        }
        if other.flow_id.is_some() {
            self.flow_id = other.flow_id;
        }
        if other.enrollment_id.is_some() {
            self.enrollment_id = other.enrollment_id;
        }
        if other.session_id.is_some() {
            self.session_id = other.session_id;
        }
        if other.site_id.is_some() {
            self.site_id = other.site_id;
        }
        if other.account.is_some() {
            self.account = other.account;
        }
    }

    /// The facts known, by their stored name, in the names' order.
    pub fn entries(&self) -> Vec<(&'static str, &str)> {
        [
            ("account", &self.account),
            ("authorization_uri", &self.authorization_uri),
            ("enrollment_id", &self.enrollment_id),
            ("flow_id", &self.flow_id),
            ("mode", &self.mode),
            ("resource_uri", &self.resource_uri),
            ("scope_requested", &self.scope_requested),
            ("session_id", &self.session_id),
            ("site_id", &self.site_id),
            ("user_id", &self.user_id),
            ("utility", &self.utility),
            ("utility_name", &self.utility_name),
            ("vendor", &self.vendor),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.as_deref()?)))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.utility.is_none()
            && self.utility_name.is_none()
            && self.scope_requested.is_none()
            && self.resource_uri.is_none()
            && self.authorization_uri.is_none()
            && self.user_id.is_none()
            && self.mode.is_none()
            && self.vendor.is_none()
            && self.flow_id.is_none()
            && self.enrollment_id.is_none()
            && self.session_id.is_none()
            && self.site_id.is_none()
            && self.account.is_none()
    }
}

/// A site as a vendor describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct VendorSite {
    pub external_id: String,
    pub name: String,
    pub address: Option<String>,
    pub peak_power_kw: Option<f64>,
    pub status: Option<String>,
}

/// A meter's usage summary as it is written.
pub struct NewSeries {
    pub source_key: String,
    pub title: String,
    pub commodity: String,
    pub flow: String,
    pub unit: String,
    pub currency: Option<String>,
    pub readings: i64,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    pub months: Vec<UsageMonth>,
}

/// An entry of the activity log. Never carries a secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Event {
    #[ts(type = "number")]
    pub id: i64,
    pub at: String,
    pub customer_id: Option<String>,
    pub connection_id: Option<String>,
    pub provider: Option<ProviderId>,
    pub kind: EventKind,
    pub summary: String,
    /// `app` or `cli`.
    pub actor: String,
}

/// One field of a provider's key form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct FieldSpec {
    /// `api_key`, `key_id` or `key_secret`.
    pub name: String,
    pub label: String,
    pub secret: bool,
    pub placeholder: String,
}

/// What kind of data a provider brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Inverters and batteries, from their vendor.
    Devices,
    /// Devices of many vendors through one service (Derapi).
    Aggregator,
    /// Usage data from the utility.
    Utility,
}

/// What the UI needs to draw a provider's checklist row and its forms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ProviderInfo {
    pub id: ProviderId,
    pub name: String,
    /// "Site", "Station", ...
    pub site_noun: String,
    pub fields: Vec<FieldSpec>,
    /// Where the customer finds their own key.
    pub customer_key_help: String,
    /// Where the installer finds the account-wide key.
    pub account_key_help: String,
    pub installer_account_configured: bool,
    /// The installer account's fields, where the vendor has one (may differ from `fields`).
    pub account_fields: Vec<FieldSpec>,
    /// Set when the customer can connect by signing in at the vendor (OAuth).
    pub sign_in: Option<SignInInfo>,
    /// Which list of the customer's checklist it belongs to.
    pub category: Category,
    /// A sentence the UI shows with the provider (e.g. what only this provider can do).
    pub note: Option<String>,
}

/// A choice offered before a sign-in starts (a utility, a device vendor).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SignInChoice {
    pub id: String,
    pub label: String,
}

/// What the installer picked before the customer signs in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct SignInOptions {
    /// UtilityAPI: the utility (from the configured list).
    pub utility: Option<String>,
    /// UtilityAPI: the scope to ask for (the customer may still edit it).
    pub scope: Option<String>,
    /// Derapi Join: the device vendor the customer enrolls.
    pub vendor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SignInInfo {
    /// What the customer needs at hand.
    pub help: String,
    pub default_mode: RedirectMode,
    /// The ways back this provider supports (paste only where the vendor's page shows the code).
    pub modes: Vec<RedirectMode>,
    /// UtilityAPI: the utilities to pick from; Derapi: the device vendors.
    pub choices: Vec<SignInChoice>,
    /// What the choice is called ("Utility", "Device vendor").
    pub choice_label: Option<String>,
    /// UtilityAPI: the scope asked for unless the installer edits it.
    pub default_scope: Option<String>,
}

/// Where a sign-in stands, as the UI polls it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignInStatus {
    Waiting,
    Connected { connection: Box<Connection> },
    Failed { error: ErrorInfo },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct CustomerDetail {
    pub customer: Customer,
    pub providers: Vec<ProviderInfo>,
    pub connections: Vec<Connection>,
    pub events: Vec<Event>,
    pub usage: Vec<UsageSeries>,
}

/// One month of a meter's usage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct UsageMonth {
    /// `2025-01`, in the utility's local time.
    pub month: String,
    /// In the series' unit.
    pub energy: f64,
    /// In the series' currency, where the utility gave costs.
    pub cost: Option<f64>,
}

/// A meter's usage summary: from a Green Button feed (Connect My Data or a downloaded file) or
/// a utility data provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct UsageSeries {
    pub id: String,
    pub customer_id: String,
    /// Set when the usage came through a connection (it stays if the connection is removed).
    pub connection_id: Option<String>,
    /// Where it came from: "Green Button file usage.xml", "UtilityAPI (Demo Utility)", "Metry".
    pub source: String,
    /// The meter: its address or name.
    pub title: String,
    /// `electricity`, `gas`, `water`, `heat` or `other`.
    pub commodity: String,
    /// `delivered`, `received`, `net` or `unknown`.
    pub flow: String,
    /// `kWh`, `therm`, `m³`, ...
    pub unit: String,
    pub currency: Option<String>,
    #[ts(type = "number")]
    pub readings: i64,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    pub months: Vec<UsageMonth>,
    pub updated_at: String,
}

/// What importing a Green Button file stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct UsageImport {
    pub file_name: String,
    #[ts(type = "number")]
    pub bytes: i64,
    pub series: Vec<UsageSeries>,
}

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

/// A site seen through the installer's account, offered in the picker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct RemoteSite {
    pub external_id: String,
    pub name: String,
    pub address: Option<String>,
    pub peak_power_kw: Option<f64>,
    pub status: Option<String>,
    /// Set when this site is already connected to a customer (their name).
    pub connected_to: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SiteSearch {
    pub total: u32,
    pub sites: Vec<RemoteSite>,
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

    /// Sets the field a provider's [`FieldSpec`] names; false if no such field.
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
pub struct ConnectAccountSites {
    pub customer_id: String,
    pub provider: ProviderId,
    pub site_ids: Vec<String>,
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

/// How the vendor's redirect comes back to Onramp after the customer signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RedirectMode {
    /// A one-shot listener on 127.0.0.1 (RFC 8252 §7.3).
    Loopback,
    /// `onramp://oauth/callback`, directly or through the company's https relay page.
    DeepLink,
    /// The installer pastes the final address or the code the vendor's page shows.
    Paste,
}

/// A sign-in started: what to open in the browser, and how long it may take. Its `Debug`
/// leaves out the state (and the URL that carries it).
#[derive(Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OAuthStart {
    pub provider: ProviderId,
    pub authorize_url: String,
    pub redirect_uri: String,
    pub mode: RedirectMode,
    /// Identifies this sign-in (for paste and cancel); it travels in the URL anyway.
    pub state: String,
    pub expires_at: String,
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

impl std::fmt::Debug for OAuthStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthStart")
            .field("provider", &self.provider)
            .field("authorize_url", &"***")
            .field("redirect_uri", &self.redirect_uri)
            .field("mode", &self.mode)
            .field("state", &"***")
            .field("expires_at", &self.expires_at)
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_kind_is_listed_once_under_its_stored_name() {
        let mut seen = std::collections::HashSet::new();
        for k in EventKind::ALL {
            // The name written to the store is the one the UI receives.
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert!(seen.insert(k), "{k} listed twice");
        }
        assert_eq!(EventKind::parse("connect_failed"), None);
    }

    #[test]
    fn stored_names_read_back() {
        for p in ProviderId::ALL {
            assert_eq!(ProviderId::parse(p.as_str()), Some(p));
        }
        for k in [
            CredentialKind::InstallerAccount,
            CredentialKind::CustomerKey,
            CredentialKind::Oauth,
        ] {
            assert_eq!(CredentialKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        use ConnectionState::*;
        for s in [Active, Expiring, NeedsReauth, Error, Revoked, Pending] {
            assert_eq!(ConnectionState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
