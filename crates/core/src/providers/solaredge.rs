//! SolarEdge Monitoring API V2 (V1's `api_key` calls answer 410 since November 2026).
//!
//! Two ways in, and no per-site key (V2 has none; see docs/vendors/solaredge.md for sources):
//! - **Site Access**: the homeowner signs in at SolarEdge Connect and shares one site (OAuth,
//!   [`OAUTH`]); the callback names the site, read with `GET /v2/sites/{siteId}` and the token.
//! - **Fleet Access**: the installer company's API key from SolarEdge's developer console, in the
//!   `X-API-Key` header (the only header V2 requires; the 2022 preview's `X-Account-Key` is not
//!   sent). `GET /v2/sites` lists the account's sites, `{"sites": {"count": N, "site": [...]}}`,
//!   paged with `page` and `sites-in-page` (at most 1,000); the installer picks sites from it.
//!   A site's state is `activationStatus` (`"ACTIVE"`).

use serde::Deserialize;

use super::http::{self, Client};
use super::oauth::{OAuthHosts, OAuthSpec, TokenStyle};
use serde_json::Value;

use super::oauth::{api_get, join, str_of};
use super::paging::{Page, Paging, Total};
use super::{Credential, Discovery, FieldDef, ProviderSpec, Vendor, VendorFuture, VendorSite};
use crate::error::{Code, Error, Result};
use crate::model::{KeyChars, KeyInput, KeyShape, ProviderId, RedirectMode};
use crate::vault::Sensitive;

/// Site Access: the homeowner signs in and shares one site (V2 OAuth).
pub static OAUTH: OAuthSpec = OAuthSpec {
    authorize_path: "/authorize",
    token_path: "/v2/oauth2/token",
    scopes: "SITE_DATA DEVICE_DATA",
    style: TokenStyle::JsonBody,
    authorize_extra: &[("access_duration", "24")],
    audience: false,
    refresh_without_secret: false,
    needs_api_key: false,
    hosts: OAuthHosts {
        authorize: "https://connect.solaredge.com",
        token: "https://monitoringapi.solaredge.com",
        api: "https://monitoringapi.solaredge.com",
    },
    default_redirect: RedirectMode::Loopback,
    paste_redirect_path: None,
    refresh_lifetime: Some(30 * 86_400), // "valid 30 days (unused => reauth)"; rotated on each refresh
    help: "The homeowner signs in with their mySolarEdge account (SolarEdge Site Access) and shares one site per sign-in. A homeowner with several sites: pick them from your company's fleet key in Settings → Installer accounts.",
    refusals: super::refusal::RFC6749,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    sign_in_name: Some("solaredge-site"),
    category: crate::model::Category::Devices,
    note: None,
    account_fields: Some(&[FieldDef {
        name: "api_key",
        label: "Fleet API key",
        secret: true,
        placeholder: "Monitoring API V2 key",
        // The portal's keys are 32 letters and digits; V2's format is not published, so only
        // a key too short to be one (cut off in a copy) is refused here.
        shape: KeyShape {
            chars: KeyChars::Token,
            min_len: 16,
            max_len: 256,
        },
    }]),
    id: ProviderId::Solaredge,
    oauth: Some(&OAUTH),
    name: "SolarEdge",
    site_noun: "site",
    production_base_url: "https://monitoringapi.solaredge.com",
    // V2 has no per-site key: homeowners sign in (Site Access), installers use the fleet key.
    fields: &[],
    customer_key_help: "",
    account_key_help: "Sign in to SolarEdge's developer console (developer.solaredge.com) with your company's SolarEdge account, create an API key with Fleet Access to the Monitoring API V2, and copy it. It lists every site of your company's account; keys from the old monitoring portal (V1) no longer work.",
};

const PAGE: usize = 500;

/// `GET /v2/sites`: `{"sites": {"count": N, "site": [...]}}`.
#[derive(Deserialize)]
struct SitesAnswer {
    sites: SitesBlock,
}

