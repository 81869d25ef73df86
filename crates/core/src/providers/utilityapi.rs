//! UtilityAPI Green Button Connect My Data: the customer authorizes their utility to share usage
//! (ESPI). Each utility has its own authorize and token URL (a list in onramp.toml); the token
//! answer names the data (`resourceURI`) and the authorization record (`authorizationURI`).

use std::io::Write;
use std::time::Duration;

use super::http::{self, Client};
use super::oauth::{OAuthHosts, OAuthSpec, TokenStyle};

use super::oauth::{Endpoints, TokenEndpoint, Tokens};
use super::{
    AppCheck, Prepared, ProviderSpec, SignInPrep, UsageRequest, Vendor, VendorFuture, VendorSite,
    VendorUsage,
};
use crate::config::{Config, Utility};
use crate::error::{Code, Error, Result};
use crate::model::{ConnectionDetails, ProviderId, RedirectMode, SignInChoice, SignInOptions};
use crate::usage::espi;
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
    refusals: super::refusal::RFC6749,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    sign_in_name: None,
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
                "UtilityAPI no longer accepts Onramp's access to this customer's data.",
            )
            .hint("Re-authorize with the customer: they approve Onramp again at UtilityAPI; the connection is kept.")
            .details("HTTP 401"))
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
                "UtilityAPI refused your company's UtilityAPI app for this authorization.",
            )
            .hint("Nothing for the customer to do: whoever manages your company's UtilityAPI app checks its client id and secret in Settings → Vendor apps, then presses Check.")
            .details(format!("HTTP {status}")))
        }
        429 => return Err(Error::rate_limited(vendor, retry)),
        _ => return Err(http::vendor_failed(vendor, status)),
    }
    let text = String::from_utf8_lossy(&body);
    Ok(crate::usage::authorization_status(&text))
}

