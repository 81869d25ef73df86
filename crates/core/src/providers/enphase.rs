//! Enphase Enlighten API v4: systems, through the system owner's Enlighten sign-in, or through
//! the installer company's partner plan.
//!
//! The partner plan (Enphase's "Partner" API plan for installers) has an application of its own
//! that obtains tokens with the resource owner's password grant: `POST /oauth/token?
//! grant_type=password&username=..&password=..` with HTTP Basic of the application's client id
//! and secret, parameters in the query as in Enphase's code exchange. The answer is the usual
//! token set: an access token for about a day (`expires_in` 86393) and a refresh token that is
//! replaced at each refresh (vendors.md §2). Onramp renews it as it renews a customer's grant
//! (one holder, fenced, durable before use); the password is sent once and never kept.

use super::http::Client;
use serde_json::Value;

use super::account::{AccountEntry, AccountSignIn, AccountStep, AccountSystems};
use super::oauth::{api_get, join, str_of, AppCredentials, OAuthHosts, OAuthSpec, TokenStyle};
use super::paging::{Page, Paging, Total};
use super::{Credential, Discovery, FieldDef, ProviderSpec, Vendor, VendorFuture, VendorSite};
use crate::error::{Code, Error, Result, TokenError};
use crate::model::{KeyInput, KeyShape, ProviderId, RedirectMode};
use crate::vault::Sensitive;

pub static OAUTH: OAuthSpec = OAuthSpec {
    authorize_path: "/oauth/authorize",
    token_path: "/oauth/token",
    scopes: "",
    style: TokenStyle::QueryBasic,
    authorize_extra: &[],
    audience: false,
    refresh_without_secret: false,
    needs_api_key: true,
    hosts: OAuthHosts {
        authorize: "https://api.enphaseenergy.com",
        token: "https://api.enphaseenergy.com",
        api: "https://api.enphaseenergy.com",
    },
    // Enphase's default redirect page shows the code for the installer to paste.
    default_redirect: RedirectMode::Paste,
    paste_redirect_path: Some("/oauth/redirect_uri"),
    // 1 week (older docs) or 1 month (newer): Onramp assumes the shorter. Replaced on each refresh.
    refresh_lifetime: Some(7 * 86_400),
    help: "The system owner signs in with their Enlighten account and approves Onramp; Enphase then shows a code to paste here.",
    refusals: super::refusal::RFC6749,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    sign_in_name: None,
    category: crate::model::Category::Devices,
    note: None,
    id: ProviderId::Enphase,
    name: "Enphase",
    site_noun: "system",
    production_base_url: "https://api.enphaseenergy.com",
    fields: &[],
    account_fields: Some(&[
        FieldDef {
            name: "client_id",
            label: "Partner app client ID",
            secret: false,
            placeholder: "from the partner application in the Enphase developer portal",
            shape: KeyShape::ANY,
        },
        FieldDef {
            name: "client_secret",
            label: "Partner app client secret",
            secret: true,
            placeholder: "the same application's client secret",
            shape: KeyShape::ANY,
        },
        FieldDef {
            name: "api_key",
            label: "Partner app API key",
            secret: true,
            placeholder: "the same application's API key",
            shape: KeyShape::ANY,
        },
        FieldDef {
            name: "username",
            label: "Enlighten user (email)",
            secret: false,
            placeholder: "the installer company's Enlighten login",
            shape: KeyShape::ANY,
        },
        FieldDef {
            name: "password",
            label: "Enlighten password",
            secret: true,
            placeholder: "sent once to Enphase to sign in, never saved",
            shape: KeyShape::ANY,
        },
    ]),
    customer_key_help: "",
    account_key_help: "Enphase partner (installer) plan: the client ID, client secret and API key of your partner application (Enphase developer portal → Applications), and the Enlighten user of your installer company. Onramp signs the application in as that user once (Enphase's password grant), keeps the sign-in alive by itself, and never saves the password. Enrolling a customer then means picking their system from your systems list. Enphase Grid Services can only be enrolled through Derapi Join.",
    oauth: Some(&OAUTH),
};

