//! Pelm Connect (US utility data): Onramp asks Pelm for a connect token for the customer
//! (`user_id` = Onramp's customer id, so a second Connect for the same customer is Pelm's update
//! mode), the customer signs in to their utility on Pelm's hosted Connect page, and the code
//! that comes back is exchanged for an access token that does not expire.

use serde::Deserialize;
use serde_json::Value;

use super::http::{self, Client};
use super::oauth::{AppCredentials, OAuthHosts, OAuthSpec, TokenStyle};

use super::{
    Answer, AuthorizeRequest, Discovery, Hosted, Prepared, ProviderSpec, SignInPrep, Vendor,
    VendorFuture, VendorSite,
};
use crate::error::{Code, Error, Result};
use crate::model::{ConnectionDetails, ProviderId, RedirectMode};
use crate::vault::Sensitive;

pub static OAUTH: OAuthSpec = OAuthSpec {
    // The hosted Connect page is the configured authorize URL itself.
    authorize_path: "",
    token_path: "/auth/token",
    scopes: "",
    style: TokenStyle::FormBody,
    authorize_extra: &[],
    audience: false,
    refresh_without_secret: false,
    needs_api_key: false,
    hosts: OAuthHosts {
        authorize: "https://connect.pelm.com/",
        token: "https://api.pelm.com",
        api: "https://api.pelm.com",
    },
    default_redirect: RedirectMode::Loopback,
    paste_redirect_path: None,
    refresh_lifetime: None,
    help: "The customer picks their utility on Pelm Connect and signs in with their utility account; their electric and gas accounts are then listed.",
    refusals: super::refusal::RFC6749,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    sign_in_name: None,
    id: ProviderId::Pelm,
    name: "Pelm",
    site_noun: "account",
    production_base_url: "https://api.pelm.com",
    fields: &[],
    account_fields: None,
    customer_key_help: "",
    account_key_help: "",
    oauth: Some(&OAUTH),
    category: crate::model::Category::Utility,
    note: Some("US utility accounts (electric and gas) through the customer's utility sign-in."),
};

/// How long Pelm's connect token lives.
pub const CONNECT_TOKEN_TTL: time::Duration = time::Duration::minutes(30);

fn url(api: &str, path: &str) -> String {
    format!("{}{path}", api.trim_end_matches('/'))
}

fn with_client(req: reqwest::RequestBuilder, app: &AppCredentials) -> reqwest::RequestBuilder {
    req.header("Pelm-Client-Id", &app.client_id)
        .header("Pelm-Secret", app.secret())
        .header(reqwest::header::ACCEPT, "application/json")
}

/// Pelm's errors are JSON with `error`.
fn failure(status: reqwest::StatusCode, body: &[u8], retry: Option<u64>, what: &str) -> Error {
    let detail = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| status.to_string());
    match status.as_u16() {
        401 if what != "accounts" => Error::new(
            Code::NotConfigured,
            "Pelm does not accept your company's Pelm client id and secret.",
        )
        .hint("Nothing for the customer to do: copy the client id and secret again from Pelm's dashboard into Settings → Vendor apps, then press Check.")
        .details(detail.clone()),
        401 | 403 => Error::new(
            Code::VendorRejected,
            "Pelm no longer gives Onramp access to this customer's utility data.",
        )
        .hint("Ask the customer to connect their utility again through Pelm Connect.")
        .details(detail.clone()),
        400 if what == "token" => Error::new(
            Code::ReauthRequired,
            "Pelm did not accept the customer's authorization: the Connect session expired or was already used.",
        )
        .hint("Open Pelm Connect again with the customer; they pick their utility and sign in once more.")
        .details(detail.clone()),
        429 => Error::rate_limited("Pelm", retry),
        400..=499 => Error::new(
            Code::VendorError,
            "Pelm refused Onramp's request.",
        )
        .hint("Start again; if it happens again, whoever manages your company's Pelm app checks its settings at Pelm.")
        .details(detail.clone()),
        _ => http::vendor_failed("Pelm", detail),
    }
}

async fn send(req: reqwest::RequestBuilder, what: &str) -> Result<Vec<u8>> {
    let resp = req.send().await.map_err(|e| http::network("Pelm", &e))?;
    let status = resp.status();
    let retry = http::retry_after(resp.headers());
    let body = http::read_body("Pelm", resp).await?;
    if !status.is_success() {
        return Err(failure(status, &body, retry, what));
    }
    Ok(body)
}

/// A connect token for this customer (valid 30 minutes).
pub async fn connect_token(
    client: &Client,
    api: &str,
    app: &AppCredentials,
    user_id: &str,
    utility_id: Option<&str>,
) -> Result<Sensitive<String>> {
    #[derive(Deserialize)]
    struct Answer {
        connect_token: String,
    }
    let mut form = vec![("user_id", user_id)];
    if let Some(u) = utility_id {
        form.push(("utility_id", u));
    }
    let body = send(
        with_client(client.http.post(url(api, "/auth/connect-token")), app).form(&form),
        "connect-token",
    )
    .await?;
    let a: Answer = http::json_object(&body)
        .map_err(|e| http::vendor_failed("Pelm", format!("an unreadable connect token ({e})")))?;
    Ok(Sensitive::new(a.connect_token))
}

