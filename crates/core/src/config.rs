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
use crate::providers::oauth::Endpoints;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub environment: Environment,
    pub solaredge: VendorEndpoint,
    pub solis: VendorEndpoint,
    pub sandbox: SandboxPorts,
    /// `[oauth.tesla]`, `[oauth.enphase]`, `[oauth.sma]`, `[oauth.solaredge]`, `[oauth.metry]`,
    /// `[oauth.pelm]` (authorize_url = the hosted Connect page), `[oauth.derapi]`,
    /// `[oauth.utilityapi]` (client and redirect; the URLs are per utility).
    pub oauth: BTreeMap<String, OAuthConfig>,
    /// UtilityAPI Green Button: the utilities the installer can pick, each with its own URLs.
    #[serde(rename = "utility")]
    pub utilities: Vec<Utility>,
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

impl Utility {
    /// The utility's URLs as [`Endpoints`]; its data lives wherever the token answer says.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            authorize_url: self.authorize_url.clone(),
            token_url: self.token_url.clone(),
            api_url: self.token_url.clone(),
        }
    }
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
            solaredge: VendorEndpoint {
                base_url: crate::providers::spec(ProviderId::Solaredge)
                    .production_base_url
                    .to_string(),
            },
            solis: VendorEndpoint {
                base_url: crate::providers::spec(ProviderId::Solis)
                    .production_base_url
                    .to_string(),
            },
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
    /// Reads the file; a missing file gives the defaults, a malformed one a clear error.
    pub fn load(path: &Path) -> Result<Config> {
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
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            Error::new(
                Code::NotConfigured,
                format!("{} is not valid: {}", path.display(), e.message()),
            )
            .hint("Fix the file or remove it to start with the defaults (Sandbox).")
        })?;
        let defaults = Config::default();
        if config.solaredge.base_url.is_empty() {
            config.solaredge = defaults.solaredge;
        }
        if config.solis.base_url.is_empty() {
            config.solis = defaults.solis;
        }
        for (name, ep) in [("solaredge", &config.solaredge), ("solis", &config.solis)] {
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
        for (key, c) in &config.oauth {
            let Some(p) =
                ProviderId::parse(key).filter(|p| crate::providers::spec(*p).oauth.is_some())
            else {
                let known: Vec<String> = ProviderId::ALL
                    .into_iter()
                    .filter(|p| crate::providers::spec(*p).oauth.is_some())
                    .map(|p| format!("[oauth.{}]", p.as_str()))
                    .collect();
                return Err(Error::new(
                    Code::NotConfigured,
                    format!(
                        "{}: [oauth.{key}] is not a provider that signs in with OAuth",
                        path.display()
                    ),
                )
                .hint(format!("Use one of {}.", known.join(", "))));
            };
            crate::providers::vendor(p).check_config(c).map_err(|why| {
                Error::new(
                    Code::NotConfigured,
                    format!("{}: [oauth.{key}] {why}", path.display()),
                )
            })?;
        }
        Ok(config)
    }

    /// The API base of a key-based provider: its own section's (`Vendor::configured_base`),
    /// else the vendor's production base.
    pub fn base_url(&self, provider: ProviderId) -> &str {
        crate::providers::vendor(provider)
            .configured_base(self)
            .unwrap_or(crate::providers::spec(provider).production_base_url)
    }

    /// Points a key-based provider elsewhere (the sandbox); OAuth providers use `set_oauth`.
    pub fn set_base_url(&mut self, provider: ProviderId, url: String) {
        if let Some(base) = crate::providers::vendor(provider).configured_base_mut(self) {
            *base = url;
        }
    }

    /// The OAuth endpoints of a provider: onramp.toml over the vendor's defaults, the authorize
    /// and token endpoints resolved to full URLs (a configured origin gets the vendor's path, a
    /// configured full URL is kept as it is).
    pub fn oauth_endpoints(&self, provider: ProviderId) -> Option<Endpoints> {
        use crate::providers::oauth::resolve_endpoint;
        let spec = crate::providers::spec(provider).oauth?;
        let d = Endpoints::defaults(spec);
        let c = self
            .oauth
            .get(provider.as_str())
            .cloned()
            .unwrap_or_default();
        Some(Endpoints {
            authorize_url: c
                .authorize_url
                .map(|u| resolve_endpoint(&u, spec.authorize_path))
                .unwrap_or(d.authorize_url),
            token_url: c
                .token_url
                .map(|u| resolve_endpoint(&u, spec.token_path))
                .unwrap_or(d.token_url),
            api_url: c.api_url.unwrap_or(d.api_url),
        })
    }

    /// The scopes a provider's sign-in asks for: `scope` in onramp.toml, else the vendor's.
    pub fn oauth_scope(&self, provider: ProviderId) -> Option<String> {
        let spec = crate::providers::spec(provider).oauth?;
        Some(
            self.oauth
                .get(provider.as_str())
                .and_then(|c| c.scope.clone())
                .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|| spec.scopes.to_string()),
        )
    }

    /// The issuer a provider's authorization answers must name, if it is known: `issuer` in
    /// onramp.toml, else the vendor's documented one while sign-ins go to the vendor's own
    /// authorize endpoint (pointed elsewhere without an `issuer`, Onramp cannot know it).
    pub fn oauth_issuer(&self, provider: ProviderId) -> Option<String> {
        let spec = crate::providers::spec(provider).oauth?;
        let c = self.oauth.get(provider.as_str());
        if let Some(i) = c.and_then(|c| c.issuer.clone()) {
            return Some(i);
        }
        let own = self
            .oauth_endpoints(provider)
            .is_some_and(|ep| ep.authorize_url == Endpoints::defaults(spec).authorize_url);
        own.then(|| crate::providers::documented_issuer(provider))
            .flatten()
            .map(str::to_string)
    }

    /// Points a provider's OAuth at other servers. Each of the URLs is read as onramp.toml reads
    /// it (an origin, or a full endpoint URL), so endpoints from [`Config::oauth_endpoints`]
    /// can be given back as they are.
    pub fn set_oauth_endpoints(&mut self, provider: ProviderId, ep: Endpoints) {
        let c = self.oauth.entry(provider.as_str().to_string()).or_default();
        c.authorize_url = Some(ep.authorize_url);
        c.token_url = Some(ep.token_url);
        c.api_url = Some(ep.api_url);
    }

    /// Where a provider's tokens are revoked: onramp.toml's `revoke_url`, else (Production
    /// only) the vendor's documented endpoint (`Vendor::documented_revoke_url`).
    pub fn revoke_url(&self, provider: ProviderId) -> Option<String> {
        let configured = self
            .oauth
            .get(provider.as_str())
            .and_then(|c| c.revoke_url.clone());
        let documented = crate::providers::vendor(provider).documented_revoke_url();
        configured.or_else(|| {
            (self.environment == Environment::Production)
                .then_some(documented)
                .flatten()
                .map(str::to_string)
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_means_sandbox_with_vendor_defaults() {
        let c = Config::load(Path::new("/nonexistent/onramp.toml")).unwrap();
        assert_eq!(c.environment, Environment::Sandbox);
        assert_eq!(
            c.base_url(ProviderId::Solaredge),
            "https://monitoringapi.solaredge.com"
        );
    }

    #[test]
    fn reads_environment_and_endpoints() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("onramp.toml");
        std::fs::write(
            &p,
            "environment = \"production\"\n[solis]\nbase_url = \"http://127.0.0.1:9999\"\n",
        )
        .unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.environment, Environment::Production);
        assert_eq!(c.base_url(ProviderId::Solis), "http://127.0.0.1:9999");
        assert_eq!(
            c.base_url(ProviderId::Solaredge),
            "https://monitoringapi.solaredge.com"
        );
    }

    #[test]
    fn revoke_url_is_configured_or_the_documented_one_in_production() {
        let mut c = Config {
            environment: Environment::Production,
            ..Config::default()
        };
        assert_eq!(
            c.revoke_url(ProviderId::Solaredge).as_deref(),
            Some("https://monitoringapi.solaredge.com/v2/oauth2/revoke-token")
        );
        assert_eq!(c.revoke_url(ProviderId::Tesla), None);
        c.oauth.entry("solaredge".into()).or_default().revoke_url =
            Some("http://127.0.0.1:1/v2/oauth2/revoke-token".into());
        assert_eq!(
            c.revoke_url(ProviderId::Solaredge).as_deref(),
            Some("http://127.0.0.1:1/v2/oauth2/revoke-token")
        );
        // The Sandbox environment never falls back to a vendor's production address.
        assert_eq!(Config::default().revoke_url(ProviderId::Solaredge), None);
    }

    #[test]
    fn an_origin_gets_the_vendors_path_and_a_full_url_is_kept() {
        let d = Config::default();
        let tesla = d.oauth_endpoints(ProviderId::Tesla).unwrap();
        assert_eq!(
            tesla.authorize_url,
            "https://auth.tesla.com/oauth2/v3/authorize"
        );
        assert_eq!(
            tesla.token_url,
            "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token"
        );
        let mut c = Config::default();
        let sma = c.oauth.entry("sma".into()).or_default();
        sma.authorize_url = Some("https://auth.example.com".into());
        sma.token_url = Some("https://auth.example.com/".into());
        let ep = c.oauth_endpoints(ProviderId::Sma).unwrap();
        assert_eq!(ep.authorize_url, "https://auth.example.com/oauth2/auth");
        assert_eq!(ep.token_url, "https://auth.example.com/oauth2/token");
        let full = "https://idp.example.com/realms/solar/protocol/openid-connect/token";
        let sma = c.oauth.get_mut("sma").unwrap();
        sma.token_url = Some(full.into());
        sma.authorize_url = Some("https://idp.example.com/?tenant=solar".into());
        let ep = c.oauth_endpoints(ProviderId::Sma).unwrap();
        assert_eq!(ep.token_url, full);
        assert_eq!(ep.authorize_url, "https://idp.example.com/?tenant=solar");
        // Resolved endpoints given back are kept as they are.
        let mut again = Config::default();
        again.set_oauth_endpoints(ProviderId::Sma, ep.clone());
        assert_eq!(again.oauth_endpoints(ProviderId::Sma).unwrap(), ep);
    }

    #[test]
    fn the_vendors_issuer_applies_only_at_its_own_authorize_endpoint() {
        let mut c = Config::default();
        assert_eq!(
            c.oauth_issuer(ProviderId::Tesla).as_deref(),
            Some("https://auth.tesla.com/oauth2/v3")
        );
        assert_eq!(c.oauth_issuer(ProviderId::Sma), None);
        let t = c.oauth.entry("tesla".into()).or_default();
        t.authorize_url = Some("https://auth.tesla.cn".into());
        assert_eq!(
            c.oauth_issuer(ProviderId::Tesla),
            None,
            "elsewhere: unknown"
        );
        c.oauth.get_mut("tesla").unwrap().issuer = Some("https://auth.tesla.cn/oauth2/v3".into());
        assert_eq!(
            c.oauth_issuer(ProviderId::Tesla).as_deref(),
            Some("https://auth.tesla.cn/oauth2/v3")
        );
    }

    #[test]
    fn scope_replaces_the_vendors_and_is_tidied() {
        let mut c = Config::default();
        assert_eq!(
            c.oauth_scope(ProviderId::Sma).as_deref(),
            Some("offline_access monitoringApi:read")
        );
        c.oauth.entry("sma".into()).or_default().scope = Some(" openid  offline_access ".into());
        assert_eq!(
            c.oauth_scope(ProviderId::Sma).as_deref(),
            Some("openid offline_access")
        );
    }

    #[test]
    fn malformed_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("onramp.toml");
        std::fs::write(&p, "environment = \"staging\"\n").unwrap();
        let e = Config::load(&p).unwrap_err();
        assert_eq!(e.code, Code::NotConfigured);
        assert!(e.message.contains("onramp.toml"), "{}", e.message);
    }
}