#[derive(Deserialize)]
struct SitesBlock {
    #[serde(default)]
    site: Vec<Site>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Site {
    site_id: u64,
    name: String,
    #[serde(default)]
    activation_status: Option<String>,
    #[serde(default)]
    peak_power: Option<f64>,
    /// Kept loose: one recorded answer carries a redacted string here.
    #[serde(default)]
    location: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct Location {
    address: Option<String>,
    city: Option<String>,
    state: Option<String>,
    zip: Option<String>,
}

#[derive(Deserialize)]
struct Problem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

fn address(l: &Location) -> Option<String> {
    let street = l.address.as_deref().unwrap_or_default().trim();
    let city = l.city.as_deref().unwrap_or_default().trim();
    let state_zip = [l.state.as_deref(), l.zip.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let parts: Vec<&str> = [street, city, state_zip.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `ACTIVE` → `Active`, `PENDING_COMMUNICATION` → `Pending communication`: for people.
pub(crate) fn status_words(status: &str) -> String {
    let words = status.trim().replace('_', " ").to_lowercase();
    let mut c = words.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl From<Site> for VendorSite {
    fn from(s: Site) -> Self {
        VendorSite {
            external_id: s.site_id.to_string(),
            name: s.name,
            address: s
                .location
                .and_then(|l| serde_json::from_value::<Location>(l).ok())
                .as_ref()
                .and_then(address),
            peak_power_kw: s.peak_power,
            status: s.activation_status.as_deref().map(status_words),
        }
    }
}

/// Turns a non-success answer into Onramp's error, in SolarEdge's words.
fn error_for(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Error {
    let problem: Option<Problem> = http::json_object(body).ok();
    let reason = problem
        .as_ref()
        .and_then(|p| p.detail.clone().or_else(|| p.title.clone()))
        .unwrap_or_else(|| status.to_string());
    match status.as_u16() {
        401 => Error::new(
            Code::VendorRejected,
            format!("SolarEdge rejected this key: {reason}. Nothing was saved."),
        )
        .hint("Check that it is a Monitoring API V2 key from SolarEdge's developer console (keys from the old monitoring portal no longer work) and was copied whole, or create a new one there."),
        403 => Error::new(
            Code::VendorRejected,
            format!("SolarEdge refused access: {reason}. Nothing was saved."),
        )
        .hint("The key is valid but cannot see this site, or its plan does not include this call. Use your company's fleet key of the account the site belongs to."),
        410 => Error::new(
            Code::VendorError,
            format!("SolarEdge retired this API: {reason}"),
        )
        .hint("Onramp uses Monitoring API V2; check the SolarEdge base URL in onramp.toml."),
        429 => {
            let retry = http::retry_after(headers);
            let per_minute = headers
                .get("x-ratelimit-remaining-minute")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim() == "0");
            let mut e = Error::rate_limited("SolarEdge", retry);
            if !per_minute && retry.is_none() {
                e.message = "SolarEdge says this key has used up its monthly API credits.".into();
                e.hint = Some("The key's plan allows a fixed number of calls per month. Use another key or wait for the next month.".into());
            }
            e
        }
        s if s >= 500 => http::vendor_failed("SolarEdge", reason),
        _ => http::vendor_failed("SolarEdge", format!("{status}: {reason}")),
    }
}

async fn get_page(
    client: &Client,
    base_url: &str,
    key: &Sensitive<String>,
    page: u32,
) -> Result<Vec<Site>> {
    let url = format!("{}/v2/sites", base_url.trim_end_matches('/'));
    let resp = client
        .http
        .get(&url)
        .query(&[
            ("page", page.to_string()),
            ("sites-in-page", PAGE.to_string()),
        ])
        .header("X-API-Key", key.expose())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| http::network("SolarEdge", &e))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = http::read_body("SolarEdge", resp).await?;
    if !status.is_success() {
        return Err(error_for(status, &headers, &body));
    }
    read_page(&body)
}

fn read_page(body: &[u8]) -> Result<Vec<Site>> {
    http::json_object::<SitesAnswer>(body)
        .map(|a| a.sites.site)
        .map_err(|e| http::vendor_failed("SolarEdge", format!("an unreadable site list ({e})")))
}

/// One page of `GET /v2/sites` (the body of a 2xx) as sites.
pub fn sites_page(body: &[u8]) -> Result<Vec<VendorSite>> {
    read_page(body).map(|s| s.into_iter().map(VendorSite::from).collect())
}

/// Every site the fleet key can see, across pages: a short page is the last (`count` is not
/// relied on, its meaning per page or in all is not documented).
pub async fn list_sites(
    client: &Client,
    base_url: &str,
    key: &Sensitive<String>,
) -> Result<Vec<VendorSite>> {
    let paging = Paging {
        full: Some(PAGE),
        max_pages: 200,
    };
    paging
        .all(|page| async move {
            let sites = get_page(client, base_url, key, page).await?;
            Ok(Page {
                items: sites.into_iter().map(VendorSite::from).collect(),
                total: Total::Unsaid,
            })
        })
        .await
}

/// SolarEdge's implementation of [`Vendor`].
pub struct SolarEdge;

impl Vendor for SolarEdge {
    fn spec(&self) -> &'static ProviderSpec {
        &SPEC
    }

    /// `[solaredge] base_url`.
    fn api_section(&self) -> bool {
        true
    }

    /// V2's `POST /v2/oauth2/revoke-token`, JSON `{"token"}`: the only vendor of Onramp's that
    /// documents one (Tesla, Enphase, SMA, Metry, Pelm, Derapi and UtilityAPI document none).
    fn documented_revoke_url(&self) -> Option<&'static str> {
        Some("https://monitoringapi.solaredge.com/v2/oauth2/revoke-token")
    }

    fn customer_key(&self, input: &KeyInput) -> Result<Credential> {
        let Some([field]) = SPEC.account_fields else {
            unreachable!("SolarEdge's installer account is one fleet API key")
        };
        Ok(Credential::ApiKey(super::required(
            &input.api_key,
            field,
            SPEC.name,
        )?))
    }

    fn stored_key(&self, secret: &dyn Fn(&str) -> Result<Sensitive<String>>) -> Result<Credential> {
        Ok(Credential::ApiKey(secret(super::API_KEY)?))
    }

    fn list_sites<'a>(
        &'a self,
        client: &'a Client,
        base_url: &'a str,
        credential: &'a Credential,
    ) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async move {
            match credential {
                Credential::ApiKey(key) => list_sites(client, base_url, key).await,
                _ => Err(Error::internal("credential does not match the provider")),
            }
        })
    }