/// The hosted Connect page for the customer's browser.
pub fn connect_url(
    connect: &str,
    redirect_uri: &str,
    connect_token: &str,
    state: &str,
) -> Result<String> {
    let mut u = url::Url::parse(connect).map_err(|e| {
        Error::new(
            Code::NotConfigured,
            format!("The Pelm Connect URL is not valid: {e}"),
        )
    })?;
    u.query_pairs_mut()
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("connect_token", connect_token)
        .append_pair("state", state);
    Ok(u.into())
}

/// Exchanges the Connect code for the customer's access token (it does not expire).
pub async fn exchange(
    client: &Client,
    api: &str,
    app: &AppCredentials,
    code: &str,
) -> Result<Sensitive<String>> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: String,
    }
    let body = send(
        with_client(client.http.post(url(api, "/auth/token")), app)
            .form(&[("grant_type", "code"), ("code", code)]),
        "token",
    )
    .await?;
    let a: Answer = http::json_object(&body)
        .map_err(|e| http::vendor_failed("Pelm", format!("an unreadable token answer ({e})")))?;
    Ok(Sensitive::new(a.access_token))
}

/// The customer's utility accounts.
pub async fn accounts(
    client: &Client,
    api: &str,
    app: &AppCredentials,
    access: &Sensitive<String>,
) -> Result<Vec<VendorSite>> {
    let body = send(
        with_client(client.http.get(url(api, "/accounts")), app).bearer_auth(access.expose()),
        "accounts",
    )
    .await?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| http::vendor_failed("Pelm", format!("an unreadable accounts list ({e})")))?;
    let list = v
        .as_array()
        .or_else(|| v.get("accounts").and_then(Value::as_array))
        .cloned()
        .unwrap_or_default();
    let s = |a: &Value, k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(list
        .iter()
        .filter_map(|a| {
            let id = s(a, "id")?;
            let kind = s(a, "resource_type").map(|t| t.to_lowercase());
            let utility = s(a, "utility_name").or_else(|| s(a, "utility_id"));
            let number = s(a, "account_number");
            let name = [utility, kind.clone(), number.map(|n| format!("#{n}"))]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            Some(VendorSite {
                name: if name.is_empty() {
                    format!("Account {id}")
                } else {
                    name
                },
                external_id: id,
                address: s(a, "address"),
                peak_power_kw: None,
                status: kind,
            })
        })
        .collect())
}

/// Pelm's implementation of [`Vendor`].
pub struct Pelm;

impl Vendor for Pelm {
    fn spec(&self) -> &'static ProviderSpec {
        &SPEC
    }

    /// A connect token for the customer (Pelm's user id is Onramp's customer id); a second
    /// sign-in updates the user's accounts rather than creating them.
    fn prepare_sign_in<'a>(&'a self, p: SignInPrep<'a>) -> VendorFuture<'a, Prepared> {
        Box::pin(async move {
            let utility = p
                .options
                .utility
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty());
            let token = connect_token(
                p.client,
                &p.endpoints.api_url,
                p.app,
                p.customer_id,
                utility,
            )
            .await?;
            let mode = if p.existing { "update" } else { "create" };
            let details = ConnectionDetails {
                user_id: Some(p.customer_id.to_string()),
                mode: Some(mode.into()),
                ..ConnectionDetails::default()
            };
            Ok(Prepared {
                details,
                ticket: Some(token),
                ..Prepared::default()
            })
        })
    }

    /// Pelm Connect's page with the connect token.
    fn authorize_url(&self, a: AuthorizeRequest<'_>) -> Result<String> {
        let token = a.ticket.map(|t| t.expose().as_str()).unwrap_or_default();
        connect_url(&a.endpoints.authorize_url, a.redirect_uri, token, a.state)
    }

    /// The Connect code for the customer's access token; their accounts as the sites.
    fn complete_hosted<'a>(&'a self, a: Answer<'a>) -> Option<VendorFuture<'a, Hosted>> {
        Some(Box::pin(async move {
            let api = &a.endpoints.api_url;
            let code = a.code.ok_or_else(|| super::missing_code(SPEC.id))?;
            let access = exchange(a.client, api, a.app, code.expose()).await?;
            let sites = accounts(a.client, api, a.app, &access).await?;
            if sites.is_empty() {
                return Err(Error::new(
                    Code::VendorRejected,
                    "Pelm found no utility accounts for this customer.",
                )
                .hint("Ask the customer to check their utility sign-in, then connect again."));
            }
            let renewal = format!(
                "Pelm connection updated: {} account{}",
                sites.len(),
                if sites.len() == 1 { "" } else { "s" }
            );
            Ok(Hosted {
                sites,
                details: a.details.clone(),
                access: Some(access),
                refresh: None,
                credential_hint: None,
                renewal: Some(renewal),
            })
        }))
    }

    /// The utility accounts the customer shared.
    fn discover<'a>(&'a self, d: Discovery<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(accounts(d.client, &d.endpoints.api_url, d.app, d.access))
    }
}
