//! Derapi: one API in front of many device vendors. Onramp authenticates as itself (client
//! credentials, HTTP Basic); the customer enrolls their system in Derapi Join, either through a
//! Join flow (`/join/flows`, a browser redirect back to Onramp) or a Join session
//! (`/join/session/start`, then `fetch-token` once the customer is done). Derapi then lists the
//! sites it sees. Enphase Grid Services (`enphasevpp`) is enrolled only this way.
//!
//! Shapes, from Derapi's API reference and its SDK (`derapi` 0.1.2, generated from the API
//! spec); sources in docs/vendors/derapi.md:
//! - vendors are named `enphase`, `enphasevpp`, `sma`, `smasbox`, `solaredge`, `solis`, `tesla`,
//!   `virtual`; each vendor entry of a flow or session is `{"vendor", "credentials"}`, where
//!   `credentials` refers to vendor credentials stored at Derapi (`{"credentialsID": ...}`),
//!   required for `enphase`, `enphasevpp`, `sma`, `smasbox` and `tesla`;
//! - `POST /join/session/start` takes `{"storeCredentials", "vendors"}` and answers
//!   `{"sessionID"}` (the older Join guide says `session_id`: both are read);
//! - `GET /join/session/{id}/fetch-token` answers `{"vendor", "accessToken", "refreshToken",
//!   "expiresIn", "siteID"}` (`expiresIn` a string of seconds, `siteID` for `enphasevpp` only);
//! - `POST /join/flows` takes `{"redirectURI", "programID", "vendors"}`;
//! - `GET /sites` answers `{"sites": [{"id"}], "errors": {vendor: message}, "nextPageToken"}`
//!   (a vendor that could not be reached is named in `errors`, the others still listed);
//!   `GET /sites/{id}` gives the site's `name`, `vendor` and `location`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::http::{self, Client};
use super::oauth::{AppCredentials, Endpoints, OAuthHosts, OAuthSpec, TokenEndpoint, TokenStyle};
use super::{
    Answer, AppCheck, AuthorizeRequest, Hosted, Prepared, ProviderSpec, SignInPrep, Vendor,
    VendorFuture, VendorSite,
};
use crate::config::Config;
use crate::error::{Code, Error, Result};
use crate::model::{ConnectionDetails, ProviderId, RedirectMode, SignInChoice, SignInOptions};
use crate::vault::Sensitive;

mod session;
pub use session::*;

/// The device vendors a customer can enroll through Join: (Derapi's name, label).
pub const VENDORS: &[(&str, &str)] = &[
    ("enphasevpp", "Enphase Grid Services (VPP)"),
    ("enphase", "Enphase (monitoring)"),
    ("tesla", "Tesla"),
    ("solaredge", "SolarEdge"),
    ("sma", "SMA"),
    ("solis", "Solis"),
    ("virtual", "Derapi Virtual Mode (test systems)"),
];

/// Vendors whose Join entry must name vendor credentials stored at Derapi (the SDK's required
/// `credentials` field).
pub const NEEDS_CREDENTIALS: &[&str] = &["enphase", "enphasevpp", "sma", "smasbox", "tesla"];

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
    refusals: crate::providers::refusal::RFC6749,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    sign_in_name: None,
    id: ProviderId::Derapi,
    name: "Derapi Join",
    site_noun: "site",
    production_base_url: "https://api.derapi.com",
    fields: &[],
    account_fields: None,
    customer_key_help: "",
    account_key_help: "",
    oauth: Some(&OAUTH),
    category: crate::model::Category::Aggregator,
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

/// One vendor of a Join flow or session: `{"vendor", "credentials"}`.
fn vendor_entry(vendor: &str, credentials_id: Option<&str>) -> Value {
    let mut v = json!({ "vendor": vendor });
    if let Some(id) = credentials_id {
        v["credentials"] = json!({ "credentialsID": id });
    }
    v
}