/// The UtilityAPI utility picked (or the only one configured) and the scope to ask for.
pub fn utility_choice(config: &Config, options: &SignInOptions) -> Result<(Utility, String)> {
    let utilities = &config.utilities;
    let utility = match options
        .utility
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        Some(id) => config.utility(id).cloned().ok_or_else(|| {
            Error::validation(format!("Onramp has no utility {id:?} configured.")).hint(format!(
                "Pick one of: {} (the [[utility]] list in onramp.toml).",
                utilities
                    .iter()
                    .map(|u| u.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
        None => match utilities.as_slice() {
            [only] => only.clone(),
            [] => return Err(Error::new(
                Code::NotConfigured,
                "No UtilityAPI utility is configured.",
            )
            .hint("Add the utility's authorize and token URLs as a [[utility]] in onramp.toml.")),
            _ => return Err(Error::validation("Pick the customer's utility.")),
        },
    };
    let scope = options
        .scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| config.oauth_scope(SPEC.id))
        .unwrap_or_else(|| DEFAULT_SCOPE.to_string());
    if !scope.starts_with("FB=")
        || scope.len() > 1024
        || scope.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::validation("That is not a Green Button scope.")
            .hint("A scope looks like FB=4_5_15_46;IntervalDuration=3600;HistoryLength=31536000 (no spaces)."));
    }
    Ok((utility, scope))
}

/// Downloads and parses the ESPI feed at `resource_uri` (on the utility's own host only).
pub async fn green_button_feed(
    client: &Client,
    resource_uri: &str,
    token_url: &str,
    access: &Sensitive<String>,
) -> Result<espi::Feed> {
    let url = same_origin(resource_uri, token_url)?;
    let file = download_feed(client, &url, access).await?;
    tokio::task::spawn_blocking(move || espi::parse_file(file.path()))
        .await
        .map_err(|e| Error::internal(format!("reading the usage feed stopped: {e}")))?
        .map_err(|e| {
            Error::new(
                Code::VendorError,
                "UtilityAPI's usage feed could not be read; nothing was stored.",
            )
            .hint("Try Fetch usage again later; if it happens again, contact UtilityAPI support with the Details.")
            .details(e.to_string())
        })
}

/// The meters (usage points) of a feed, as the connection's sites.
pub fn usage_points(feed: &espi::Feed) -> Vec<VendorSite> {
    let mut out: Vec<VendorSite> = Vec::new();
    for s in &feed.series {
        if out.iter().any(|o| o.external_id == s.usage_point) {
            continue;
        }
        out.push(VendorSite {
            external_id: s.usage_point.clone(),
            name: s.title.clone(),
            address: None,
            peak_power_kw: None,
            status: Some(format!("{:?}", s.commodity).to_lowercase()),
        });
    }
    out
}

/// UtilityApi's implementation of [`Vendor`].
pub struct UtilityApi;

impl Vendor for UtilityApi {
    fn spec(&self) -> &'static ProviderSpec {
        &SPEC
    }

    fn choice_label(&self) -> Option<&'static str> {
        Some("Utility")
    }

    /// The utilities `onramp.toml` lists (`[[utility]]`).
    fn configured_choices(&self, config: &Config) -> Option<Vec<SignInChoice>> {
        Some(
            config
                .utilities
                .iter()
                .map(|u| SignInChoice {
                    id: u.id.clone(),
                    label: u.name.clone(),
                })
                .collect(),
        )
    }

    /// The utility the customer chose: its own authorize and token endpoints.
    fn grant_endpoints(
        &self,
        config: &Config,
        details: &ConnectionDetails,
        _configured: Endpoints,
    ) -> Result<Endpoints> {
        let id = details.utility.clone().unwrap_or_default();
        Ok(config
            .utility(&id)
            .ok_or_else(|| {
                Error::new(
                    Code::NotConfigured,
                    format!("The utility {id:?} is no longer configured."),
                )
                .hint("Add it back to the [[utility]] list in onramp.toml.")
            })?
            .endpoints())
    }

    /// The Green Button feed the grant names (`resource_uri`), on the utility's own host.
    fn gives_usage(&self) -> bool {
        true
    }

    /// The utility picked (or the only one configured) and the scope asked for.
    fn prepare_sign_in<'a>(&'a self, p: SignInPrep<'a>) -> VendorFuture<'a, Prepared> {
        Box::pin(async move {
            let (utility, asked) = utility_choice(p.config, p.options)?;
            let details = ConnectionDetails {
                utility: Some(utility.id.clone()),
                utility_name: Some(utility.name.clone()),
                scope_requested: Some(asked.clone()),
                ..ConnectionDetails::default()
            };
            Ok(Prepared {
                endpoints: Some(utility.endpoints()),
                scope: Some(asked),
                details,
                ticket: None,
            })
        })
    }

    fn grant_outlives_usage(&self) -> bool {
        true
    }

    fn checks_with_app(&self) -> bool {
        true
    }

    /// Whether the customer's authorization is still active, asked with Onramp's client access
    /// token (`client_credentials`) at the connection's `authorizationURI`.
    fn check_with_app<'a>(&'a self, c: AppCheck<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async move {
            let uri = c.details.authorization_uri.as_ref().ok_or_else(|| {
                Error::new(
                    Code::VendorRejected,
                    "Onramp does not know this authorization's record.",
                )
                .hint("Connect UtilityAPI again with the customer.")
            })?;
            let url = same_origin(uri, &c.endpoints.token_url)?;
            let client_token = TokenEndpoint {
                client: c.client,
                vendor: "UtilityAPI",
                spec: c.spec,
                endpoints: c.endpoints,
                app: c.app,
            }
            .client_credentials()
            .await?;
            match authorization_status(c.client, &url, &client_token.access_token).await? {
                Some(1) => Ok(c.known),
                Some(0) => Err(Error::new(
                    Code::VendorRejected,
                    "The customer revoked this Green Button authorization.",
                )
                .hint(
                    "Ask the customer to authorize again if they still want to share their usage.",
                )),
                Some(2) => Err(Error::new(
                    Code::VendorRejected,
                    "The utility denied this Green Button authorization.",
                )
                .hint("Ask the customer to authorize again.")),
                _ => Err(Error::new(
                    Code::VendorError,
                    "UtilityAPI's authorization record has no status.",
                )
                .hint("Try again later.")),
            }
        })
    }

    fn check_grant(&self, tokens: &Tokens) -> Result<()> {
        match tokens.resource_uri {
            Some(_) => Ok(()),
            None => Err(Error::new(
                Code::VendorError,
                "UtilityAPI did not say where the customer's data is (no resourceURI).",
            )
            .hint("Start again; if it persists, contact UtilityAPI support.")),
        }
    }

    fn usage<'a>(&'a self, r: UsageRequest<'a>) -> Option<VendorFuture<'a, VendorUsage>> {
        Some(Box::pin(async move {
            let resource = r.details.resource_uri.as_ref().ok_or_else(|| {
                Error::new(
                    Code::ReauthRequired,
                    "Onramp does not know where this customer's usage is.",
                )
                .hint("Connect UtilityAPI again with the customer.")
            })?;
            let feed =
                green_button_feed(r.client, resource, &r.endpoints.token_url, r.access).await?;
            Ok(VendorUsage {
                sites: usage_points(&feed),
                source: format!(
                    "UtilityAPI ({})",
                    r.details.utility_name.clone().unwrap_or_default()
                ),
                series: crate::usage::to_series(&feed, "utilityapi"),
                account: None,
            })
        }))
    }

    fn default_scope(&self) -> Option<&'static str> {
        Some(DEFAULT_SCOPE)
    }
}
