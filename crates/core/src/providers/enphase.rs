//! Enphase Enlighten API v4: systems, through the system owner's Enlighten sign-in.

use super::oauth::{OAuthHosts, OAuthSpec, TokenStyle};
use super::ProviderSpec;
use crate::model::{ProviderId, RedirectMode};

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
    help: "The system owner signs in with their Enlighten account and approves Onramp; Enphase then shows a code to paste here.",
};

pub static SPEC: ProviderSpec = ProviderSpec {
    id: ProviderId::Enphase,
    name: "Enphase",
    site_noun: "system",
    production_base_url: "https://api.enphaseenergy.com",
    fields: &[],
    customer_key_help: "",
    account_key_help: "",
    oauth: Some(&OAUTH),
};
