//! The company's vendor apps: the sandbox's demo apps or the ones saved in Settings, and where
//! each sign-in returns.

use super::oauth::{APP_API_KEY, CLIENT_SECRET};
use super::Onramp;
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::providers;
use crate::providers::oauth::AppCredentials;
use crate::seal::Secrets;
use crate::store::{app_aad, app_row};
use crate::vault::Sensitive;

impl Onramp {
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
                    "Enter the {name} client id and secret your company registered in Settings → Vendor apps."
                ))
        };
        let (client_id, sealed) = self.store.oauth_app(provider).await?.ok_or_else(not_set)?;
        let secrets = self
            .vault
            .open(&app_aad(&app_row(provider, "oauth_app")), &sealed)
            .await?;
        let client_secret = secrets.get(CLIENT_SECRET).cloned();
        if client_secret.is_none() && !providers::public_client_allowed(provider) {
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
    /// ([`providers::public_client_allowed`]); elsewhere it is refused.
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
        if public && !providers::public_client_allowed(provider) {
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
                Some(app) => (Some(app.client_id.clone()), AppSource::Sandbox),
                None => match self.store.oauth_app(id).await? {
                    Some((c, _)) => (Some(c), AppSource::Settings),
                    None => (None, AppSource::None),
                },
            };
            let (redirect_mode, relay_url) = self.sign_in_return(id).await?;
            out.push(VendorApp {
                provider: id,
                provider_name: spec.name.to_string(),
                client_id,
                source,
                needs_api_key: oauth.needs_api_key,
                public_client: providers::public_client_allowed(id),
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
}
