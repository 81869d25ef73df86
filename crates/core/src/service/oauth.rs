//! Enrollment through the vendor's sign-in: begin (PKCE + state + authorize URL), complete
//! (untrusted callback -> pending authorization -> code exchange -> tokens in the vault ->
//! sites discovered -> connection stored), and the vendor app credentials it needs.

use std::collections::BTreeMap;

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
            .put_oauth_app(provider, client_id, &self.vault, &secrets, self.actor)
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
        let bearer = providers::derapi::app_bearer(&self.http, spec, &ep, &app).await?;
        Ok((ep, bearer))
    }

    /// The Derapi vendor picked for a Join, checked against the list.
    fn derapi_vendor(options: &SignInOptions) -> Result<String> {
        providers::derapi::chosen_vendor(options)
    }

    /// The id of the vendor credentials stored at Derapi that a Join for `vendor` names.
    pub(crate) fn derapi_credentials(&self, vendor: &str) -> Result<Option<String>> {
        providers::derapi::stored_credentials(&self.config, vendor)
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
            utility: conn.details.get("utility").cloned(),
            scope: conn.details.get("scope_requested").cloned(),
            vendor: conn.details.get("vendor").cloned(),
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
        let vendor = providers::vendor(provider);
        let existing = self
            .store
            .find_connection(&customer.id, provider, CredentialKind::Oauth)
            .await?
            .is_some();
        let prepared = vendor
            .prepare_sign_in(providers::SignInPrep {
                client: &self.http,
                config: &self.config,
                spec,
                endpoints: &ep,
                app: &app,
                customer_id: &customer.id,
                options,
                redirect_uri: &redirect_uri,
                existing,
            })
            .await?;
        if let Some(own) = prepared.endpoints {
            ep = own;
        }
        let scope = prepared.scope.unwrap_or_else(|| {
            self.config
                .oauth_scope(provider)
                .unwrap_or_else(|| spec.scopes.to_string())
        });
        let details = prepared.details;
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
        let authorize_url = vendor.authorize_url(providers::AuthorizeRequest {
            spec,
            endpoints: &ep,
            app: &app,
            redirect_uri: &redirect_uri,
            state: &begun.state,
            challenge: &begun.challenge,
            scope: &scope,
            details: &details,
            ticket: prepared.ticket.as_ref(),
        })?;
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
        match self.paste(state, pasted).await {
            PasteOutcome::Finished(result) => result,
            PasteOutcome::Unreadable(e) => Err(e),
        }
    }

    /// Completes the sign-in `state` with a paste, saying whether the sign-in is over: a paste
    /// that is not this sign-in's answer (empty, malformed, another sign-in's address) changes
    /// nothing, and the installer may paste again.
    pub async fn paste(&self, state: &str, pasted: &str) -> PasteOutcome {
        match pasted_callback(state, pasted) {
            Ok(cb) => PasteOutcome::Finished(self.finish(cb, None).await),
            Err(e) => PasteOutcome::Unreadable(e),
        }
    }

    async fn finish(&self, cb: Callback, expected: Option<ProviderId>) -> Result<Connection> {
        let now = self.now();
        let auth = Authorizations::new(&self.store, &self.vault);
        auth.check_issuer(&cb, |p| self.config.oauth_issuer(p))
            .await?;
        let done = auth.complete(&cb, expected, now).await?;
        let details: BTreeMap<String, String> = done
            .details
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let provider = done.provider;
        let vendor = providers::vendor(provider);
        let name = vendor.spec().name;
        let (spec, configured) = self.oauth_spec(provider)?;
        let app = self.app_credentials(provider).await?;
        let answer = providers::Answer {
            client: &self.http,
            spec,
            endpoints: &configured,
            app: &app,
            code: &done.code,
            extra: &done.extra,
            details: &details,
        };
        if let Some(complete) = vendor.complete_hosted(answer) {
            let hosted = complete.await?;
            return self.store_hosted(&done.customer_id, provider, hosted).await;
        }
        let mut details = details;
        let ep = vendor.grant_endpoints(&self.config, &details, configured)?;
        let tokens = vendor_oauth::TokenEndpoint {
            client: &self.http,
            vendor: name,
            spec,
            endpoints: &ep,
            app: &app,
        }
        .exchange_code(&done.code, &done.redirect_uri, &done.verifier)
        .await?;
        vendor.check_grant(&tokens)?;
        // Where an ESPI grant keeps the customer's data (UtilityAPI), on the token's host.
        super::refresh::grant_uris(&tokens, &ep.token_url, &mut details)?;
        // Usage that comes with the grant (Green Button, Metry), stored with the connection.
        let mut usage: Option<(String, Vec<crate::store::NewSeries>)> = None;
        let mut usage_error: Option<Error> = None;
        let request = providers::UsageRequest {
            client: &self.http,
            endpoints: &ep,
            access: &tokens.access_token,
            details: &details,
            year: now.year(),
        };
        let fetched = match vendor.usage(request) {
            Some(fetch) => Some(fetch.await),
            None => None,
        };
        let sites = match fetched {
            Some(fetched) => match fetched {
                Ok(u) => {
                    if let Some(a) = u.account {
                        details.insert("account".into(), a);
                    }
                    usage = Some((u.source, u.series));
                    u.sites
                }
                Err(e) if vendor.grant_outlives_usage() => {
                    usage_error = Some(e);
                    Vec::new()
                }
                Err(e) => return Err(e),
            },
            None => {
                vendor
                    .discover(providers::Discovery {
                        client: &self.http,
                        endpoints: &ep,
                        app: &app,
                        access: &tokens.access_token,
                        extra: &done.extra,
                    })
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
        let id =
            self.store
                .insert_connection(
                    &NewConnection {
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
                            details.get("scope_requested").cloned().or_else(|| {
                                self.config.oauth_scope(provider).filter(|s| !s.is_empty())
                            })
                        }),
                        access_expires_at: at(tokens.expires_in),
                        refresh_expires_at: at(refresh_expires),
                        tokens_issued_at: Some(rfc3339(now)),
                        details,
                    },
                    &self.vault,
                    self.actor,
                )
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
        mut details: BTreeMap<String, String>,
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
        merged.append(&mut details);
        let name = providers::spec(provider).name;
        self.store
            .update_grant(
                &conn.id,
                tokens.scope.as_deref(),
                access_expires.as_deref(),
                refresh_expires.as_deref(),
                Some(&issued),
                Some(&merged),
                None,
                (&self.vault, &secrets),
                Some(crate::store::NewEvent {
                    customer_id: Some(customer_id),
                    connection_id: Some(&conn.id),
                    provider: Some(provider),
                    kind: "reauthorized",
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

    /// Writes what a hosted sign-in gave: a new connection, or the customer's signed-in one
    /// renewed in place where the vendor renews (Pelm's update mode).
    async fn store_hosted(
        &self,
        customer_id: &str,
        provider: ProviderId,
        hosted: providers::Hosted,
    ) -> Result<Connection> {
        let secrets = hosted.access.as_ref().map(|a| Grant::secrets(a, None));
        if let Some(summary) = hosted.renewal {
            let existing = self
                .store
                .find_connection(customer_id, provider, CredentialKind::Oauth)
                .await?;
            if let (Some(id), Some(secrets)) = (existing, secrets.as_ref()) {
                if self.store.connection_secrets(&id).await?.is_some() {
                    self.store
                        .update_grant(
                            &id,
                            None,
                            None,
                            None,
                            Some(&rfc3339(self.now())),
                            Some(&hosted.details),
                            Some(&hosted.sites),
                            (&self.vault, secrets),
                            Some(crate::store::NewEvent {
                                customer_id: Some(customer_id),
                                connection_id: Some(&id),
                                provider: Some(provider),
                                kind: "reauthorized",
                                summary,
                                actor: self.actor,
                            }),
                        )
                        .await?;
                    return self.store.connection(&id).await;
                }
            }
        }
        let id = self
            .store
            .insert_connection(
                &NewConnection {
                    id: new_id(),
                    customer_id,
                    provider,
                    kind: CredentialKind::Oauth,
                    credential_hint: hosted.credential_hint,
                    secrets,
                    sites: &hosted.sites,
                    scopes: None,
                    // A hosted sign-in's access token does not expire (Pelm), or there is none.
                    access_expires_at: None,
                    refresh_expires_at: None,
                    tokens_issued_at: None,
                    details: hosted.details,
                },
                &self.vault,
                self.actor,
            )
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
        providers::derapi::vendor_sites(&self.http, &ep.api_url, &bearer, vendor, enrollment).await
    }

    /// Stores a Derapi enrollment (a Join session's tokens, if any, go to the vault).
    pub(crate) async fn store_derapi(
        &self,
        customer_id: &str,
        vendor: &str,
        sites: Vec<providers::VendorSite>,
        details: BTreeMap<String, String>,
        tokens: Option<(&Sensitive<String>, Option<&Sensitive<String>>)>,
    ) -> Result<Connection> {
        let label = providers::derapi::vendor_label(vendor).unwrap_or(vendor);
        if sites.is_empty() {
            return Err(providers::derapi::no_sites(label));
        }
        let id = self
            .store
            .insert_connection(
                &NewConnection {
                    id: new_id(),
                    customer_id,
                    provider: ProviderId::Derapi,
                    kind: CredentialKind::Oauth,
                    credential_hint: Some(providers::derapi::hint(label)),
                    secrets: tokens.map(|(access, refresh)| Grant::secrets(access, refresh)),
                    sites: &sites,
                    scopes: None,
                    access_expires_at: None,
                    refresh_expires_at: None,
                    tokens_issued_at: None,
                    details,
                },
                &self.vault,
                self.actor,
            )
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
        let vendor = providers::vendor(conn.provider);
        if vendor.checks_with_app() {
            let found = async {
                let (spec, configured) = self.oauth_spec(conn.provider)?;
                let endpoints = vendor.grant_endpoints(&self.config, &conn.details, configured)?;
                let app = self.app_credentials(conn.provider).await?;
                vendor
                    .check_with_app(providers::AppCheck {
                        client: &self.http,
                        spec,
                        endpoints: &endpoints,
                        app: &app,
                        details: &conn.details,
                        known: known(),
                    })
                    .await
            }
            .await;
            return self.record_check(&conn.id, found).await;
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
        let found = providers::vendor(conn.provider)
            .discover(providers::Discovery {
                client: &self.http,
                endpoints: &ep,
                app: &app,
                access: &access,
                extra: &extra,
            })
            .await;
        self.record_check(&conn.id, found).await
    }
}

/// What a paste means for the sign-in `state`.
#[derive(Debug)]
// Returned once and matched at once, never stored: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum PasteOutcome {
    /// The sign-in is over: connected, or refused for good.
    Finished(Result<Connection>),
    /// Not this sign-in's answer; the sign-in still waits for one.
    Unreadable(Error),
}

/// The callback a paste stands for, read once: the final URL (its `state` must be this
/// sign-in's, or absent), or the bare code a vendor's page showed.
fn pasted_callback(state: &str, pasted: &str) -> Result<Callback> {
    Ok(match parse_pasted(pasted)? {
        Pasted::Url(mut cb) => {
            match cb.state.as_deref() {
                None => cb.state = Some(state.to_string()),
                Some(s) if s == state => {}
                Some(_) => {
                    return Err(
                        Error::validation("That address belongs to another sign-in.").hint(
                            "Paste the address from the sign-in you just started, or start again.",
                        ),
                    )
                }
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
    })
}
