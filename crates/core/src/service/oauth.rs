//! Enrollment through the vendor's sign-in: begin (PKCE + state + authorize URL), complete
//! (untrusted callback -> pending authorization -> code exchange -> tokens in the vault ->
//! sites discovered -> connection stored), and the vendor app credentials it needs.

use std::collections::BTreeMap;

use super::usage::usage_points;
use super::Onramp;
use crate::auth::callback::{parse_pasted, parse_url, Callback, Outcome, Pasted, DEEP_LINK};
use crate::auth::{Authorizations, BeginRequest, DEFAULT_TTL};
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::providers;
use crate::providers::oauth::{self as vendor_oauth, AppCredentials, Endpoints, OAuthSpec};
use crate::seal::Secrets;
use crate::store::{app_aad, app_row, new_id, rfc3339, NewConnection};
use crate::vault::Sensitive;

use super::tokens::{Grant, REFRESH_TOKEN};

pub(crate) const CLIENT_SECRET: &str = "client_secret";
pub(crate) const APP_API_KEY: &str = "api_key";

/// What the caller wants the redirect to be.
pub enum Redirect {
    /// The caller bound a loopback listener: its exact URI.
    Loopback(String),
    DeepLink,
    Paste,
}

impl Onramp {
    pub(crate) fn oauth_spec_pub(
        &self,
        provider: ProviderId,
    ) -> Result<(&'static OAuthSpec, Endpoints)> {
        self.oauth_spec(provider)
    }

    pub(crate) fn derapi_vendor_pub(vendor: &str) -> Result<String> {
        Self::derapi_vendor(&SignInOptions {
            vendor: Some(vendor.to_string()),
            ..Default::default()
        })
    }

    fn oauth_spec(&self, provider: ProviderId) -> Result<(&'static OAuthSpec, Endpoints)> {
        let spec = providers::spec(provider);
        let oauth = spec.oauth.ok_or_else(|| {
            Error::validation(format!(
                "{} connects with a key, not by signing in.",
                spec.name
            ))
        })?;
        let ep = self
            .config
            .oauth_endpoints(provider)
            .ok_or_else(|| Error::internal("OAuth provider without endpoints"))?;
        Ok((oauth, ep))
    }

    /// The vendor app's credentials: the sandbox's demo app, or the ones saved in Settings.
    pub(crate) async fn app_credentials(&self, provider: ProviderId) -> Result<AppCredentials> {
        if let Some(app) = self.oauth_apps.get(&provider) {
            return Ok(app.clone());
        }
        if let Some(app) = self.saved_apps().get(&provider) {
            return Ok(app.clone());
        }
        let name = providers::spec(provider).name;
        let not_set = || {
            Error::new(Code::NotConfigured, format!("Onramp's {name} app is not set up on this laptop."))
                .hint(format!(
                    "Enter the {name} client id and secret your company registered (Settings → Vendor apps, or `onramp app set {}`).",
                    provider.as_str()
                ))
        };
        let (client_id, sealed) = self.store.oauth_app(provider).await?.ok_or_else(not_set)?;
        let secrets = self
            .vault
            .open(&app_aad(&app_row(provider, "oauth_app")), &sealed)
            .await?;
        let client_secret = secrets.get(CLIENT_SECRET).cloned();
        if client_secret.is_none() && !vendor_oauth::public_client_allowed(provider) {
            return Err(not_set());
        }
        let app = AppCredentials {
            client_id,
            client_secret,
            api_key: secrets.get(APP_API_KEY).cloned(),
        };
        self.saved_apps().insert(provider, app.clone());
        Ok(app)
    }

