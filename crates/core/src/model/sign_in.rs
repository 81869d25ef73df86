//! A customer's sign-in at a vendor: the choices offered before it, the ways back
//! ([`RedirectMode`]), a sign-in started ([`OAuthStart`]) and where it stands.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Connection, ErrorInfo, ProviderId};

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
