//! `onramp.toml`: which environment Onramp runs in and where each vendor lives.
//!
//! ```toml
//! environment = "sandbox"          # or "production"
//!
//! [solaredge]
//! base_url = "https://monitoringapi.solaredge.com"
//!
//! [solis]
//! base_url = "https://www.soliscloud.com:13333"
//!
//! [[utility]]                       # UtilityAPI Green Button: one entry per utility
//! id = "demo"
//! name = "Demo Utility"
//! authorize_url = "https://utilityapi.com/DataCustodian/demo/oauth/authorize"
//! token_url = "https://utilityapi.com/DataCustodian/demo/oauth/token"
//!
//! [oauth.sma]                       # any OAuth provider
//! authorize_url = "https://idp.example.com/realms/solar/protocol/openid-connect/auth"
//! token_url = "https://idp.example.com/realms/solar/protocol/openid-connect/token"
//! scope = "offline_access monitoringApi:read"
//! issuer = "https://idp.example.com/realms/solar"   # RFC 9207: the `iss` its answers carry
//!
//! [oauth.derapi]
//! join = "flows"                    # or "session" (Join session + fetch-token)
//! program_id = "prog-..."           # optional
//! [oauth.derapi.vendor_credentials] # vendor credentials stored at Derapi, by Derapi's vendor
//! tesla = "..."                     # name (needed for enphase, enphasevpp, sma, tesla)
//!
//! [sandbox]                         # the built-in simulated vendors
//! solaredge_port = 0                # 0 = any free port
//! solis_port = 0
//! ```
//! With no file, Onramp starts in the Sandbox environment, so everything can be tried with no
//! vendor account.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::error::{Code, Error, Result};
use crate::model::{Environment, ProviderId, RedirectMode};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(try_from = "RawConfig")]
pub struct Config {
    pub environment: Environment,
    /// The key APIs' own sections, by provider name (`[solaredge]`, `[solis]`: a vendor whose
    /// `Vendor::api_section` says so; `Config::load` checks it); a provider left out lives at its
    /// production base.
    #[serde(flatten)]
    pub apis: BTreeMap<String, VendorEndpoint>,
    pub sandbox: SandboxPorts,
    /// `[oauth.tesla]`, `[oauth.enphase]`, `[oauth.sma]`, `[oauth.solaredge]`, `[oauth.metry]`,
    /// `[oauth.pelm]` (authorize_url = the hosted Connect page), `[oauth.derapi]`,
    /// `[oauth.utilityapi]` (client and redirect; the URLs are per utility).
    pub oauth: BTreeMap<String, OAuthConfig>,
    /// UtilityAPI Green Button: the utilities the installer can pick, each with its own URLs.
    #[serde(rename = "utility")]
    pub utilities: Vec<Utility>,
}

/// `onramp.toml` as written: the named settings, and every other section, which must be a
/// provider's own API section.
#[derive(Deserialize)]
#[serde(default)]
struct RawConfig {
    environment: Environment,
    sandbox: SandboxPorts,
    oauth: BTreeMap<String, OAuthConfig>,
    #[serde(rename = "utility")]
    utilities: Vec<Utility>,
    #[serde(flatten)]
    rest: BTreeMap<String, toml::Value>,
}

impl Default for RawConfig {
    fn default() -> Self {
        let c = Config::default();
        RawConfig {
            environment: c.environment,
            sandbox: c.sandbox,
            oauth: c.oauth,
            utilities: c.utilities,
            rest: BTreeMap::new(),
        }
    }
}

impl TryFrom<RawConfig> for Config {
    type Error = String;

    /// Every section besides the named settings is a key API's own (which providers may have
    /// one is the vendors' to say: checked by [`Config::load`]).
    fn try_from(raw: RawConfig) -> std::result::Result<Config, String> {
        let mut apis = BTreeMap::new();
        for (key, value) in raw.rest {
            if !value.is_table() {
                return Err(format!(
                    "unknown setting `{key}`: expected environment, [sandbox], [oauth.<provider>], [[utility]] or a provider's own [<provider>] section"
                ));
            }
            let ep: VendorEndpoint = value
                .try_into()
                .map_err(|e: toml::de::Error| format!("[{key}] {}", e.message()))?;
            apis.insert(key, ep);
        }
        Ok(Config {
            environment: raw.environment,
            apis,
            sandbox: raw.sandbox,
            oauth: raw.oauth,
            utilities: raw.utilities,
        })
    }
}

/// A utility reached through UtilityAPI Green Button Connect My Data.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Utility {
    pub id: String,
    pub name: String,
    pub authorize_url: String,
    pub token_url: String,
}