/// Page size of the systems list (the API's maximum).
const PAGE: usize = 100;

/// Every system the Enphase partner (installer) account sees, page by page.
pub async fn partner_systems(
    client: &Client,
    api_url: &str,
    access_token: &Sensitive<String>,
    api_key: &Sensitive<String>,
) -> Result<Vec<VendorSite>> {
    let url = &format!("{}/api/v4/systems", api_url.trim_end_matches('/'));
    let size = &PAGE.to_string();
    let paging = Paging {
        full: Some(PAGE),
        max_pages: 1000,
    };
    paging
        .all(|page| async move {
            let p = page.to_string();
            let v = api_get(
                client,
                "Enphase",
                url,
                access_token,
                &[("key", api_key.expose()), ("page", &p), ("size", size)],
            )
            .await?;
            Ok(Page {
                items: enphase_systems(&v),
                total: v
                    .get("total")
                    .and_then(serde_json::Value::as_u64)
                    .map_or(Total::Unsaid, Total::Items),
            })
        })
        .await
}

/// Enphase's `systems` list as sites.
pub fn enphase_systems(v: &Value) -> Vec<VendorSite> {
    let systems = v
        .get("systems")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    systems
        .iter()
        .map(|s| {
            let addr = s.get("address");
            let part = |k: &str| addr.and_then(|a| str_of(a, k));
            let address = [part("city"), part("state"), part("postal_code")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            VendorSite {
                external_id: str_of(s, "system_id").unwrap_or_default(),
                name: str_of(s, "name").unwrap_or_else(|| "Enphase system".into()),
                address: (!address.is_empty()).then_some(address),
                peak_power_kw: None,
                status: str_of(s, "status"),
            }
        })
        .collect()
}

/// The partner plan's installer account: a sign-in with the partner application, renewed.
impl AccountSignIn for Enphase {
    fn entry(&self, input: &KeyInput) -> Result<AccountEntry> {
        let field = |v: &Option<String>, label: &str| -> Result<String> {
            let v = v.as_deref().map(str::trim).unwrap_or_default();
            if v.is_empty() {
                return Err(Error::validation(format!("Enter the Enphase {label}.")));
            }
            if v.len() > 512 || v.chars().any(char::is_control) {
                return Err(Error::validation(format!(
                    "That does not look like an Enphase {label}: it is too long or has line breaks."
                ))
                .hint("Copy it again from the Enphase developer portal."));
            }
            Ok(v.to_string())
        };
        let client_id = field(&input.client_id, "partner app client ID")?;
        let client_secret = field(&input.client_secret, "partner app client secret")?;
        let api_key = field(&input.api_key, "partner app API key")?;
        let username = field(&input.username, "Enlighten user")?;
        // A password is taken as typed: spaces may be part of it.
        let password = input.password.clone().unwrap_or_default();
        if password.is_empty() {
            return Err(Error::validation("Enter the Enlighten password."));
        }
        for (v, label) in [
            (&client_id, "partner app client ID"),
            (&client_secret, "partner app client secret"),
            (&api_key, "partner app API key"),
        ] {
            if v.chars().any(char::is_whitespace) {
                return Err(Error::validation(format!(
                    "That does not look like an Enphase {label}: it has spaces."
                ))
                .hint("Copy it again from the Enphase developer portal, without spaces."));
            }
        }
        Ok(AccountEntry {
            app: AppCredentials {
                client_id,
                client_secret: Some(Sensitive::new(client_secret)),
                api_key: Some(Sensitive::new(api_key)),
            },
            username,
            password: Sensitive::new(password),
        })
    }

    fn systems<'a>(&'a self, s: AccountSystems<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async move {
            let key = s
                .app
                .api_key
                .clone()
                .unwrap_or_else(|| Sensitive::new(String::new()));
            partner_systems(s.client, &s.endpoints.api_url, s.access, &key)
                .await
                .map_err(|e| {
                    if e.code == Code::VendorRejected {
                        Error::new(
                            Code::VendorRejected,
                            format!("Enphase signed the partner application in but refused its API key. Nothing was saved. ({})", e.message),
                        )
                        .hint("Copy the API key of the same partner application again from the Enphase developer portal.")
                    } else {
                        e
                    }
                })
        })
    }

    fn refused(&self, e: &Error, step: AccountStep) -> Error {
        let first = step == AccountStep::SignIn;
        let nothing = if first { " Nothing was saved." } else { "" };
        match e.token_error {
            Some(t) if t.grant_refused() && first => Error::new(
                Code::VendorRejected,
                format!("Enphase did not accept the Enlighten user or password.{nothing}"),
            )
            .hint("Check the Enlighten email and password (capitals count), then sign in again.")
            .caused_by(e.clone()),
            Some(t) if t.grant_refused() => Error::new(
                Code::ReauthRequired,
                "Enphase no longer accepts the installer account's sign-in (the Enlighten password may have changed).",
            )
            .hint("Sign in again in Settings → Installer accounts with the partner application and your Enlighten user.")
            .caused_by(e.clone()),
            Some(TokenError::UnauthorizedClient) => Error::new(
                Code::NotConfigured,
                format!("This Enphase application may not sign in with an Enlighten user: only a partner-plan application can.{nothing}"),
            )
            .hint("Enter the client ID and secret of your partner application, not those of the app customers sign in to.")
            .caused_by(e.clone()),
            Some(TokenError::InvalidClient) => Error::new(
                Code::NotConfigured,
                format!("Enphase refused the partner application's client ID or secret.{nothing}"),
            )
            .hint("Copy the client ID and secret again from the Enphase developer portal (Applications), then sign in again in Settings → Installer accounts.")
            .caused_by(e.clone()),
            _ => e.clone(),
        }
    }
}