    pub(super) fn saved_apps(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<ProviderId, AppCredentials>> {
        self.saved_apps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Saves a vendor app registration: the client id in the store, the secrets in the vault.
    /// An empty secret saves a public client (PKCE only), where the vendor allows one
    /// ([`vendor_oauth::public_client_allowed`]); elsewhere it is refused.
    pub async fn save_oauth_app(
        &self,
        provider: ProviderId,
        client_id: &str,
        client_secret: Sensitive<String>,
        api_key: Option<Sensitive<String>>,
    ) -> Result<()> {
        let (spec, _) = self.oauth_spec(provider)?;
        let client_id = client_id.trim();
        let public = client_secret.expose().trim().is_empty();
        if client_id.is_empty() {
            return Err(Error::validation("Enter the app's client id."));
        }
        if public && !vendor_oauth::public_client_allowed(provider) {
            let name = providers::spec(provider).name;
            return Err(Error::validation(format!(
                "Enter the client secret: {name} apps always have one."
            ))
            .hint(format!(
                "{name} gives every app registration a client secret; copy it from where your company registered the app."
            )));
        }
        if spec.needs_api_key
            && api_key
                .as_ref()
                .is_none_or(|k| k.expose().trim().is_empty())
        {
            return Err(Error::validation("Enphase apps also need their API key."));
        }
        self.saved_apps().remove(&provider);
        // Refreshes held back because the vendor refused the old app may go at once.
        self.lifecycle.forget_connections();
        let mut secrets = Secrets::new();
        if !public {
            secrets.insert(CLIENT_SECRET, client_secret.clone());
        }
        if let Some(k) = &api_key {
            secrets.insert(APP_API_KEY, k.clone());
        }
        self.store
            .put_oauth_app(
                provider,
                client_id,
                &self.vault,
                &secrets,
                &super::words::app_saved(provider, client_id, self.actor),
            )
            .await
    }

    /// Every vendor app Onramp can use, and where its credentials come from.
    pub async fn vendor_apps(&self) -> Result<Vec<VendorApp>> {
        let mut out = Vec::new();
        for id in ProviderId::ALL {
            let spec = providers::spec(id);
            let Some(oauth) = spec.oauth else { continue };
            let (client_id, source) = match self.oauth_apps.get(&id) {
                Some(app) => (Some(app.client_id.clone()), "sandbox"),
                None => match self.store.oauth_app(id).await? {
                    Some((c, _)) => (Some(c), "settings"),
                    None => (None, "none"),
                },
            };
            let (redirect_mode, relay_url) = self.sign_in_return(id).await?;
            out.push(VendorApp {
                provider: id,
                provider_name: spec.name.to_string(),
                client_id,
                source: source.to_string(),
                needs_api_key: oauth.needs_api_key,
                public_client: vendor_oauth::public_client_allowed(id),
                redirect_mode,
                modes: spec
                    .info(false)
                    .sign_in
                    .map(|s| s.modes)
                    .unwrap_or_default(),
                relay_url,
            });
        }
        Ok(out)
    }

    /// How a provider's sign-ins come back: Settings, then onramp.toml, then the vendor's default;
    /// and the relay page's address the same way.
    pub(crate) async fn sign_in_return(
        &self,
        provider: ProviderId,
    ) -> Result<(RedirectMode, Option<String>)> {
        let saved = self.store.sign_in_return(provider).await?;
        self.sign_in_return_from(provider, saved)
    }

    /// The way back for `provider`'s sign-ins given what Settings saved.
    pub(crate) fn sign_in_return_from(
        &self,
        provider: ProviderId,
        (saved_mode, saved_relay): (Option<RedirectMode>, Option<String>),
    ) -> Result<(RedirectMode, Option<String>)> {
        let (spec, _) = self.oauth_spec(provider)?;
        let file = self.config.oauth_config(provider);
        let supported =
            |m: &RedirectMode| *m != RedirectMode::Paste || spec.paste_redirect_path.is_some();
        let mode = saved_mode
            .filter(supported)
            .or(file.redirect.filter(supported))
            .unwrap_or(spec.default_redirect);
        Ok((mode, saved_relay.or(file.relay_url)))
    }

    /// Chooses in Settings how a provider's sign-ins come back.
    pub async fn set_sign_in_return(&self, input: SignInReturn) -> Result<VendorApp> {
        let (spec, _) = self.oauth_spec(input.provider)?;
        if input.mode == RedirectMode::Paste && spec.paste_redirect_path.is_none() {
            return Err(Error::validation(format!(
                "{} has no page that shows the code to paste.",
                providers::spec(input.provider).name
            )));
        }
        let relay = input
            .relay_url
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if let Some(r) = relay {
            let ok = url::Url::parse(r).is_ok_and(|u| u.scheme() == "https");
            if !ok {
                return Err(Error::validation("The relay page must be an https address.")
                    .hint("The address you registered with the vendor, where relay/index.html is hosted."));
            }
        }
        self.store
            .put_sign_in_return(input.provider, input.mode, relay)
            .await?;
        self.vendor_apps()
            .await?
            .into_iter()
            .find(|a| a.provider == input.provider)
            .ok_or_else(|| Error::internal("vendor app vanished"))
    }

    /// Saves a vendor app typed in Settings.
    pub async fn save_vendor_app(&self, input: VendorAppInput) -> Result<VendorApp> {
        let provider = input.provider;
        self.save_oauth_app(
            provider,
            &input.client_id,
            Sensitive::new(input.client_secret),
            input
                .api_key
                .filter(|k| !k.trim().is_empty())
                .map(Sensitive::new),
        )
        .await?;
        self.vendor_apps()
            .await?
            .into_iter()
            .find(|a| a.provider == provider)
            .ok_or_else(|| Error::internal("vendor app vanished"))
    }

    /// Starts a sign-in with the vendor's defaults (no utility, scope or vendor picked).
    pub async fn begin_oauth(
        &self,
        customer_id: &str,
        provider: ProviderId,
        redirect: Redirect,
    ) -> Result<OAuthStart> {
        self.begin_sign_in(customer_id, provider, redirect, &SignInOptions::default())
            .await
    }

    /// Onramp's own bearer token at Derapi (client credentials, HTTP Basic).
    pub(crate) async fn derapi_bearer(&self) -> Result<(Endpoints, Sensitive<String>)> {
        let (spec, ep) = self.oauth_spec(ProviderId::Derapi)?;
        let app = self.app_credentials(ProviderId::Derapi).await?;
        let t = vendor_oauth::TokenEndpoint {
            client: &self.http,
            vendor: "Derapi",
            spec,
            endpoints: &ep,
            app: &app,
        }
        .client_credentials()
        .await?;
        Ok((ep, t.access_token))
    }

    /// The Derapi vendor picked for a Join, checked against the list.
    fn derapi_vendor(options: &SignInOptions) -> Result<String> {
        let v = options.vendor.as_deref().map(str::trim).unwrap_or_default();
        if v.is_empty() {
            return Err(Error::validation(
                "Pick the customer's device vendor for Derapi Join.",
            ));
        }
        if providers::derapi::vendor_label(v).is_none() {
            return Err(
                Error::validation(format!("Derapi Join does not offer {v:?}.")).hint(format!(
                    "Pick one of Derapi's vendors: {}.",
                    providers::derapi::VENDORS
                        .iter()
                        .map(|(id, _)| *id)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
        Ok(v.to_string())
    }

    /// The id of the vendor credentials stored at Derapi that a Join for `vendor` names (from
    /// `[oauth.derapi.vendor_credentials]`); an error when the vendor needs one and none is set.
    pub(crate) fn derapi_credentials(&self, vendor: &str) -> Result<Option<String>> {
        let id = self
            .config
            .oauth_config(ProviderId::Derapi)
            .vendor_credentials
            .get(vendor)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if id.is_none() && providers::derapi::NEEDS_CREDENTIALS.contains(&vendor) {
            let label = providers::derapi::vendor_label(vendor).unwrap_or(vendor);
            return Err(Error::new(
                Code::NotConfigured,
                format!("Derapi Join for {label} needs your {label} app's credentials stored at Derapi."),
            )
            .hint(format!(
                "Store them with Derapi (its Create Vendor Credentials call gives an id), then add it to onramp.toml: [oauth.derapi.vendor_credentials] {vendor} = \"<id>\"."
            )));
        }
        Ok(id)
    }

    /// The UtilityAPI utility picked (or the only one configured) and the scope to ask for.
    fn utility_choice(&self, options: &SignInOptions) -> Result<(crate::config::Utility, String)> {
        let utilities = &self.config.utilities;
        let utility = match options
            .utility
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(id) => self.config.utility(id).cloned().ok_or_else(|| {
                Error::validation(format!("Onramp has no utility {id:?} configured.")).hint(
                    format!(
                        "Pick one of: {} (the [[utility]] list in onramp.toml).",
                        utilities
                            .iter()
                            .map(|u| u.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?,
            None => match utilities.as_slice() {
                [only] => only.clone(),
                [] => return Err(Error::new(
                    Code::NotConfigured,
                    "No UtilityAPI utility is configured.",
                )
                .hint(
                    "Add the utility's authorize and token URLs as a [[utility]] in onramp.toml.",
                )),
                _ => return Err(Error::validation("Pick the customer's utility.")),
            },
        };
        let scope = options
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| self.config.oauth_scope(ProviderId::Utilityapi))
            .unwrap_or_else(|| providers::utilityapi::DEFAULT_SCOPE.to_string());
        if !scope.starts_with("FB=")
            || scope.len() > 1024
            || scope.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::validation("That is not a Green Button scope.")
                .hint("A scope looks like FB=4_5_15_46;IntervalDuration=3600;HistoryLength=31536000 (no spaces)."));
        }
        Ok((utility, scope))
    }

    /// Starts a sign-in: records the pending authorization and returns the URL to open.
    pub async fn begin_sign_in(
        &self,
        customer_id: &str,
        provider: ProviderId,
        redirect: Redirect,
        options: &SignInOptions,
    ) -> Result<OAuthStart> {
        self.begin_sign_in_for(customer_id, provider, redirect, options, None)
            .await
    }

    /// Re-authorization: the customer signs in again for an existing connection (its grant was
    /// revoked or expired). The same choices as the first time (utility, scope, device vendor);
    /// the answer renews this connection in place: same id, sites kept, an event that says so.
    pub async fn begin_reauthorize(
        &self,
        connection_id: &str,
        redirect: Redirect,
    ) -> Result<OAuthStart> {
        let conn = self.store.connection(connection_id).await?;
        if conn.kind != CredentialKind::Oauth {
            return Err(Error::validation(
                "Only connections made by the customer signing in can be re-authorized.",
            )
            .hint("For a key, enter the new key with Connect."));
        }
        let options = SignInOptions {
            utility: conn.details.utility.clone(),
            scope: conn.details.scope_requested.clone(),
            vendor: conn.details.vendor.clone(),
        };
        self.begin_sign_in_for(
            &conn.customer_id,
            conn.provider,
            redirect,
            &options,
            Some(&conn.id),
        )
        .await
    }

    async fn begin_sign_in_for(
        &self,
        customer_id: &str,
        provider: ProviderId,
        redirect: Redirect,
        options: &SignInOptions,
        connection_id: Option<&str>,
    ) -> Result<OAuthStart> {
        let customer = self.store.customer(customer_id).await?;
        let (spec, mut ep) = self.oauth_spec(provider)?;
        let app = self.app_credentials(provider).await?;
        let (redirect_uri, mode) = match redirect {
            Redirect::Loopback(uri) => (uri, RedirectMode::Loopback),
            Redirect::DeepLink => {
                let (_, relay) = self.sign_in_return(provider).await?;
                (
                    relay.unwrap_or_else(|| DEEP_LINK.to_string()),
                    RedirectMode::DeepLink,
                )
            }
            Redirect::Paste => {
                let path = spec.paste_redirect_path.ok_or_else(|| {
                    Error::validation(format!(
                        "{} has no page that shows the code; use the browser return (loopback) or the deep link.",
                        providers::spec(provider).name
                    ))
                })?;
                // The vendor's code page lives on its authorize host.
                let page = url::Url::parse(&ep.authorize_url)
                    .and_then(|u| u.join(path))
                    .map_err(|e| {
                        Error::new(
                            Code::NotConfigured,
                            format!("The authorize URL is not valid: {e}"),
                        )
                    })?;
                (page.to_string(), RedirectMode::Paste)
            }
        };
        // What must exist before the browser opens, and what the completion needs to know.
        let mut details = ConnectionDetails::default();
        let mut scope = self
            .config
            .oauth_scope(provider)
            .unwrap_or_else(|| spec.scopes.to_string());
        let mut pelm_token = None;
        let mut derapi_flow = None;
        match provider {
            ProviderId::Utilityapi => {
                let (utility, asked) = self.utility_choice(options)?;
                ep = utility.endpoints();
                details.utility = Some(utility.id.clone());
                details.utility_name = Some(utility.name.clone());
                details.scope_requested = Some(asked.clone());
                scope = asked;
            }
            ProviderId::Pelm => {
                let existing = self
                    .store
                    .find_connection(&customer.id, ProviderId::Pelm, CredentialKind::Oauth)
                    .await?;
                let utility = options
                    .utility
                    .as_deref()
                    .map(str::trim)
                    .filter(|u| !u.is_empty());
                pelm_token = Some(
                    providers::pelm::connect_token(
                        &self.http,
                        &ep.api_url,
                        &app,
                        &customer.id,
                        utility,
                    )
                    .await?,
                );
                details.user_id = Some(customer.id.clone());
                details.mode = Some(
                    if existing.is_some() {
                        "update"
                    } else {
                        "create"
                    }
                    .into(),
                );
            }
            ProviderId::Derapi => {
                let vendor = Self::derapi_vendor(options)?;
                let credentials = self.derapi_credentials(&vendor)?;
                let (_, bearer) = self.derapi_bearer().await?;
                let program = self.config.oauth_config(provider).program_id;
                let flow = providers::derapi::create_flow(
                    &self.http,
                    &ep.api_url,
                    &bearer,
                    &redirect_uri,
                    &vendor,
                    credentials.as_deref(),
                    program.as_deref(),
                )
                .await?;
                details.vendor = Some(vendor);
                details.flow_id = Some(flow.clone());
                derapi_flow = Some(flow);
            }
            _ => {}
        }
        let now = self.now();
        let begun = Authorizations::new(&self.store, &self.vault)
            .begin(
                &BeginRequest {
                    provider,
                    customer_id: &customer.id,
                    connection_id,
                    redirect_uri: &redirect_uri,
                    ttl: DEFAULT_TTL,
                    details: (!details.is_empty())
                        .then(|| serde_json::to_string(&details).unwrap_or_default()),
                },
                now,
            )
            .await?;
        let authorize_url = match provider {
            ProviderId::Pelm => providers::pelm::connect_url(
                &ep.authorize_url,
                &redirect_uri,
                pelm_token
                    .as_ref()
                    .map(|t| t.expose().as_str())
                    .unwrap_or_default(),
                &begun.state,
            )?,
            ProviderId::Derapi => providers::derapi::flow_authorize_url(
                &ep.api_url,
                derapi_flow.as_deref().unwrap_or_default(),
                details.vendor.as_deref().unwrap_or_default(),
                &begun.state,
            )?,
            _ => vendor_oauth::authorize_url(
                spec,
                &ep,
                &app.client_id,
                &redirect_uri,
                &begun.state,
                &begun.challenge,
                &scope,
            )?,
        };
        Ok(OAuthStart {
            provider,
            authorize_url,
            redirect_uri,
            mode,
            state: begun.state,
            expires_at: rfc3339(begun.expires_at),
        })
    }

    /// Completes a sign-in from a callback URL (deep link, loopback, relay).
    pub async fn complete_oauth(
        &self,
        url: &str,
        expected: Option<ProviderId>,
    ) -> Result<Connection> {
        let cb = parse_url(url)?;
        self.finish(cb, expected).await
    }

    /// Completes the sign-in `state` with what the installer pasted: the final URL or the bare code.
    pub async fn complete_pasted(&self, state: &str, pasted: &str) -> Result<Connection> {
        let cb = match parse_pasted(pasted)? {
            Pasted::Url(mut cb) => {
                match cb.state.as_deref() {
                    None => cb.state = Some(state.to_string()),
                    Some(s) if s == state => {}
                    Some(_) => return Err(Error::validation(
                        "That address belongs to another sign-in.",
                    )
                    .hint("Paste the address from the sign-in you just started, or start again.")),
                }
                cb
            }
            Pasted::BareCode(code) => Callback {
                state: Some(state.to_string()),
                issuer: None,
                outcome: Outcome::Code {
                    code,
                    extra: BTreeMap::new(),
                },
            },
        };
        self.finish(cb, None).await
    }

    async fn finish(&self, cb: Callback, expected: Option<ProviderId>) -> Result<Connection> {
        let now = self.now();
        let auth = Authorizations::new(&self.store, &self.vault);
        auth.check_issuer(&cb, |p| self.config.oauth_issuer(p))
            .await?;
        let done = auth.complete(&cb, expected, now).await?;
        let details: ConnectionDetails = match done.details.as_deref() {
            None => ConnectionDetails::default(),
            Some(d) => serde_json::from_str(d).map_err(|e| {
                Error::storage(format!("The sign-in's saved details are unreadable ({e})."))
            })?,
        };
        match done.provider {
            ProviderId::Pelm => return self.finish_pelm(&done, details).await,
            ProviderId::Derapi => return self.finish_derapi(&done, details).await,
            _ => {}
        }
        let provider = done.provider;
        let name = providers::spec(provider).name;
        let (spec, mut ep) = self.oauth_spec(provider)?;
        let mut details = details;
        if provider == ProviderId::Utilityapi {
            let id = details.utility.clone().unwrap_or_default();
            ep = self
                .config
                .utility(&id)
                .ok_or_else(|| {
                    Error::new(
                        Code::NotConfigured,
                        format!("The utility {id:?} is no longer configured."),
                    )
                    .hint("Add it back to onramp.toml, then start again.")
                })?
                .endpoints();
        }
        let app = self.app_credentials(provider).await?;
        let tokens = vendor_oauth::TokenEndpoint {
            client: &self.http,
            vendor: name,
            spec,
            endpoints: &ep,
            app: &app,
        }
        .exchange_code(&done.code, &done.redirect_uri, &done.verifier)
        .await?;
        // Usage that comes with the grant (Green Button, Metry), stored with the connection.
        let mut usage: Option<(String, Vec<crate::store::NewSeries>)> = None;
        let mut usage_error: Option<Error> = None;
        let sites = match provider {
            ProviderId::Utilityapi => {
                super::refresh::grant_uris(&tokens, &ep.token_url, &mut details)?;
                let resource = tokens.resource_uri.clone().ok_or_else(|| {
                    Error::new(
                        Code::VendorError,
                        "UtilityAPI did not say where the customer's data is (no resourceURI).",
                    )
                    .hint("Start again; if it persists, contact UtilityAPI support.")
                })?;
                match self
                    .green_button_feed(&resource, &ep.token_url, &tokens.access_token)
                    .await
                {
                    Ok(feed) => {
                        let sites = usage_points(&feed);
                        usage = Some((
                            format!(
                                "UtilityAPI ({})",
                                details.utility_name.clone().unwrap_or_default()
                            ),
                            crate::usage::to_series(&feed, "utilityapi"),
                        ));
                        sites
                    }
                    Err(e) => {
                        usage_error = Some(e);
                        Vec::new()
                    }
                }
            }
            ProviderId::Metry => {
                let (sites, series, account) =
                    self.metry_usage(&ep.api_url, &tokens.access_token).await?;
                if let Some(a) = account {
                    details.account = Some(a);
                }
                usage = Some(("Metry".into(), series));
                sites
            }
            _ => {
                vendor_oauth::discover(
                    &self.http,
                    provider,
                    &ep,
                    &app,
                    &tokens.access_token,
                    &done.extra,
                )
                .await?
            }
        };
        if sites.is_empty() && usage_error.is_none() {
            return Err(Error::new(
                Code::VendorRejected,
                format!("{name} says this account has no {}s.", providers::spec(provider).site_noun),
            )
            .hint(format!("Ask the customer to sign in to the {name} app once and check the system is registered, then connect again.")));
        }
        let at = |secs: Option<i64>| secs.map(|s| rfc3339(now + time::Duration::seconds(s)));
        let refresh_expires = tokens
            .refresh_expires_in
            .or(tokens.refresh_token.as_ref().and(spec.refresh_lifetime));
        if let Some(id) = &done.connection_id {
            return self
                .renew(
                    id,
                    &done.customer_id,
                    provider,
                    &tokens,
                    (at(tokens.expires_in), at(refresh_expires), rfc3339(now)),
                    details,
                    usage,
                )
                .await;
        }
        let id = self
            .save_connection(&NewConnection {
                id: new_id(),
                customer_id: &done.customer_id,
                provider,
                kind: CredentialKind::Oauth,
                credential_hint: None,
                secrets: Some(Grant::secrets(
                    &tokens.access_token,
                    tokens.refresh_token.as_ref(),
                )),
                sites: &sites,
                scopes: tokens.scope.clone().or_else(|| {
                    details
                        .scope_requested
                        .as_ref()
                        .cloned()
                        .or_else(|| self.config.oauth_scope(provider).filter(|s| !s.is_empty()))
                }),
                access_expires_at: at(tokens.expires_in),
                refresh_expires_at: at(refresh_expires),
                tokens_issued_at: Some(rfc3339(now)),
                details,
            })
            .await?;
        let conn = self.store.connection(&id).await?;
        if let Some((source, series)) = usage {
            self.store_usage(&conn.customer_id, Some(&conn.id), &source, &series)
                .await?;
        }
        if let Some(e) = usage_error {
            // The grant is kept (the customer need not sign in again); the usage can be fetched again.
            self.store
                .record_check(&conn.id, Some(&e.info()), &[], self.actor)
                .await?;
            return self.store.connection(&conn.id).await;
        }
        Ok(conn)
    }

    /// A re-authorization's answer for an existing connection: the new tokens replace the old
    /// in the keyring (the pair in one write), the grant's facts are updated, the sites are kept.
    #[allow(clippy::too_many_arguments)]
    async fn renew(
        &self,
        connection_id: &str,
        customer_id: &str,
        provider: ProviderId,
        tokens: &vendor_oauth::Tokens,
        (access_expires, refresh_expires, issued): (Option<String>, Option<String>, String),
        details: ConnectionDetails,
        usage: Option<(String, Vec<crate::store::NewSeries>)>,
    ) -> Result<Connection> {
        let conn = self.store.connection(connection_id).await?;
        if conn.customer_id != customer_id || conn.provider != provider {
            return Err(Error::validation(
                "This sign-in was for another connection; nothing was changed.",
            ));
        }
        // An answer without a refresh token keeps the one the connection had.
        let kept = match (
            &tokens.refresh_token,
            self.store.connection_secrets(&conn.id).await?,
        ) {
            (None, Some(row)) => self
                .vault
                .open(
                    &crate::store::connection_aad(&conn.id, row.generation),
                    &row.sealed,
                )
                .await
                .ok()
                .and_then(|s| s.get(REFRESH_TOKEN).cloned()),
            _ => None,
        };
        let secrets = Grant::secrets(
            &tokens.access_token,
            tokens.refresh_token.as_ref().or(kept.as_ref()),
        );
        let mut merged = conn.details.clone();
        merged.merge(details);
        let name = providers::spec(provider).name;
        self.store
            .update_grant(
                &crate::store::NewGrant {
                    connection_id: &conn.id,
                    scopes: tokens.scope.as_deref(),
                    access_expires_at: access_expires.as_deref(),
                    refresh_expires_at: refresh_expires.as_deref(),
                    tokens_issued_at: Some(&issued),
                    details: Some(&merged),
                    sites: None,
                    secrets: &secrets,
                },
                &self.vault,
                Some(crate::store::NewEvent {
                    customer_id: Some(customer_id),
                    connection_id: Some(&conn.id),
                    provider: Some(provider),
                    kind: crate::model::EventKind::Reauthorized,
                    summary: format!(
                        "{name} re-authorized by the customer{}",
                        tokens
                            .scope
                            .as_deref()
                            .map(|s| format!(" (scope {s})"))
                            .unwrap_or_default()
                    ),
                    actor: self.actor,
                }),
            )
            .await?;
        if let Some((source, series)) = usage {
            self.store_usage(customer_id, Some(&conn.id), &source, &series)
                .await?;
        }
        self.store.connection(&conn.id).await
    }

    /// Pelm: the Connect code for the customer's access token; their accounts as the sites.
    /// A second Connect for the same customer (Pelm's update mode) renews the same connection.
    async fn finish_pelm(
        &self,
        done: &crate::auth::Completed,
        details: ConnectionDetails,
    ) -> Result<Connection> {
        let (_, ep) = self.oauth_spec(ProviderId::Pelm)?;
        let app = self.app_credentials(ProviderId::Pelm).await?;
        let access = providers::pelm::exchange(&self.http, &ep.api_url, &app, &done.code).await?;
        let sites = providers::pelm::accounts(&self.http, &ep.api_url, &app, &access).await?;
        if sites.is_empty() {
            return Err(Error::new(
                Code::VendorRejected,
                "Pelm found no utility accounts for this customer.",
            )
            .hint("Ask the customer to check their utility sign-in, then connect again."));
        }
        let existing = self
            .store
            .find_connection(&done.customer_id, ProviderId::Pelm, CredentialKind::Oauth)
            .await?;
        if let Some(id) = existing {
            if self.store.connection_secrets(&id).await?.is_some() {
                self.store
                    .update_grant(
                        &crate::store::NewGrant {
                            connection_id: &id,
                            scopes: None,
                            access_expires_at: None,
                            refresh_expires_at: None,
                            tokens_issued_at: Some(&rfc3339(self.now())),
                            details: Some(&details),
                            sites: Some(&sites),
                            secrets: &Grant::secrets(&access, None),
                        },
                        &self.vault,
                        Some(crate::store::NewEvent {
                            customer_id: Some(&done.customer_id),
                            connection_id: Some(&id),
                            provider: Some(ProviderId::Pelm),
                            kind: crate::model::EventKind::Reauthorized,
                            summary: format!(
                                "Pelm connection updated: {} account{}",
                                sites.len(),
                                if sites.len() == 1 { "" } else { "s" }
                            ),
                            actor: self.actor,
                        }),
                    )
                    .await?;
                return self.store.connection(&id).await;
            }
        }
        let id = self
            .save_connection(&NewConnection {
                id: new_id(),
                customer_id: &done.customer_id,
                provider: ProviderId::Pelm,
                kind: CredentialKind::Oauth,
                credential_hint: None,
                secrets: Some(Grant::secrets(&access, None)),
                sites: &sites,
                scopes: None,
                // Pelm's access token does not expire.
                access_expires_at: None,
                refresh_expires_at: None,
                tokens_issued_at: None,
                details,
            })
            .await?;
        self.store.connection(&id).await
    }

    /// The sites Derapi sees for one vendor (and one enrollment, when Derapi names it).
    pub(crate) async fn derapi_sites(
        &self,
        vendor: &str,
        enrollment: Option<&str>,
    ) -> Result<Vec<providers::VendorSite>> {
        let (ep, bearer) = self.derapi_bearer().await?;
        let all = providers::derapi::sites(&self.http, &ep.api_url, &bearer, Some(vendor)).await?;
        Ok(all
            .into_iter()
            .filter(|s| s.vendor.as_deref().is_none_or(|v| v == vendor))
            .filter(|s| match (enrollment, s.enrollment_id.as_deref()) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            })
            .map(|s| s.site)
            .collect())
    }

    /// Derapi Join came back: Derapi holds the vendor's credentials; Onramp lists the sites.
    async fn finish_derapi(
        &self,
        done: &crate::auth::Completed,
        mut details: ConnectionDetails,
    ) -> Result<Connection> {
        let vendor = details.vendor.clone().unwrap_or_default();
        let enrollment = done.extra.get("enrollmentID").cloned();
        if let Some(e) = &enrollment {
            details.enrollment_id = Some(e.clone());
        }
        let sites = self.derapi_sites(&vendor, enrollment.as_deref()).await?;
        self.store_derapi(&done.customer_id, &vendor, sites, details, None)
            .await
    }

    /// Stores a Derapi enrollment (a Join session's tokens, if any, go to the vault).
    pub(crate) async fn store_derapi(
        &self,
        customer_id: &str,
        vendor: &str,
        sites: Vec<providers::VendorSite>,
        details: ConnectionDetails,
        tokens: Option<(&Sensitive<String>, Option<&Sensitive<String>>)>,
    ) -> Result<Connection> {
        let label = providers::derapi::vendor_label(vendor).unwrap_or(vendor);
        if sites.is_empty() {
            return Err(Error::new(
                Code::VendorRejected,
                format!("Derapi does not see any {label} site for this enrollment yet."),
            )
            .hint("Ask the customer whether the Join finished at the vendor, then start again."));
        }
        let id = self
            .save_connection(&NewConnection {
                id: new_id(),
                customer_id,
                provider: ProviderId::Derapi,
                kind: CredentialKind::Oauth,
                credential_hint: Some(format!("via Derapi: {label}")),
                secrets: tokens.map(|(access, refresh)| Grant::secrets(access, refresh)),
                sites: &sites,
                scopes: None,
                access_expires_at: None,
                refresh_expires_at: None,
                tokens_issued_at: None,
                details,
            })
            .await?;
        self.store.connection(&id).await
    }

    /// Asks the vendor again with the stored access token.
    pub(super) async fn check_oauth_connection(&self, conn: Connection) -> Result<Connection> {
        let known = || {
            conn.sites
                .iter()
                .map(|s| providers::VendorSite {
                    external_id: s.external_id.clone(),
                    name: s.name.clone(),
                    address: s.address.clone(),
                    peak_power_kw: s.peak_power_kw,
                    status: s.status.clone(),
                })
                .collect::<Vec<_>>()
        };
        match conn.provider {
            ProviderId::Derapi => {
                let vendor = conn.details.vendor.clone().unwrap_or_default();
                let found = self
                    .derapi_sites(&vendor, conn.details.enrollment_id.as_deref())
                    .await;
                return self.record_check(&conn.id, found).await;
            }
            ProviderId::Utilityapi => {
                let found = self.utilityapi_authorization(&conn).await.map(|_| known());
                return self.record_check(&conn.id, found).await;
            }
            _ => {}
        }
        // An access token that has expired (or is about to) is renewed first: the vendor would
        // refuse it, and that refusal says nothing about the connection.
        let conn = match crate::lifecycle::due(&conn, self.now(), self.lifecycle.policy()) {
            Some(crate::lifecycle::Due::Access) => match self.refresh_connection(&conn.id).await {
                Ok(renewed) => renewed,
                // The refusal is recorded on the connection (needs the customer, or the
                // company's app): that is the check's answer.
                Err(e)
                    if e.code == Code::ReauthRequired
                        || e.token_error
                            .is_some_and(crate::error::TokenError::app_refused) =>
                {
                    return self.store.connection(&conn.id).await;
                }
                // Nothing to renew with (no refresh token): the vendor judges the token it has.
                Err(e) if e.code == Code::Validation => conn,
                // A transient failure (network, rate limit, another holder): nothing changed.
                Err(e) => return Err(e),
            },
            _ => conn,
        };
        let access = self.access_token(&conn.id).await?;
        let (_, ep) = self.oauth_spec(conn.provider)?;
        let app = self.app_credentials(conn.provider).await?;
        let mut extra = BTreeMap::new();
        if let Some(first) = conn.sites.first() {
            extra.insert("site_id".to_string(), first.external_id.clone());
        }
        let found = match conn.provider {
            ProviderId::Pelm => {
                providers::pelm::accounts(&self.http, &ep.api_url, &app, &access).await
            }
            ProviderId::Metry => providers::metry::meters(&self.http, &ep.api_url, &access)
                .await
                .map(|m| m.into_iter().map(|m| m.site).collect()),
            _ => {
                vendor_oauth::discover(&self.http, conn.provider, &ep, &app, &access, &extra).await
            }
        };
        self.record_check(&conn.id, found).await
    }
}