/// A provider's OAuth endpoints and how its redirect returns; anything left out takes the default.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    /// The authorization endpoint: the server's origin (`https://auth.example.com`, Onramp adds
    /// the vendor's path) or the full endpoint URL (any URL with a path): see
    /// [`crate::providers::oauth::EndpointUrl`].
    pub authorize_url: Option<String>,
    /// The token endpoint, read like `authorize_url`.
    pub token_url: Option<String>,
    /// The data API's base URL (the vendor's paths are always added).
    pub api_url: Option<String>,
    /// The scopes to ask for (space-separated), instead of the vendor's default.
    pub scope: Option<String>,
    /// The authorization server's issuer identifier (RFC 9207): an answer carrying another
    /// `iss` is refused. Defaults to the vendor's documented issuer while the authorize URL is
    /// the vendor's own.
    pub issuer: Option<String>,
    /// The vendor's token revocation endpoint (a full URL), where it has one.
    pub revoke_url: Option<String>,
    pub redirect: Option<RedirectMode>,
    /// A fixed loopback port, when the vendor registration names one.
    pub loopback_port: Option<u16>,
    /// The company's https relay page (forwards to the deep link).
    pub relay_url: Option<String>,
    /// Derapi: `flows` (default) or `session`.
    pub join: Option<String>,
    /// Derapi: the program enrollments belong to.
    pub program_id: Option<String>,
    /// Derapi: the id of the vendor credentials stored at Derapi, per Derapi vendor name
    /// (`tesla = "..."`), named in each Join for that vendor.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vendor_credentials: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VendorEndpoint {
    pub base_url: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxPorts {
    pub solaredge_port: u16,
    pub solis_port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            environment: Environment::Sandbox,
            apis: BTreeMap::new(),
            sandbox: SandboxPorts::default(),
            oauth: BTreeMap::new(),
            utilities: vec![Utility {
                id: "demo".into(),
                name: "UtilityAPI demo utility".into(),
                authorize_url: "https://utilityapi.com/DataCustodian/demo/oauth/authorize".into(),
                token_url: "https://utilityapi.com/DataCustodian/demo/oauth/token".into(),
            }],
        }
    }
}

/// `$XDG_CONFIG_HOME/onramp/onramp.toml` (or the platform's config folder).
pub fn default_config_file() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("onramp")
        .join("onramp.toml")
}

/// `$XDG_DATA_HOME/onramp` (or the platform's data folder): the store the app and the CLI share.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("onramp")
}

impl Config {
    /// Reads the file as text and checks its syntax and addresses; a missing file gives the
    /// defaults, a malformed one a clear error. What the vendors say of it is checked by
    /// [`Config::load`] (`providers/configured.rs`).
    pub(crate) fn parse(path: &Path) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(Error::new(
                    Code::NotConfigured,
                    format!("Cannot read {}: {e}", path.display()),
                ))
            }
        };
        Config::from_toml(&text, path)
    }

    /// The checks of [`Config::parse`] on the file's text; `path` names the file in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            Error::new(
                Code::NotConfigured,
                format!("{} is not valid: {}", path.display(), e.message()),
            )
            .hint("Fix the file or remove it to start with the defaults (Sandbox).")
        })?;
        config.apis.retain(|_, ep| !ep.base_url.is_empty());
        for (name, ep) in &config.apis {
            url::Url::parse(&ep.base_url).map_err(|e| {
                Error::new(
                    Code::NotConfigured,
                    format!(
                        "{}: [{name}] base_url {:?} is not a URL ({e})",
                        path.display(),
                        ep.base_url
                    ),
                )
            })?;
        }
        for u in &config.utilities {
            for (what, v) in [
                ("authorize_url", &u.authorize_url),
                ("token_url", &u.token_url),
            ] {
                url::Url::parse(v).map_err(|e| {
                    Error::new(
                        Code::NotConfigured,
                        format!(
                            "{}: [[utility]] {:?} {what} is not a URL ({e})",
                            path.display(),
                            u.id
                        ),
                    )
                })?;
            }
        }
        for (key, c) in &config.oauth {
            for (what, v) in [
                ("authorize_url", &c.authorize_url),
                ("token_url", &c.token_url),
                ("api_url", &c.api_url),
                ("revoke_url", &c.revoke_url),
                ("relay_url", &c.relay_url),
                ("issuer", &c.issuer),
            ] {
                let Some(v) = v else { continue };
                url::Url::parse(v).map_err(|e| {
                    Error::new(
                        Code::NotConfigured,
                        format!(
                            "{}: [oauth.{key}] {what} {v:?} is not a URL ({e})",
                            path.display()
                        ),
                    )
                    .hint("Write the whole address, e.g. https://auth.example.com/oauth2/token.")
                })?;
            }
            if let Some(scope) = &c.scope {
                let ok = !scope.trim().is_empty()
                    && scope.len() <= 1024
                    && !scope.chars().any(|c| c.is_control());
                if !ok {
                    return Err(Error::new(
                        Code::NotConfigured,
                        format!("{}: [oauth.{key}] scope must be the scopes to ask for, separated by spaces", path.display()),
                    ));
                }
            }
        }
        Ok(config)
    }

    /// A configured utility by id.
    pub fn utility(&self, id: &str) -> Option<&Utility> {
        self.utilities.iter().find(|u| u.id == id)
    }

    pub fn oauth_config(&self, provider: ProviderId) -> OAuthConfig {
        self.oauth
            .get(provider.as_str())
            .cloned()
            .unwrap_or_default()
    }
}