/// Enphase's implementation of [`Vendor`].
pub struct Enphase;

impl Vendor for Enphase {
    fn spec(&self) -> &'static ProviderSpec {
        &SPEC
    }

    /// The partner plan's installer account signs in (the password grant) and is renewed.
    fn account_sign_in(&self) -> Option<&dyn AccountSignIn> {
        Some(self)
    }

    fn discover<'a>(&'a self, d: Discovery<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async move {
            let Discovery {
                client,
                endpoints: ep,
                app,
                access,
                ..
            } = d;
            let name = SPEC.name;
            let api = |p: &str| join(&ep.api_url, p);
            let key = app.api_key.as_ref().ok_or_else(|| {
                Error::new(Code::NotConfigured, "The Enphase app's API key is missing.")
                    .hint("Add it in Settings → Vendor apps → Enphase.")
            })?;
            let v = api_get(
                client,
                name,
                &api("/api/v4/systems"),
                access,
                &[("key", key.expose()), ("size", "100")],
            )
            .await?;
            Ok(enphase_systems(&v))
        })
    }

    /// The partner account: its current access token and the application's API key.
    fn stored_key(&self, secret: &dyn Fn(&str) -> Result<Sensitive<String>>) -> Result<Credential> {
        Ok(Credential::SignedInAccount {
            access_token: secret(super::account::ACCESS_TOKEN)?,
            api_key: secret(super::API_KEY)?,
        })
    }

    fn list_sites<'a>(
        &'a self,
        client: &'a Client,
        base_url: &'a str,
        credential: &'a Credential,
    ) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async move {
            match credential {
                Credential::SignedInAccount {
                    access_token,
                    api_key,
                } => partner_systems(client, base_url, access_token, api_key).await,
                _ => Err(Error::internal("credential does not match the provider")),
            }
        })
    }
}
