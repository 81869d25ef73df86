//! SMA Monitoring API (Sunny Portal / ennexOS): plants, through the owner's SMA sign-in.

use super::oauth::{OAuthHosts, OAuthSpec, TokenStyle};
use super::ProviderSpec;
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
};

pub static SPEC: ProviderSpec = ProviderSpec {
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
