//! Derapi: one API in front of many device vendors. Onramp authenticates as itself (client
//! credentials, HTTP Basic); the customer enrolls their system in Derapi Join, either through a
//! Join flow (`/join/flows`, a browser redirect back to Onramp) or a Join session
//! (`/join/session/start`, then `fetch-token` once the customer is done). Derapi then lists the
//! sites it sees. Enphase Grid Services is enrolled only this way.

use serde_json::{json, Value};

use super::http::{self, Client};
use super::oauth::{OAuthHosts, OAuthSpec, TokenStyle};
use super::{ProviderSpec, VendorSite};
use crate::error::{Code, Error, Result};
use crate::model::{ProviderId, RedirectMode};
use crate::vault::Sensitive;

/// The device vendors a customer can enroll through Join: (Derapi's id, label).
pub const VENDORS: &[(&str, &str)] = &[
    ("enphase_grid_services", "Enphase Grid Services"),
    ("enphase", "Enphase (monitoring)"),
    ("tesla", "Tesla"),
    ("solaredge", "SolarEdge"),
    ("sma", "SMA"),
    ("solis", "Solis"),
];

pub static OAUTH: OAuthSpec = OAuthSpec {
    authorize_path: "",
    token_path: "/oauth2/token",
    scopes: "",
    style: TokenStyle::FormBasic,
    authorize_extra: &[],
    audience: false,
    refresh_without_secret: false,
    needs_api_key: false,
    hosts: OAuthHosts {
        authorize: "https://api.derapi.com",
        token: "https://auth.derapi.com",
        api: "https://api.derapi.com",
    },
    default_redirect: RedirectMode::Loopback,
    paste_redirect_path: None,
    refresh_lifetime: None,
    help: "The customer picks their device vendor in Derapi Join and approves; Derapi then lists the systems it can reach.",
};

pub static SPEC: ProviderSpec = ProviderSpec {
    id: ProviderId::Derapi,
    name: "Derapi Join",
    site_noun: "site",
    production_base_url: "https://api.derapi.com",
    fields: &[],
    account_fields: None,
    customer_key_help: "",
    account_key_help: "",
    oauth: Some(&OAUTH),
    category: "aggregator",
    note: Some("Any supported device vendor through Derapi. Enphase Grid Services can only be enrolled this way."),
};

pub fn vendor_label(id: &str) -> Option<&'static str> {
    VENDORS.iter().find(|(v, _)| *v == id).map(|(_, l)| *l)
}

fn url(api: &str, path: &str) -> String {
    format!("{}{path}", api.trim_end_matches('/'))
}

/// Derapi's errors are `application/problem+json`.
fn problem(status: reqwest::StatusCode, body: &[u8], retry: Option<u64>) -> Error {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        v.as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let detail = field("detail")
        .or_else(|| field("title"))
        .unwrap_or_else(|| status.to_string());
    match status.as_u16() {
        401 | 403 => Error::new(
            Code::NotConfigured,
            format!("Derapi refused Onramp's credentials: {detail}."),
        )
        .hint("Check the Derapi client id and secret in Settings → Vendor apps."),
        404 => Error::new(
            Code::VendorRejected,
            format!("Derapi does not know this: {detail}."),
        )
        .hint("Start the Join again with the customer."),
        429 => Error::rate_limited("Derapi", retry),
        502 => Error::new(
            Code::VendorError,
            format!("Derapi could not get an answer from the device vendor: {detail}."),
        )
        .hint("This is on the vendor's side. Try again in a few minutes."),
        504 => Error::new(
            Code::VendorError,
            format!("The device vendor did not answer Derapi in time: {detail}."),
        )
        .hint("Try again in a few minutes."),
        400..=499 => Error::new(
            Code::VendorError,
            format!("Derapi refused the request: {detail}."),
        )
        .hint("Check the Derapi settings (program, vendors), then start again."),
        _ => http::vendor_failed("Derapi", detail),
    }
}

async fn call(req: reqwest::RequestBuilder) -> Result<(reqwest::StatusCode, Value)> {
    let resp = req
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| http::network("Derapi", &e))?;
    let status = resp.status();
    let retry = http::retry_after(resp.headers());
    let body = http::read_body("Derapi", resp).await?;
    if !status.is_success() && status.as_u16() != 409 && status.as_u16() != 410 {
        return Err(problem(status, &body, retry));
    }
    let v = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| http::vendor_failed("Derapi", format!("an unreadable answer ({e})")))?
    };
    Ok((status, v))
}