/// Creates a Join flow for one vendor, returning back to `redirect_uri`: the flow id.
pub async fn create_flow(
    client: &Client,
    api: &str,
    bearer: &Sensitive<String>,
    redirect_uri: &str,
    vendor: &str,
    credentials_id: Option<&str>,
    program_id: Option<&str>,
) -> Result<String> {
    let mut body = json!({
        "redirectURI": redirect_uri,
        "vendors": [vendor_entry(vendor, credentials_id)],
    });
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

/// A site Derapi sees, with its device vendor.
pub struct DerapiSite {
    pub site: VendorSite,
    pub vendor: Option<String>,
    pub enrollment_id: Option<String>,
}

/// How many sites' details are read at most for one listing.
const MAX_DETAILS: usize = 500;

/// Every site Derapi sees (of one vendor, if given), page by page, each read in full. A vendor
/// that Derapi could not reach is named in the list's `errors`: when it is the vendor asked for
/// and nothing was listed, that is the answer, in Derapi's words.
pub async fn sites(
    client: &Client,
    api: &str,
    bearer: &Sensitive<String>,
    vendor: Option<&str>,
) -> Result<Vec<DerapiSite>> {
    let mut listed: Vec<Value> = Vec::new();
    let mut errors: BTreeMap<String, String> = BTreeMap::new();
    let mut token: Option<String> = None;
    for _ in 0..1000 {
        let mut req = client
            .http
            .get(url(api, "/sites"))
            .bearer_auth(bearer.expose())
            .query(&[("pageSize", "50")]);
        if let Some(v) = vendor {
            req = req.query(&[("vendor", v)]);
        }
        if let Some(t) = &token {
            req = req.query(&[("pageToken", t)]);
        }
        let (_, v) = call(req).await?;
        listed.extend(
            v.get("sites")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .cloned(),
        );
        if let Some(e) = v.get("errors").and_then(Value::as_object) {
            for (k, m) in e {
                let m = m
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| m.to_string());
                errors.insert(k.clone(), m);
            }
        }
        token = text_of(&v, "nextPageToken");
        if token.is_none() {
            break;
        }
    }
    let unreachable = errors
        .iter()
        .find(|(k, _)| vendor.is_none_or(|v| v == k.as_str()));
    if let (true, Some((k, why))) = (listed.is_empty(), unreachable) {
        let label = vendor_label(k).unwrap_or(k);
        return Err(Error::new(
            Code::VendorError,
            format!("Derapi could not get an answer from {label}: {why}."),
        )
        .hint("This is on the vendor's side. Try again in a few minutes."));
    }
    if !errors.is_empty() {
        tracing::warn!(vendors = ?errors.keys().collect::<Vec<_>>(), "Derapi listed sites with errors for some vendors");
    }
    let mut out = Vec::new();
    for entry in listed.iter().take(MAX_DETAILS) {
        let Some(id) = text_of(entry, "id") else {
            continue;
        };
        let path: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let (_, d) = call(
            client
                .http
                .get(url(api, &format!("/sites/{path}")))
                .bearer_auth(bearer.expose()),
        )
        .await?;
        let vendor = text_of(&d, "vendor").or_else(|| text_of(entry, "vendor"));
        out.push(DerapiSite {
            site: VendorSite {
                name: text_of(&d, "name").unwrap_or_else(|| format!("Site {id}")),
                external_id: id,
                // Derapi gives coordinates and a time zone, not a street address.
                address: None,
                peak_power_kw: None,
                status: vendor
                    .as_deref()
                    .map(|v| vendor_label(v).unwrap_or(v).to_string()),
            },
            vendor,
            enrollment_id: text_of(entry, "enrollmentID").or_else(|| text_of(&d, "enrollmentID")),
        });
    }
    Ok(out)
}