    fn discover<'a>(&'a self, d: Discovery<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async move {
            let Discovery {
                client,
                endpoints: ep,
                access,
                extra,
                ..
            } = d;
            let name = SPEC.name;
            let api = |p: &str| join(&ep.api_url, p);
            let site_id = extra.get("site_id").filter(|s| s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty()).ok_or_else(|| {
                Error::new(Code::VendorError, "SolarEdge did not say which site the customer shared.")
                    .hint("Start again. SolarEdge Site Access shares one site per sign-in; for a homeowner with several sites, pick them from your company's fleet key (Settings → Installer accounts).")
            })?;
            let v = api_get(
                client,
                name,
                &api(&format!("/v2/sites/{site_id}")),
                access,
                &[],
            )
            .await?;
            let loc = v.get("location");
            let part = |k: &str| loc.and_then(|l| str_of(l, k));
            let address = [part("address"), part("city"), part("state"), part("zip")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            Ok(vec![VendorSite {
                external_id: site_id.clone(),
                name: str_of(&v, "name").unwrap_or_else(|| format!("Site {site_id}")),
                address: (!address.is_empty()).then_some(address),
                peak_power_kw: v.get("peakPower").and_then(Value::as_f64),
                status: str_of(&v, "activationStatus").map(|st| status_words(&st)),
            }])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The V2 site list as SolarEdge answers it (the shape of SolarEdge's V2 clients' recorded
    /// answers, docs/vendors/solaredge.md): an object with `count` and a singular `site`.
    #[test]
    fn reads_a_v2_site_list() {
        let body = br#"{"sites":{"count":1,"site":[{"siteId":4012345,"name":"Garcia Residence",
            "peakPower":7.6,"installationDate":"2021-04-01T00:00:00Z",
            "location":{"address":"1234 Oak St","city":"Fresno","state":"CA","zip":"93701","country":"United States"},
            "activationStatus":"ACTIVE","note":""}]}}"#;
        let a: SitesAnswer = serde_json::from_slice(body).unwrap();
        let s = VendorSite::from(a.sites.site.into_iter().next().unwrap());
        assert_eq!(s.external_id, "4012345");
        assert_eq!(s.address.as_deref(), Some("1234 Oak St, Fresno, CA 93701"));
        assert_eq!(s.peak_power_kw, Some(7.6));
        assert_eq!(s.status.as_deref(), Some("Active"));
        assert_eq!(
            status_words("PENDING_COMMUNICATION"),
            "Pending communication"
        );
        // Onramp's earlier picture (a bare array and `totalCount`) is not SolarEdge's.
        let old = br#"{"sites":[{"siteId":1,"name":"x","status":"Active"}],"totalCount":1}"#;
        assert!(serde_json::from_slice::<SitesAnswer>(old).is_err());
    }

    #[test]
    fn a_401_says_solaredge_rejected_the_key_with_its_reason() {
        let e = error_for(
            reqwest::StatusCode::UNAUTHORIZED,
            &Default::default(),
            br#"{"title":"Unauthorized","status":401,"detail":"Unauthorized - Authentication Failed"}"#,
        );
        assert_eq!(e.code, Code::VendorRejected);
        assert!(e
            .message
            .starts_with("SolarEdge rejected this key: Unauthorized - Authentication Failed"));
    }

    #[test]
    fn a_429_with_remaining_credits_is_the_monthly_quota() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-ratelimit-remaining-minute", "0".parse().unwrap());
        h.insert("retry-after", "30".parse().unwrap());
        let e = error_for(reqwest::StatusCode::TOO_MANY_REQUESTS, &h, b"{}");
        assert_eq!((e.code, e.retry_after), (Code::RateLimited, Some(30)));
        let e = error_for(
            reqwest::StatusCode::TOO_MANY_REQUESTS,
            &Default::default(),
            b"{}",
        );
        assert!(e.message.contains("monthly"), "{}", e.message);
    }
}
