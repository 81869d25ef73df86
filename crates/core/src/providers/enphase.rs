//! Enphase Enlighten API v4: systems, through the system owner's Enlighten sign-in.

use super::http::Client;
use super::oauth::{OAuthHosts, OAuthSpec, TokenStyle};
use super::{FieldDef, ProviderSpec, VendorSite};
use crate::error::Result;
use crate::model::{ProviderId, RedirectMode};
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
};

pub static SPEC: ProviderSpec = ProviderSpec {
    category: "devices",
    note: None,
    id: ProviderId::Enphase,
    name: "Enphase",
    site_noun: "system",
    production_base_url: "https://api.enphaseenergy.com",
    fields: &[],
    account_fields: Some(&[
        FieldDef {
            name: "access_token",
            label: "Partner access token",
            secret: true,
            placeholder: "from the Enphase partner plan",
        },
        FieldDef {
            name: "api_key",
            label: "Partner API key",
            secret: true,
            placeholder: "32 letters and digits",
        },
    ]),
    customer_key_help: "",
    account_key_help: "Enphase partner (installer) plan: copy the partner access token and the API key of your partner application from the Enphase developer portal. Enrolling a customer then means picking their system from your systems list. Enphase Grid Services can only be enrolled through Derapi Join.",
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
    let url = format!("{}/api/v4/systems", api_url.trim_end_matches('/'));
    let mut out = Vec::new();
    for page in 1.. {
        let p = page.to_string();
        let size = PAGE.to_string();
        let v = super::oauth::api_get(
            client,
            "Enphase",
            &url,
            access_token,
            &[("key", api_key.expose()), ("page", &p), ("size", &size)],
        )
        .await?;
        let batch = super::oauth::enphase_systems(&v);
        let total = v.get("total").and_then(serde_json::Value::as_u64);
        let n = batch.len();
        out.extend(batch);
        let done = n < PAGE || total.is_some_and(|t| out.len() as u64 >= t) || page >= 1000;
        if done {
            break;
        }
    }
    Ok(out)
}
