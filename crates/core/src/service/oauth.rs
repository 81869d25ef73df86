//! Enrollment through the vendor's sign-in: begin (PKCE + state + authorize URL), complete
//! (untrusted callback -> pending authorization -> code exchange -> tokens in the vault ->
//! sites discovered -> connection stored), and the vendor app credentials it needs.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::{Onramp, ACCESS_TOKEN, REFRESH_TOKEN};
use crate::auth::callback::{parse_pasted, parse_url, Callback, Outcome, Pasted, DEEP_LINK};
use crate::auth::{Authorizations, BeginRequest, DEFAULT_TTL};
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::providers;
use crate::providers::oauth::{self as vendor_oauth, AppCredentials, Endpoints, OAuthSpec};
use crate::store::{rfc3339, NewConnection};
use crate::vault::Sensitive;

fn app_ref(provider: ProviderId) -> String {
    format!("app/{}", provider.as_str())
}

const CLIENT_SECRET: &str = "client_secret";
const APP_API_KEY: &str = "api_key";

/// What the caller wants the redirect to be.
pub enum Redirect {
    /// The caller bound a loopback listener: its exact URI.
    Loopback(String),
    DeepLink,
    Paste,
}

impl Onramp {
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
        let name = providers::spec(provider).name;
        let not_set = || {
            Error::new(Code::NotConfigured, format!("Onramp's {name} app is not set up on this laptop."))
                .hint(format!(
                    "Enter the {name} client id and secret your company registered (Settings → Vendor apps, or `onramp app set {}`).",
                    provider.as_str()
                ))
        };
        let row = self.store.oauth_app(provider).await?.ok_or_else(not_set)?;
        let base = app_ref(provider);
        let client_secret = self
            .vault
            .get(&format!("{base}/{CLIENT_SECRET}"))
            .await?
            .ok_or_else(not_set)?;
        let api_key = self.vault.get(&format!("{base}/{APP_API_KEY}")).await?;
        Ok(AppCredentials {
            client_id: row,
            client_secret,
            api_key,
        })
    }

    /// Saves a vendor app registration: the client id in the store, the secrets in the vault.
    pub async fn save_oauth_app(
        &self,
        provider: ProviderId,
        client_id: &str,
        client_secret: Sensitive<String>,
        api_key: Option<Sensitive<String>>,
    ) -> Result<()> {
        let (spec, _) = self.oauth_spec(provider)?;
        let client_id = client_id.trim();
        if client_id.is_empty() || client_secret.expose().trim().is_empty() {
            return Err(Error::validation(
                "Enter both the client id and the client secret.",
            ));
        }
        if spec.needs_api_key
            && api_key
                .as_ref()
                .is_none_or(|k| k.expose().trim().is_empty())
        {
            return Err(Error::validation("Enphase apps also need their API key."));
        }
        let base = app_ref(provider);
        self.vault
            .put(&format!("{base}/{CLIENT_SECRET}"), &client_secret)
            .await?;
        if let Some(k) = &api_key {
            self.vault.put(&format!("{base}/{APP_API_KEY}"), k).await?;
        }
        self.store
            .put_oauth_app(provider, client_id, self.actor)
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
                    Some(c) => (Some(c), "settings"),
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
        let (spec, _) = self.oauth_spec(provider)?;
        let (saved_mode, saved_relay) = self.store.sign_in_return(provider).await?;
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

    /// Starts a sign-in: records the pending authorization and returns the URL to open.
    pub async fn begin_oauth(
        &self,
        customer_id: &str,
        provider: ProviderId,
        redirect: Redirect,
    ) -> Result<OAuthStart> {
        let customer = self.store.customer(customer_id).await?;
        let (spec, ep) = self.oauth_spec(provider)?;
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
                (
                    format!("{}{path}", ep.authorize_url.trim_end_matches('/')),
                    RedirectMode::Paste,
                )
            }
        };
        let now = OffsetDateTime::now_utc();
        let begun = Authorizations::new(&self.store, &self.vault)
            .begin(
                &BeginRequest {
                    provider,
                    customer_id: &customer.id,
                    connection_id: None,
                    redirect_uri: &redirect_uri,
                    ttl: DEFAULT_TTL,
                },
                now,
            )
            .await?;
        let authorize_url = vendor_oauth::authorize_url(
            spec,
            &ep,
            &app.client_id,
            &redirect_uri,
            &begun.state,
            &begun.challenge,
        )?;
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
                outcome: Outcome::Code {
                    code,
                    extra: BTreeMap::new(),
                },
            },
        };
        self.finish(cb, None).await
    }

    async fn finish(&self, cb: Callback, expected: Option<ProviderId>) -> Result<Connection> {
        let now = OffsetDateTime::now_utc();
        let done = Authorizations::new(&self.store, &self.vault)
            .complete(&cb, expected, now)
            .await?;
        let provider = done.provider;
        let name = providers::spec(provider).name;
        let (spec, ep) = self.oauth_spec(provider)?;
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
        let sites = vendor_oauth::discover(
            &self.http,
            provider,
            &ep,
            &app,
            &tokens.access_token,
            &done.extra,
        )
        .await?;
        if sites.is_empty() {
            return Err(Error::new(
                Code::VendorRejected,
                format!("{name} says this account has no {}s.", providers::spec(provider).site_noun),
            )
            .hint(format!("Ask the customer to sign in to the {name} app once and check the system is registered, then connect again.")));
        }
        let secret_ref = format!("connection/{}", uuid::Uuid::new_v4());
        self.vault
            .put(
                &format!("{secret_ref}/{ACCESS_TOKEN}"),
                &tokens.access_token,
            )
            .await?;
        if let Some(rt) = &tokens.refresh_token {
            if let Err(e) = self
                .vault
                .put(&format!("{secret_ref}/{REFRESH_TOKEN}"), rt)
                .await
            {
                let _ = self
                    .vault
                    .delete(&format!("{secret_ref}/{ACCESS_TOKEN}"))
                    .await;
                return Err(e);
            }
        }
        let at = |secs: Option<i64>| secs.map(|s| rfc3339(now + time::Duration::seconds(s)));
        let inserted = self
            .store
            .insert_connection(
                &NewConnection {
                    customer_id: &done.customer_id,
                    provider,
                    kind: CredentialKind::Oauth,
                    credential_hint: None,
                    secret_ref: Some(secret_ref.clone()),
                    sites: &sites,
                    scopes: tokens
                        .scope
                        .clone()
                        .or_else(|| (!spec.scopes.is_empty()).then(|| spec.scopes.to_string())),
                    access_expires_at: at(tokens.expires_in),
                    refresh_expires_at: at(tokens.refresh_expires_in),
                },
                self.actor,
            )
            .await;
        self.connection_or_rollback(inserted, &secret_ref).await
    }

    /// Asks the vendor again with the stored access token.
    pub(super) async fn check_oauth_connection(&self, conn: Connection) -> Result<Connection> {
        let secret_ref = self
            .store
            .secret_ref(&conn.id)
            .await?
            .ok_or_else(|| Error::internal("OAuth connection without a secret reference"))?;
        let access = self
            .vault
            .require(&format!("{secret_ref}/{ACCESS_TOKEN}"))
            .await?;
        let (_, ep) = self.oauth_spec(conn.provider)?;
        let app = self.app_credentials(conn.provider).await?;
        let mut extra = BTreeMap::new();
        if let Some(first) = conn.sites.first() {
            extra.insert("site_id".to_string(), first.external_id.clone());
        }
        let found =
            vendor_oauth::discover(&self.http, conn.provider, &ep, &app, &access, &extra).await;
        self.record_check(&conn.id, found).await
    }
}
