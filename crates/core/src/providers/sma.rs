//! SMA Monitoring API (Sunny Portal / ennexOS): plants, through the owner's SMA sign-in.

use serde_json::Value;

use super::oauth::{api_get, join, str_of, OAuthHosts, OAuthSpec, TokenStyle};
use super::{Discovery, ProviderSpec, Vendor, VendorFuture, VendorSite};
use crate::model::{ProviderId, RedirectMode};

pub static OAUTH: OAuthSpec = OAuthSpec {
    authorize_path: "/oauth2/auth",
    token_path: "/oauth2/token",
    // offline_access: a refresh token that does not expire after 30 minutes.
    scopes: "offline_access monitoringApi:read",
    style: TokenStyle::FormBody,
    authorize_extra: &[],
    audience: false,
    refresh_without_secret: false,
    needs_api_key: false,
    hosts: OAuthHosts {
        authorize: "https://auth.smaapis.de",
        token: "https://auth.smaapis.de",
        api: "https://monitoring.smaapis.de",
    },
    default_redirect: RedirectMode::Loopback,
    paste_redirect_path: None,
    refresh_lifetime: None,
    help: "The plant owner signs in with their SMA ID (Sunny Portal) and allows Onramp to read their plants.",
    refusals: super::refusal::RFC6749,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    sign_in_name: None,
    category: crate::model::Category::Devices,
    note: None,
    account_fields: None,
    id: ProviderId::Sma,
    name: "SMA",
    site_noun: "plant",
    production_base_url: "https://monitoring.smaapis.de",
    fields: &[],
    customer_key_help: "",
    account_key_help: "",
    oauth: Some(&OAUTH),
};

/// Sma's implementation of [`Vendor`].
pub struct Sma;

impl Vendor for Sma {
    fn spec(&self) -> &'static ProviderSpec {
        &SPEC
    }

    fn discover<'a>(&'a self, d: Discovery<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async move {
            let Discovery {
                client,
                endpoints: ep,
                access,
                ..
            } = d;
            let name = SPEC.name;
            let api = |p: &str| join(&ep.api_url, p);
            // Entries carry `plantId`, `name`, `description`, `timezone`; no address or peak
            // power (location only with `WithLocation=true`): docs/vendors/sma.md.
            let v = api_get(client, name, &api("/v1/plants"), access, &[]).await?;
            let plants = v
                .get("plants")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            Ok(plants
                .iter()
                .map(|p| VendorSite {
                    external_id: str_of(p, "plantId").unwrap_or_default(),
                    name: str_of(p, "name")
                        .or_else(|| str_of(p, "description"))
                        .unwrap_or_else(|| "SMA plant".into()),
                    address: None,
                    peak_power_kw: None,
                    status: None,
                })
                .collect())
        })
    }
}
