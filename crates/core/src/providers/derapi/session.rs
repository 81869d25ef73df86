//! Derapi Join sessions (the older model): Derapi keeps the credentials the customer grants,
//! and Onramp asks until the session is done.

use serde_json::{json, Value};

use super::{
    app_bearer, call, chosen_vendor, hint, no_sites, stored_credentials, url, vendor_entry,
    vendor_label, vendor_sites, Derapi,
};
use crate::error::{Code, Error, Result};
use crate::model::ConnectionDetails;
use crate::providers::http::{self, Client};
use crate::providers::{Hosted, PolledSignIn, Session, SessionAsk, SessionStart, VendorFuture};
use crate::vault::Sensitive;

/// Join sessions: Derapi holds the vendor's credentials once the customer authorized, and hands
/// Onramp the tokens (`fetch-token`).
impl PolledSignIn for Derapi {
    /// Join runs as flows by default; `join = "session"` chooses the older Join session.
    fn by_default(&self, configured: &crate::config::OAuthConfig) -> bool {
        configured.join.as_deref() == Some("session")
    }

    fn begin<'a>(&'a self, s: SessionStart<'a>) -> VendorFuture<'a, Session> {
        Box::pin(async move {
            let vendor = chosen_vendor(s.options)?;
            let credentials = stored_credentials(s.config, &vendor)?;
            let bearer = app_bearer(s.client, s.spec, s.endpoints, s.app).await?;
            let api = &s.endpoints.api_url;
            let id = start_session(s.client, api, &bearer, &vendor, credentials.as_deref()).await?;
            Ok(Session {
                page_url: session_page_url(api, &id),
                details: ConnectionDetails {
                    vendor: Some(vendor),
                    session_id: Some(id.clone()),
                    ..ConnectionDetails::default()
                },
                id,
            })
        })
    }

    fn poll<'a>(&'a self, a: SessionAsk<'a>) -> VendorFuture<'a, Option<Hosted>> {
        Box::pin(async move {
            let bearer = app_bearer(a.client, a.spec, a.endpoints, a.app).await?;
            let api = &a.endpoints.api_url;
            let t = match fetch_token(a.client, api, &bearer, &a.session.id).await? {
                SessionPoll::Pending => return Ok(None),
                SessionPoll::Declined(why) => {
                    return Err(Error::new(
                        Code::Declined,
                        "The customer closed Derapi Join without authorizing.",
                    )
                    .hint(if why.is_empty() {
                        "Ask the customer whether they want to connect, then start again."
                            .to_string()
                    } else {
                        why
                    }))
                }
                SessionPoll::Done(t) => t,
            };
            let mut details = a.session.details.clone();
            let vendor = t
                .vendor
                .clone()
                .or_else(|| details.vendor.clone())
                .unwrap_or_default();
            let mut sites = vendor_sites(a.client, api, &bearer, &vendor, None).await?;
            if let Some(site) = &t.site_id {
                // Derapi named the customer's site (Enphase Grid Services): only that one.
                sites.retain(|s| &s.external_id == site);
            }
            let label = vendor_label(&vendor).unwrap_or(&vendor).to_string();
            if sites.is_empty() {
                return Err(no_sites(&label));
            }
            details.vendor = Some(vendor);
            details.site_id = t.site_id;
            Ok(Some(Hosted {
                sites,
                details,
                access: Some(t.access_token),
                refresh: t.refresh_token,
                credential_hint: Some(hint(&label)),
                renewal: None,
            }))
        })
    }
}

/// Starts a Join session (the older model) for one vendor, Derapi keeping the credentials the
/// customer grants (`storeCredentials`): its id.
pub async fn start_session(
    client: &Client,
    api: &str,
    bearer: &Sensitive<String>,
    vendor: &str,
    credentials_id: Option<&str>,
) -> Result<String> {
    let (_, v) = call(
        client
            .http
            .post(url(api, "/join/session/start"))
            .bearer_auth(bearer.expose())
            .json(&json!({
                "storeCredentials": true,
                "vendors": [vendor_entry(vendor, credentials_id)],
            })),
    )
    .await?;
    ["sessionID", "session_id"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
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
    Done(SessionTokens),
}

/// What `fetch-token` hands over once the customer authorized.
pub struct SessionTokens {
    pub vendor: Option<String>,
    pub access_token: Sensitive<String>,
    pub refresh_token: Option<Sensitive<String>>,
    /// Seconds the access token lasts (Derapi sends a string).
    pub expires_in: Option<u64>,
    /// The customer's site (Derapi names it for `enphasevpp` only).
    pub site_id: Option<String>,
}

pub(crate) fn text_of(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads a `fetch-token` answer.
pub(crate) fn session_tokens(v: &Value) -> Result<SessionTokens> {
    let access = text_of(v, "accessToken")
        .ok_or_else(|| http::vendor_failed("Derapi", "no access token in the answer"))?;
    Ok(SessionTokens {
        vendor: text_of(v, "vendor"),
        access_token: Sensitive::new(access),
        refresh_token: text_of(v, "refreshToken").map(Sensitive::new),
        expires_in: text_of(v, "expiresIn").and_then(|e| e.trim().parse().ok()),
        site_id: text_of(v, "siteID"),
    })
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
        _ => SessionPoll::Done(session_tokens(&v)?),
    })
}