/// Creates a Join flow for one vendor, returning back to `redirect_uri`: the flow id.
pub async fn create_flow(
    client: &Client,
    api: &str,
    bearer: &Sensitive<String>,
    redirect_uri: &str,
    vendor: &str,
    program_id: Option<&str>,
) -> Result<String> {
    let mut body = json!({"redirectURI": redirect_uri, "vendors": [{"vendor": vendor}]});
    if let Some(p) = program_id {
        body["programID"] = json!(p);
    }
    let (_, v) = call(
        client
            .http
            .post(url(api, "/join/flows"))
            .bearer_auth(bearer.expose())
            .json(&body),
    )
    .await?;
    v.get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| http::vendor_failed("Derapi", "no flow id in the answer"))
}

/// Where the customer's browser goes for a flow (no Derapi credentials in it).
pub fn flow_authorize_url(api: &str, flow_id: &str, vendor: &str, state: &str) -> Result<String> {
    let mut u = url::Url::parse(&url(api, "/join/flows/"))
        .and_then(|u| u.join(flow_id))
        .map_err(|e| {
            Error::new(
                Code::NotConfigured,
                format!("The Derapi API URL is not valid: {e}"),
            )
        })?;
    u.path_segments_mut()
        .map_err(|_| Error::new(Code::NotConfigured, "The Derapi API URL is not valid."))?
        .push("authorize");
    u.query_pairs_mut()
        .append_pair("vendor", vendor)
        .append_pair("state", state);
    Ok(u.into())
}

/// Starts a Join session (the older model): its id.
pub async fn start_session(
    client: &Client,
    api: &str,
    bearer: &Sensitive<String>,
    vendor: &str,
) -> Result<String> {
    let (_, v) = call(
        client
            .http
            .post(url(api, "/join/session/start"))
            .bearer_auth(bearer.expose())
            .json(&json!({"vendor": vendor})),
    )
    .await?;
    v.get("session_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| http::vendor_failed("Derapi", "no session id in the answer"))
}

/// The Join page of a session, for the customer's browser.
pub fn session_page_url(api: &str, session_id: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(session_id.as_bytes()).collect();
    url(api, &format!("/join/session/{id}"))
}

/// Where a Join session stands.
pub enum SessionPoll {
    Pending,
    Declined(String),
    Done {
        token: Sensitive<String>,
        vendor: Option<String>,
    },
}

pub async fn fetch_token(
    client: &Client,
    api: &str,
    bearer: &Sensitive<String>,
    session_id: &str,
) -> Result<SessionPoll> {
    let id: String = url::form_urlencoded::byte_serialize(session_id.as_bytes()).collect();
    let (status, v) = call(
        client
            .http
            .get(url(api, &format!("/join/session/{id}/fetch-token")))
            .bearer_auth(bearer.expose()),
    )
    .await?;
    let detail = v
        .get("detail")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Ok(match status.as_u16() {
        409 => SessionPoll::Pending,
        410 => SessionPoll::Declined(detail),
        _ => SessionPoll::Done {
            token: Sensitive::new(
                v.get("token")
                    .and_then(Value::as_str)
                    .ok_or_else(|| http::vendor_failed("Derapi", "no token in the answer"))?
                    .to_string(),
            ),
            vendor: v.get("vendor").and_then(Value::as_str).map(str::to_string),
        },
    })
}

/// A site Derapi sees, with its device vendor.
pub struct DerapiSite {
    pub site: VendorSite,
    pub vendor: Option<String>,
    pub enrollment_id: Option<String>,
}

/// Every site Derapi sees, page by page.
pub async fn sites(
    client: &Client,
    api: &str,
    bearer: &Sensitive<String>,
) -> Result<Vec<DerapiSite>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..1000 {
        let mut req = client
            .http
            .get(url(api, "/sites"))
            .bearer_auth(bearer.expose())
            .query(&[("pageSize", "100")]);
        if let Some(t) = &token {
            req = req.query(&[("pageToken", t)]);
        }
        let (_, v) = call(req).await?;
        let s = |x: &Value, k: &str| x.get(k).and_then(Value::as_str).map(str::to_string);
        for x in v
            .get("sites")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = s(x, "id") else { continue };
            let loc = x.get("location");
            let part = |k: &str| loc.and_then(|l| s(l, k));
            let address = [part("address"), part("city"), part("state"), part("zip")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            let vendor = s(x, "vendor");
            out.push(DerapiSite {
                site: VendorSite {
                    name: s(x, "name").unwrap_or_else(|| format!("Site {id}")),
                    external_id: id,
                    address: (!address.is_empty()).then_some(address),
                    peak_power_kw: None,
                    status: vendor
                        .as_deref()
                        .map(|v| vendor_label(v).unwrap_or(v).to_string()),
                },
                vendor,
                enrollment_id: s(x, "enrollmentID"),
            });
        }
        token = s(&v, "nextPageToken").filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}
