//! The configuration as the vendors read it: which providers may have their own section, what
//! each vendor accepts in its `[oauth.<vendor>]` section, and where each provider lives (its
//! endpoints, scopes, issuer, revocation) from `onramp.toml` over the vendor's facts.
//! `config.rs` holds the file's shape and reads it without knowing any vendor, so the
//! configuration depends on nothing here and the vendors' hooks can be handed it.

use std::path::Path;

use super::oauth::Endpoints;
use crate::config::{Config, Utility, VendorEndpoint};
use crate::error::{Code, Error, Result};
use crate::model::{Environment, ProviderId};

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

impl Config {
    /// Reads `onramp.toml` ([`Config::parse`]) and checks what the vendors say of it: each
    /// provider section belongs to a vendor with a key API of its own, each `[oauth.<vendor>]`
    /// to a vendor that signs in, with the settings that vendor accepts.
    pub fn load(path: &Path) -> Result<Config> {
        let config = Config::parse(path)?;
        for key in config.apis.keys() {
            if ProviderId::parse(key).is_some_and(|p| super::vendor(p).api_section()) {
                continue;
            }
            let sections: Vec<String> = ProviderId::ALL
                .into_iter()
                .filter(|p| super::vendor(*p).api_section())
                .map(|p| format!("[{}]", p.as_str()))
                .collect();
            return Err(Error::new(
                Code::NotConfigured,
                format!("{}: [{key}] is not a setting Onramp knows", path.display()),
            )
            .hint(format!(
                "A provider's own section is one of {}; sign-in settings go in [oauth.<provider>].",
                sections.join(", ")
            )));
        }
        for (key, c) in &config.oauth {
            let Some(p) = ProviderId::parse(key).filter(|p| super::spec(*p).oauth.is_some()) else {
                let known: Vec<String> = ProviderId::ALL
                    .into_iter()
                    .filter(|p| super::spec(*p).oauth.is_some())
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
            super::vendor(p).check_config(c).map_err(|why| {
                Error::new(
                    Code::NotConfigured,
                    format!("{}: [oauth.{key}] {why}", path.display()),
                )
            })?;
        }
        Ok(config)
    }

    /// The API base `onramp.toml` gives a key-based provider in its own section
    /// (`Vendor::api_section`); `None`: none given.
    pub fn configured_base(&self, provider: ProviderId) -> Option<&str> {
        if !super::vendor(provider).api_section() {
            return None;
        }
        self.apis
            .get(provider.as_str())
            .map(|e| e.base_url.as_str())
    }

    /// The API base of a key-based provider: its own section's, else the vendor's production
    /// base.
    pub fn base_url(&self, provider: ProviderId) -> &str {
        self.configured_base(provider)
            .unwrap_or(super::spec(provider).production_base_url)
    }

    /// Points a key-based provider elsewhere (the sandbox); OAuth providers use `set_oauth`.
    pub fn set_base_url(&mut self, provider: ProviderId, url: String) {
        if super::vendor(provider).api_section() {
            self.apis.insert(
                provider.as_str().to_string(),
                VendorEndpoint { base_url: url },
            );
        }
    }

    /// The OAuth endpoints of a provider: onramp.toml over the vendor's defaults, the authorize
    /// and token endpoints resolved to full URLs (a configured origin gets the vendor's path, a
    /// configured full URL is kept as it is).
    pub fn oauth_endpoints(&self, provider: ProviderId) -> Option<Endpoints> {
        use super::oauth::resolve_endpoint;
        let spec = super::spec(provider).oauth?;
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
        let spec = super::spec(provider).oauth?;
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
        let spec = super::spec(provider).oauth?;
        let c = self.oauth.get(provider.as_str());
        if let Some(i) = c.and_then(|c| c.issuer.clone()) {
            return Some(i);
        }
        let own = self
            .oauth_endpoints(provider)
            .is_some_and(|ep| ep.authorize_url == Endpoints::defaults(spec).authorize_url);
        own.then(|| super::documented_issuer(provider))
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
        let documented = super::vendor(provider).documented_revoke_url();
        configured.or_else(|| {
            (self.environment == Environment::Production)
                .then_some(documented)
                .flatten()
                .map(str::to_string)
        })
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
    fn only_a_vendor_with_a_key_api_has_a_section_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("onramp.toml");
        let load = |text: &str| {
            std::fs::write(&p, text).unwrap();
            Config::load(&p)
        };
        // Tesla signs in: its settings are [oauth.tesla], not [tesla].
        let e = load("[tesla]\nbase_url = \"http://127.0.0.1:1\"\n").unwrap_err();
        assert_eq!(e.code, Code::NotConfigured);
        assert!(e.message.contains("[tesla]"), "{}", e.message);
        assert!(e.hint.as_deref().unwrap().contains("[solaredge]"), "{e:?}");
        // A misspelt setting is not taken for a section.
        let e = load("enviroment = \"production\"\n").unwrap_err();
        assert!(e.message.contains("enviroment"), "{}", e.message);
        // A vendor's section must say where its API is.
        let e = load("[solis]\nbase = \"http://127.0.0.1:1\"\n").unwrap_err();
        assert!(e.message.contains("[solis]"), "{}", e.message);
        let c = load("[solis]\nbase_url = \"http://127.0.0.1:1\"\n").unwrap();
        assert_eq!(c.base_url(ProviderId::Solis), "http://127.0.0.1:1");
        // What is written back reads the same.
        std::fs::write(&p, toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(Config::load(&p).unwrap(), c);
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
