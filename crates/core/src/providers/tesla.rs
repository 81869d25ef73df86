//! Tesla Fleet API: energy sites, through the customer's Tesla sign-in.

use super::oauth::{OAuthHosts, OAuthSpec, TokenStyle};
use super::ProviderSpec;
use crate::model::{ProviderId, RedirectMode};

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
};

pub static SPEC: ProviderSpec = ProviderSpec {
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
