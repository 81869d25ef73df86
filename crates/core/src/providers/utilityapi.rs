//! UtilityAPI Green Button Connect My Data: the customer authorizes their utility to share usage
//! (ESPI). Each utility has its own authorize and token URL (a list in onramp.toml); the token
//! answer names the data (`resourceURI`) and the authorization record (`authorizationURI`).

use std::io::Write;
use std::time::Duration;

use super::http::{self, Client};
use super::oauth::{OAuthHosts, OAuthSpec, TokenStyle};
use super::ProviderSpec;
use crate::error::{Code, Error, Result};
use crate::model::{ProviderId, RedirectMode};
use crate::vault::Sensitive;

/// What Onramp asks for unless the installer edits it: usage and cost intervals (15-minute or
/// hourly), a year of history, daily blocks.
pub const DEFAULT_SCOPE: &str =
    "FB=1_3_4_5_8_13_14_18_19_31_32_35_37_38_39_40_41_44_46;IntervalDuration=900_3600;BlockDuration=daily;HistoryLength=31536000";

pub static OAUTH: OAuthSpec = OAuthSpec {
    // Per utility: the configured URLs are complete.
    authorize_path: "",
    token_path: "",
    scopes: DEFAULT_SCOPE,
    style: TokenStyle::FormBasic,
    authorize_extra: &[],
    audience: false,
    refresh_without_secret: false,
    needs_api_key: false,
    hosts: OAuthHosts {
        authorize: "https://utilityapi.com/DataCustodian/demo/oauth/authorize",
        token: "https://utilityapi.com/DataCustodian/demo/oauth/token",
        api: "https://utilityapi.com",
    },
    default_redirect: RedirectMode::Loopback,
    paste_redirect_path: None,
    refresh_lifetime: None,
    help: "The customer signs in at their utility (through UtilityAPI) and approves sharing their usage. They may narrow what is shared; Onramp shows what was granted.",
};

pub static SPEC: ProviderSpec = ProviderSpec {
    id: ProviderId::Utilityapi,
    name: "UtilityAPI",
    site_noun: "meter",
    production_base_url: "https://utilityapi.com",
    fields: &[],
    account_fields: None,
    customer_key_help: "",
    account_key_help: "",
    oauth: Some(&OAUTH),
    category: crate::model::Category::Utility,
    note: Some("Green Button Connect My Data: the customer's utility shares their electricity and gas usage."),
};

/// Longest feed Onramp downloads (a year of 15-minute data for a few meters is far smaller).
const FEED_LIMIT: u64 = 512 * 1024 * 1024;

/// `resourceURI` and `authorizationURI` must be on the utility's own host: the access token is
/// never sent anywhere else.
pub fn same_origin(uri: &str, token_url: &str) -> Result<url::Url> {
    let bad = || {
        Error::new(
            Code::VendorError,
            "UtilityAPI named a data address on another host; Onramp did not send the token there.",
        )
        .hint("Check the utility's token URL in onramp.toml, then connect again.")
    };
    let u = url::Url::parse(uri).map_err(|_| bad())?;
    let t = url::Url::parse(token_url).map_err(|_| bad())?;
    if u.scheme() != t.scheme()
        || u.host_str() != t.host_str()
        || u.port_or_known_default() != t.port_or_known_default()
    {
        return Err(bad());
    }
    Ok(u)
}

/// Downloads the ESPI feed at `resource_uri` into a temporary file, chunk by chunk, so a
/// multi-megabyte feed never sits in memory. A 401 means the token is missing, expired or
/// invalid (refresh and retry); a 403 that it is the wrong class of token or not for this
/// subscription.
pub async fn download_feed(
    client: &Client,
    resource_uri: &url::Url,
    access: &Sensitive<String>,
) -> Result<tempfile::NamedTempFile> {
    let vendor = SPEC.name;
    let mut resp = client
        .http
        .get(resource_uri.clone())
        .bearer_auth(access.expose())
        .header(reqwest::header::ACCEPT, "application/atom+xml")
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .map_err(|e| http::network(vendor, &e))?;
    let status = resp.status();
    match status.as_u16() {
        200..=299 => {}
        401 => {
            return Err(Error::new(
                Code::ReauthRequired,
                "UtilityAPI did not accept the access token (401: missing, expired or invalid).",
            )
            .hint("Onramp refreshes it and tries again; if that fails, the customer authorizes again."))
        }
        403 => {
            return Err(Error::new(
                Code::VendorRejected,
                "UtilityAPI refused the usage data (403): this token does not grant this subscription.",
            )
            .hint("The customer may have revoked or narrowed the authorization. Ask them to authorize again."))
        }
        429 => return Err(Error::rate_limited(vendor, http::retry_after(resp.headers()))),
        _ => return Err(http::vendor_failed(vendor, status)),
    }
    let mut file = tempfile::NamedTempFile::new()
        .map_err(|e| Error::internal(format!("cannot create a temporary file: {e}")))?;
    let mut total: u64 = 0;
    while let Some(chunk) = resp.chunk().await.map_err(|e| http::network(vendor, &e))? {
        total += chunk.len() as u64;
        if total > FEED_LIMIT {
            return Err(http::vendor_failed(vendor, "the usage feed was too large"));
        }
        file.write_all(&chunk)
            .map_err(|e| Error::internal(format!("cannot write the usage feed: {e}")))?;
    }
    file.flush()
        .map_err(|e| Error::internal(format!("cannot write the usage feed: {e}")))?;
    Ok(file)
}

/// Whether the authorization is still active, asked at `authorizationURI` with the client
/// access token (`client_credentials`). ESPI status: 1 active, 0 revoked, 2 denied.
pub async fn authorization_status(
    client: &Client,
    authorization_uri: &url::Url,
    client_token: &Sensitive<String>,
) -> Result<Option<u32>> {
    let vendor = SPEC.name;
    let resp = client
        .http
        .get(authorization_uri.clone())
        .bearer_auth(client_token.expose())
        .header(reqwest::header::ACCEPT, "application/atom+xml")
        .send()
        .await
        .map_err(|e| http::network(vendor, &e))?;
    let status = resp.status();
    let retry = http::retry_after(resp.headers());
    let body = http::read_body(vendor, resp).await?;
    match status.as_u16() {
        200..=299 => {}
        401 | 403 => {
            return Err(Error::new(
                Code::VendorRejected,
                format!("UtilityAPI refused the authorization record ({status})."),
            )
            .hint("Check the UtilityAPI client id and secret in Settings → Vendor apps."))
        }
        429 => return Err(Error::rate_limited(vendor, retry)),
        _ => return Err(http::vendor_failed(vendor, status)),
    }
    let text = String::from_utf8_lossy(&body);
    Ok(crate::usage::authorization_status(&text))
}
