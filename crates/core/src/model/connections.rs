//! Connections (one grant or key of a customer at a vendor): their state, whose credential
//! they use, the facts kept about a grant ([`ConnectionDetails`]), and sites, as stored and as
//! a vendor or an installer account describes them.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{ErrorInfo, ProviderId};

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
    /// The installer counts it as this customer's (one that is another household's stays on
    /// the connection, unattached, so the choice can be changed).
    pub attached: bool,
    /// Whether its address is the customer's (`None`: one of them says too little to tell).
    pub address_matches: Option<bool>,
}

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ConnectAccountSites {
    pub customer_id: String,
    pub provider: ProviderId,
    pub site_ids: Vec<String>,
}
