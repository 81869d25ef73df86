//! Tesla Fleet API: energy sites, through the customer's Tesla sign-in.

use base64::Engine;
use serde_json::Value;

use super::http::{self, Client};
use super::oauth::{
    api_get, join, raw_get, read_answer, str_of, OAuthHosts, OAuthSpec, TokenStyle,
};
use super::refusal::Refusal;
use super::{Discovery, ProviderSpec, Vendor, VendorFuture, VendorSite};
use crate::error::{Result, TokenError};
use crate::model::{ProviderId, RedirectMode};
use crate::vault::Sensitive;

pub static OAUTH: OAuthSpec = OAuthSpec {
    authorize_path: "/oauth2/v3/authorize",
    token_path: "/oauth2/v3/token",
    scopes: "openid offline_access energy_device_data",
    style: TokenStyle::FormBody,
    authorize_extra: &[("prompt_missing_scopes", "true")],
    audience: true,
    refresh_without_secret: true,
    needs_api_key: false,
    hosts: OAuthHosts {
        authorize: "https://auth.tesla.com",
        token: "https://fleet-auth.prd.vn.cloud.tesla.com",
        api: "https://fleet-api.prd.na.vn.cloud.tesla.com",
    },
    default_redirect: RedirectMode::DeepLink,
    paste_redirect_path: None,
    refresh_lifetime: Some(90 * 86_400), // "single use only and expires after 3 months"
    help: "The customer signs in with their Tesla account (the one in the Tesla app) and allows Onramp to read their energy sites.",
    // vendors.md §1 (Fleet API authentication, python-tesla-fleet-api's exceptions):
    // `login_required` (401) is a password reset or a refresh token already used, and
    // `invalid_auth_code` an expired code.
    refusals: &[
        Refusal {
            error: "login_required",
            described: None,
            means: TokenError::GrantRevoked,
        },
        Refusal {
            error: "invalid_auth_code",
            described: None,
            means: TokenError::InvalidGrant,
        },
    ],
};

pub static SPEC: ProviderSpec = ProviderSpec {
    sign_in_name: None,
    category: crate::model::Category::Devices,
    note: None,
    account_fields: None,
    id: ProviderId::Tesla,
    name: "Tesla",
    site_noun: "energy site",
    production_base_url: "https://fleet-api.prd.na.vn.cloud.tesla.com",
    fields: &[],
    customer_key_help: "",
    account_key_help: "",
    oauth: Some(&OAUTH),
};

/// Tesla's regional Fleet API hosts, by the `ou_code` of the access token.
const TESLA_REGIONS: [(&str, &str); 3] = [
    ("NA", "https://fleet-api.prd.na.vn.cloud.tesla.com"),
    ("EU", "https://fleet-api.prd.eu.vn.cloud.tesla.com"),
    ("CN", "https://fleet-api.prd.cn.vn.cloud.tesla.cn"),
];

/// The `ou_code` claim of Tesla's access token (a JWT), if it has one.
pub fn tesla_region(access_token: &str) -> Option<String> {
    let payload = access_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("ou_code")?.as_str().map(str::to_uppercase)
}

/// Tesla's products at the account's region: the token's `ou_code` picks the host when the
/// configured one is a Tesla regional host; a 421 (wrong region) asks `/api/1/users/region`.
pub(crate) async fn tesla_products(
    client: &Client,
    api_url: &str,
    access: &Sensitive<String>,
) -> Result<Value> {
    let configured_is_tesla = TESLA_REGIONS
        .iter()
        .any(|(_, u)| api_url.trim_end_matches('/') == *u);
    let mut base = api_url.to_string();
    if configured_is_tesla {
        if let Some(code) = tesla_region(access.expose()) {
            if let Some((_, u)) = TESLA_REGIONS.iter().find(|(c, _)| *c == code) {
                base = u.to_string();
            }
        }
    }
    let (status, body, retry) = raw_get(
        client,
        "Tesla",
        &join(&base, "/api/1/products"),
        access,
        &[],
    )
    .await?;
    if status.as_u16() != 421 {
        return read_answer("Tesla", status, &body, retry);
    }
    // 421: the account lives in another region; Tesla names it.
    let region = api_get(
        client,
        "Tesla",
        &join(&base, "/api/1/users/region"),
        access,
        &[],
    )
    .await?;
    let right = region
        .pointer("/response/fleet_api_base_url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://127.0.0.1"))
        .ok_or_else(|| http::vendor_failed("Tesla", "no region for this account"))?;
    api_get(
        client,
        "Tesla",
        &join(right, "/api/1/products"),
        access,
        &[],
    )
    .await
}

/// Tesla's implementation of [`Vendor`].
pub struct Tesla;

impl Vendor for Tesla {
    fn spec(&self) -> &'static ProviderSpec {
        &SPEC
    }

    /// Tesla's "Open Source Apps": the authorization code flow with PKCE and a client id
    /// without a secret (developer.tesla.com, Fleet API authentication; vendors.md §1).
    fn public_client_allowed(&self) -> bool {
        true
    }

    /// Tesla's sign-in comes back with `issuer=` (the issuer of its OpenID configuration).
    fn documented_issuer(&self) -> Option<&'static str> {
        Some("https://auth.tesla.com/oauth2/v3")
    }

    fn discover<'a>(&'a self, d: Discovery<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async move {
            let Discovery {
                client,
                endpoints: ep,
                access,
                ..
            } = d;
            let v = tesla_products(client, &ep.api_url, access).await?;
            let items = v
                .get("response")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            Ok(items
                .iter()
                .filter(|p| p.get("energy_site_id").is_some())
                .filter(|p| {
                    // Sites without a battery, solar or wall connector have nothing to monitor.
                    let c = p.get("components");
                    ["battery", "solar"]
                        .iter()
                        .any(|k| c.and_then(|c| c.get(k)).and_then(Value::as_bool) == Some(true))
                        || c.and_then(|c| c.get("wall_connectors"))
                            .and_then(Value::as_array)
                            .is_some_and(|w| !w.is_empty())
                })
                .map(|p| VendorSite {
                    external_id: str_of(p, "energy_site_id").unwrap_or_default(),
                    name: str_of(p, "site_name").unwrap_or_else(|| "Tesla energy site".into()),
                    address: None,
                    peak_power_kw: None,
                    status: str_of(p, "resource_type"),
                })
                .collect())
        })
    }
}