/// The Derapi vendor picked for a Join, checked against the list.
pub fn chosen_vendor(options: &SignInOptions) -> Result<String> {
    let v = options.vendor.as_deref().map(str::trim).unwrap_or_default();
    if v.is_empty() {
        return Err(
            Error::validation("Pick the customer's device vendor for Derapi Join.").hint(format!(
                "One of Derapi's vendors: {} (Enphase Grid Services is enphasevpp).",
                VENDORS
                    .iter()
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
    if vendor_label(v).is_none() {
        return Err(
            Error::validation(format!("Derapi Join does not offer {v:?}.")).hint(format!(
                "Pick one of Derapi's vendors: {}.",
                VENDORS
                    .iter()
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
    Ok(v.to_string())
}

/// The id of the vendor credentials stored at Derapi that a Join for `vendor` names (from
/// `[oauth.derapi.vendor_credentials]`); an error when the vendor needs one and none is set.
pub fn stored_credentials(config: &Config, vendor: &str) -> Result<Option<String>> {
    let id = config
        .oauth_config(SPEC.id)
        .vendor_credentials
        .get(vendor)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if id.is_none() && NEEDS_CREDENTIALS.contains(&vendor) {
        let label = vendor_label(vendor).unwrap_or(vendor);
        return Err(Error::new(
            Code::NotConfigured,
            format!("Derapi Join for {label} needs your {label} app's credentials stored at Derapi."),
        )
        .hint(format!(
            "Store them with Derapi (its Create Vendor Credentials call gives an id), then add it to onramp.toml: [oauth.derapi.vendor_credentials] {vendor} = \"<id>\"."
        )));
    }
    Ok(id)
}

/// A Join that enrolled no site (yet).
pub fn no_sites(label: &str) -> Error {
    Error::new(
        Code::VendorRejected,
        format!("Derapi does not see any {label} site for this enrollment yet."),
    )
    .hint("Ask the customer whether the Join finished at the vendor, then start again.")
}

/// What a Derapi connection says of its credential.
pub fn hint(label: &str) -> String {
    format!("via Derapi: {label}")
}

/// Onramp's own bearer token at Derapi (client credentials, HTTP Basic).
pub async fn app_bearer(
    client: &Client,
    spec: &OAuthSpec,
    endpoints: &Endpoints,
    app: &AppCredentials,
) -> Result<Sensitive<String>> {
    let t = TokenEndpoint {
        client,
        vendor: "Derapi",
        spec,
        endpoints,
        app,
    }
    .client_credentials()
    .await?;
    Ok(t.access_token)
}

/// The sites Derapi sees for one vendor (and one enrollment, when Derapi names it).
pub async fn vendor_sites(
    client: &Client,
    api: &str,
    bearer: &Sensitive<String>,
    vendor: &str,
    enrollment: Option<&str>,
) -> Result<Vec<VendorSite>> {
    let all = sites(client, api, bearer, Some(vendor)).await?;
    Ok(all
        .into_iter()
        .filter(|s| s.vendor.as_deref().is_none_or(|v| v == vendor))
        .filter(|s| match (enrollment, s.enrollment_id.as_deref()) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        })
        .map(|s| s.site)
        .collect())
}

/// Derapi's implementation of [`Vendor`].
pub struct Derapi;

impl Vendor for Derapi {
    fn spec(&self) -> &'static ProviderSpec {
        &SPEC
    }

    /// Join comes back with the state and an `enrollmentID`, never a code.
    fn answers_without_code(&self) -> bool {
        true
    }

    fn polled_sign_in(&self) -> Option<&dyn crate::providers::PolledSignIn> {
        Some(self)
    }

    fn check_config(&self, configured: &crate::config::OAuthConfig) -> Result<(), String> {
        match configured.join.as_deref() {
            None | Some("flows") | Some("session") => Ok(()),
            Some(_) => Err("join must be \"flows\" or \"session\"".into()),
        }
    }

    fn sign_in_choices(&self) -> Vec<SignInChoice> {
        VENDORS
            .iter()
            .map(|(id, label)| SignInChoice {
                id: id.to_string(),
                label: label.to_string(),
            })
            .collect()
    }

    fn choice_label(&self) -> Option<&'static str> {
        Some("Device vendor")
    }

    /// A Join flow for the chosen device vendor, made with Onramp's own bearer token.
    fn prepare_sign_in<'a>(&'a self, p: SignInPrep<'a>) -> VendorFuture<'a, Prepared> {
        Box::pin(async move {
            let vendor = chosen_vendor(p.options)?;
            let credentials = stored_credentials(p.config, &vendor)?;
            let bearer = app_bearer(p.client, p.spec, p.endpoints, p.app).await?;
            let program = p.config.oauth_config(SPEC.id).program_id;
            let flow = create_flow(
                p.client,
                &p.endpoints.api_url,
                &bearer,
                p.redirect_uri,
                &vendor,
                credentials.as_deref(),
                program.as_deref(),
            )
            .await?;
            let details = ConnectionDetails {
                vendor: Some(vendor),
                flow_id: Some(flow),
                ..ConnectionDetails::default()
            };
            Ok(Prepared {
                details,
                ..Prepared::default()
            })
        })
    }

    /// Derapi's Join page for the flow.
    fn authorize_url(&self, a: AuthorizeRequest<'_>) -> Result<String> {
        flow_authorize_url(
            &a.endpoints.api_url,
            a.details.flow_id.as_deref().unwrap_or_default(),
            a.details.vendor.as_deref().unwrap_or_default(),
            a.state,
        )
    }

    /// Derapi Join came back: Derapi holds the vendor's credentials; Onramp lists the sites.
    fn complete_hosted<'a>(&'a self, a: Answer<'a>) -> Option<VendorFuture<'a, Hosted>> {
        Some(Box::pin(async move {
            let mut details = a.details.clone();
            let vendor = details.vendor.clone().unwrap_or_default();
            let enrollment = a.extra.get("enrollmentID").cloned();
            if let Some(e) = &enrollment {
                details.enrollment_id = Some(e.clone());
            }
            let bearer = app_bearer(a.client, a.spec, a.endpoints, a.app).await?;
            let api = &a.endpoints.api_url;
            let sites =
                vendor_sites(a.client, api, &bearer, &vendor, enrollment.as_deref()).await?;
            let label = vendor_label(&vendor).unwrap_or(&vendor).to_string();
            if sites.is_empty() {
                return Err(no_sites(&label));
            }
            Ok(Hosted {
                sites,
                details,
                access: None,
                refresh: None,
                credential_hint: Some(hint(&label)),
                renewal: None,
            })
        }))
    }

    fn checks_with_app(&self) -> bool {
        true
    }

    /// The enrolled sites, with Onramp's own bearer token (Derapi holds the vendor's).
    fn check_with_app<'a>(&'a self, c: AppCheck<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async move {
            let bearer = app_bearer(c.client, c.spec, c.endpoints, c.app).await?;
            let vendor = c.details.vendor.clone().unwrap_or_default();
            let enrollment = c.details.enrollment_id.as_deref();
            vendor_sites(c.client, &c.endpoints.api_url, &bearer, &vendor, enrollment).await
        })
    }
}

#[cfg(test)]
mod tests;
