//! The authorization-code grant at each vendor: what differs is data ([`OAuthSpec`]: paths,
//! scopes, token style, extra parameters); the exchange, the refresh and the token response
//! are shared. Site discovery after sign-in is the one hook each vendor adds.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use super::http::{self, Client};
use crate::error::{Code, Error, Result, TokenError};
use crate::vault::Sensitive;

/// How a vendor's token endpoint wants the client authenticated and the parameters sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenStyle {
    /// Form body with `client_id` and `client_secret` (Tesla, SMA).
    FormBody,
    /// Parameters in the query string of a POST, client in HTTP Basic (Enphase).
    QueryBasic,
    /// A JSON body with `client_id` and `client_secret` (SolarEdge V2, Metry).
    JsonBody,
    /// A form body, the client in HTTP Basic (UtilityAPI, as ESPI data custodians do).
    FormBasic,
}

/// Default base URLs of a vendor's authorization host, token host and API host.
#[derive(Clone, Copy, Debug)]
pub struct OAuthHosts {
    pub authorize: &'static str,
    pub token: &'static str,
    pub api: &'static str,
}

/// Static facts about a vendor's authorization-code grant.
#[derive(Debug)]
pub struct OAuthSpec {
    pub authorize_path: &'static str,
    pub token_path: &'static str,
    pub scopes: &'static str,
    pub style: TokenStyle,
    /// Extra authorize parameters (Tesla's prompts, SolarEdge's access duration).
    pub authorize_extra: &'static [(&'static str, &'static str)],
    /// Tesla: the token request names the regional API as `audience`.
    pub audience: bool,
    /// Tesla's refresh sends the client id only.
    pub refresh_without_secret: bool,
    /// Enphase: the application API key goes on every data call.
    pub needs_api_key: bool,
    pub hosts: OAuthHosts,
    /// How the customer gets back to Onramp unless Settings say otherwise.
    pub default_redirect: crate::model::RedirectMode,
    /// A page of the vendor's that shows the code for pasting (Enphase's default redirect).
    pub paste_redirect_path: Option<&'static str>,
    /// How long a refresh token lives unused, when the vendor documents it but its token answer
    /// does not say (`refresh_expires_in`). Onramp refreshes well before.
    pub refresh_lifetime: Option<i64>,
    /// What the customer needs at hand.
    pub help: &'static str,
    /// What its token endpoint's refusals mean where the code alone does not say
    /// ([`super::refusal`]; most vendors: [`super::refusal::RFC6749`]).
    pub refusals: &'static [super::refusal::Refusal],
}

/// A vendor app's credentials: the client id (not secret), the secret and Enphase's API key.
/// A public client (PKCE only, where the vendor allows one: [`super::public_client_allowed`]) has no
/// secret.
#[derive(Clone, Debug)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: Option<Sensitive<String>>,
    pub api_key: Option<Sensitive<String>>,
}

impl AppCredentials {
    /// The secret as sent where the vendor's token style always carries one (empty for a
    /// public client, which those vendors never accept: see [`super::public_client_allowed`]).
    pub fn secret(&self) -> &str {
        self.client_secret
            .as_ref()
            .map(|s| s.expose().as_str())
            .unwrap_or_default()
    }
}

/// An authorize or token endpoint as `onramp.toml` gives it. Decided by the URL's shape alone:
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointUrl {
    /// An origin: a path that is empty or `/`, and no query (`https://auth.example.com`). The
    /// vendor's host: Onramp adds the vendor's own path (`/oauth2/v3/token`), as it always did.
    Host(url::Url),
    /// Anything with a path beyond `/` or a query
    /// (`https://idp.example.com/realms/solar/protocol/openid-connect/token`): the endpoint
    /// itself, used exactly as given.
    Full(url::Url),
}

impl EndpointUrl {
    pub fn parse(configured: &str) -> Result<EndpointUrl, url::ParseError> {
        let url = url::Url::parse(configured.trim())?;
        let origin_only = matches!(url.path(), "" | "/") && url.query().is_none();
        Ok(if origin_only {
            EndpointUrl::Host(url)
        } else {
            EndpointUrl::Full(url)
        })
    }

    /// The endpoint to call: the full URL, or the host with the vendor's path.
    pub fn resolve(&self, vendor_path: &str) -> String {
        match self {
            EndpointUrl::Full(u) => u.to_string(),
            EndpointUrl::Host(u) => join(u.as_str(), vendor_path),
        }
    }
}

/// The endpoint a configured URL means (see [`EndpointUrl`]); a value that is not a URL (a
/// configuration refuses those when it is read) is taken as a host, as before.
pub fn resolve_endpoint(configured: &str, vendor_path: &str) -> String {
    match EndpointUrl::parse(configured) {
        Ok(e) => e.resolve(vendor_path),
        Err(_) => join(configured, vendor_path),
    }
}

/// Where a provider's OAuth endpoints live: the authorize and token endpoints as full URLs,
/// the data API as a base URL the vendor's paths are added to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    pub authorize_url: String,
    pub token_url: String,
    pub api_url: String,
}

impl Endpoints {
    /// The vendor's own endpoints.
    pub fn defaults(spec: &OAuthSpec) -> Endpoints {
        Endpoints {
            authorize_url: join(spec.hosts.authorize, spec.authorize_path),
            token_url: join(spec.hosts.token, spec.token_path),
            api_url: spec.hosts.api.to_string(),
        }
    }

    /// One host for everything (the sandbox), as configuration: [`crate::config::Config::
    /// oauth_endpoints`] adds the vendor's paths to it.
    pub fn same(base: &str) -> Endpoints {
        Endpoints {
            authorize_url: base.to_string(),
            token_url: base.to_string(),
            api_url: base.to_string(),
        }
    }
}

pub(crate) fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// The URL to open in the browser.
pub fn authorize_url(
    spec: &OAuthSpec,
    ep: &Endpoints,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
    scope: &str,
) -> Result<String> {
    let mut url = url::Url::parse(&ep.authorize_url).map_err(|e| {
        Error::new(
            Code::NotConfigured,
            format!("The authorize URL is not valid: {e}"),
        )
    })?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        if !scope.is_empty() {
            q.append_pair("scope", scope);
        }
        for (k, v) in spec.authorize_extra {
            q.append_pair(k, v);
        }
    }
    Ok(url.into())
}

/// Tokens as a vendor answered them.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<Value>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    refresh_expires_in: Option<Value>,
    /// ESPI (Green Button): where the customer's data and the authorization record live.
    #[serde(default, rename = "resourceURI")]
    resource_uri: Option<String>,
    #[serde(default, rename = "authorizationURI")]
    authorization_uri: Option<String>,
}

/// A token set, secrets wrapped.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access_token: Sensitive<String>,
    pub refresh_token: Option<Sensitive<String>>,
    /// Seconds from issue.
    pub expires_in: Option<i64>,
    pub refresh_expires_in: Option<i64>,
    /// The scope the vendor granted (the customer may have changed it).
    pub scope: Option<String>,
    /// ESPI's `resourceURI` and `authorizationURI` (UtilityAPI).
    pub resource_uri: Option<String>,
    pub authorization_uri: Option<String>,
}

fn seconds(v: &Option<Value>) -> Option<i64> {
    match v {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// A token endpoint's refusal (a non-2xx answer) as Onramp's typed error.
pub fn token_error(
    vendor: &str,
    refusals: &[super::refusal::Refusal],
    status: reqwest::StatusCode,
    body: &[u8],
    retry: Option<u64>,
) -> Error {
    if status.as_u16() == 429 {
        return Error::rate_limited(vendor, retry);
    }
    let parsed: Option<OAuthError> = http::json_object(body).ok();
    let Some(e) = parsed else {
        return http::vendor_failed(vendor, format!("the token endpoint answered {status}"));
    };
    let why = e
        .error_description
        .as_ref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let read = super::refusal::read(refusals, &e.error, e.error_description.as_deref());
    let mut out = token_refusal(vendor, read, &e.error, &why);
    out.token_error = read;
    out.vendor_description = e.error_description;
    out
}

/// A token endpoint's success answer (the body of a 2xx), read into tokens.
pub fn token_answer(vendor: &str, body: &[u8]) -> Result<Tokens> {
    let t: TokenResponse = http::json_object(body)
        .map_err(|e| http::vendor_failed(vendor, format!("an unreadable token answer ({e})")))?;
    Ok(Tokens {
        access_token: Sensitive::new(t.access_token),
        refresh_token: t
            .refresh_token
            .filter(|r| !r.is_empty())
            .map(Sensitive::new),
        expires_in: seconds(&t.expires_in),
        refresh_expires_in: seconds(&t.refresh_expires_in).filter(|s| *s > 0),
        scope: t.scope,
        resource_uri: t.resource_uri,
        authorization_uri: t.authorization_uri,
    })
}

/// What a token endpoint's refusal means, in the installer's words, decided on what the
/// vendor's table made of it.
fn token_refusal(vendor: &str, read: Option<TokenError>, error: &str, why: &str) -> Error {
    match read {
        Some(t) if t.app_refused() => Error::new(
            Code::NotConfigured,
            format!("{vendor} refused your company's {vendor} app (its client id or secret)."),
        )
        .hint(format!("Nothing for the customer to do: whoever manages your company's {vendor} app checks its client id and secret at {vendor}, enters them again in Settings → Vendor apps, then presses Check."))
        .details(format!("{error}{why}")),
        Some(t) if t.grant_refused() => Error::new(
            Code::ReauthRequired,
            format!("{vendor} no longer accepts this sign-in: it expired, was already used, or the customer withdrew it."),
        )
        .hint("Start the connection again with the customer.")
        .details(format!("{error}{why}")),
        _ => http::vendor_failed(vendor, format!("{error}{why}")),
    }
}

/// A vendor's token endpoint, with the app credentials Onramp presents there.
pub struct TokenEndpoint<'a> {
    pub client: &'a Client,
    /// The vendor's name, for messages.
    pub vendor: &'a str,
    pub spec: &'a OAuthSpec,
    pub endpoints: &'a Endpoints,
    pub app: &'a AppCredentials,
}

impl TokenEndpoint<'_> {
    /// One token request in the vendor's style.
    /// POSTs to one of the vendor's OAuth endpoints and hands back the body of a success; a
    /// refusal becomes the typed token error ([`token_error`]: the RFC 6749 code, the vendor's
    /// own codes through its refusal table, rate limits with their retry-after).
    async fn call(&self, url: &str, params: BTreeMap<&'static str, String>) -> Result<Vec<u8>> {
        let vendor = self.vendor;
        let resp = self
            .post(url, params)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| http::network(vendor, &e))?;
        let status = resp.status();
        let retry = http::retry_after(resp.headers());
        let body = http::read_body(vendor, resp).await?;
        if !status.is_success() {
            return Err(token_error(
                vendor,
                self.spec.refusals,
                status,
                &body,
                retry,
            ));
        }
        Ok(body)
    }

    async fn request(&self, params: BTreeMap<&'static str, String>) -> Result<Tokens> {
        let vendor = self.vendor;
        let body = self.call(&self.endpoints.token_url, params).await?;
        token_answer(vendor, &body)
    }

    /// Revokes a token at the vendor's revocation endpoint (RFC 7009 or the vendor's own,
    /// authenticated the way its token endpoint is). A 2xx is success, whatever the token was.
    pub async fn revoke(&self, url: &str, token: &Sensitive<String>, hint: &str) -> Result<()> {
        let mut p = BTreeMap::new();
        p.insert("token", token.expose().clone());
        p.insert("token_type_hint", hint.to_string());
        self.call(url, p).await.map(drop)
    }

    /// A POST in the vendor's token style: parameters and client authentication where the
    /// vendor wants them.
    fn post(
        &self,
        url: &str,
        mut params: BTreeMap<&'static str, String>,
    ) -> reqwest::RequestBuilder {
        let (spec, app) = (self.spec, self.app);
        let refresh = params.get("grant_type").map(String::as_str) == Some("refresh_token");
        let secret = app.secret().to_string();
        let http = &self.client.http;
        match spec.style {
            TokenStyle::FormBody => {
                params.insert("client_id", app.client_id.clone());
                // A public client has no secret to send (RFC 6749 §2.1): its client id and the
                // PKCE verifier are all it presents.
                if app.client_secret.is_some() && !(refresh && spec.refresh_without_secret) {
                    params.insert("client_secret", secret);
                }
                http.post(url).form(&params)
            }
            TokenStyle::QueryBasic => {
                let basic = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{secret}", app.client_id));
                http.post(url)
                    .query(&params)
                    .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
            }
            TokenStyle::JsonBody => {
                params.insert("client_id", app.client_id.clone());
                params.insert("client_secret", secret);
                http.post(url).json(&params)
            }
            TokenStyle::FormBasic => http
                .post(url)
                .basic_auth(&app.client_id, Some(secret))
                .form(&params),
        }
    }

    /// A new access token from the refresh token. The caller keeps the old refresh token when
    /// the answer carries none.
    pub async fn refresh(&self, refresh_token: &Sensitive<String>) -> Result<Tokens> {
        let mut p = BTreeMap::new();
        p.insert("grant_type", "refresh_token".to_string());
        p.insert("refresh_token", refresh_token.expose().clone());
        self.request(p).await
    }

    /// The resource owner's password grant (RFC 6749 §4.3): Enphase's partner plan signs its
    /// application in as the installer's Enlighten user. The password goes in this one request
    /// and is kept nowhere.
    pub async fn password(&self, username: &str, password: &Sensitive<String>) -> Result<Tokens> {
        let mut p = BTreeMap::new();
        p.insert("grant_type", "password".to_string());
        p.insert("username", username.to_string());
        p.insert("password", password.expose().clone());
        self.request(p).await
    }

    /// The client's own token (`client_credentials`): UtilityAPI's client access token.
    pub async fn client_credentials(&self) -> Result<Tokens> {
        let mut p = BTreeMap::new();
        p.insert("grant_type", "client_credentials".to_string());
        self.request(p).await
    }

    /// Exchanges an authorization code, at once (some vendors' codes live seconds).
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &Sensitive<String>,
    ) -> Result<Tokens> {
        let mut p = BTreeMap::new();
        p.insert("grant_type", "authorization_code".to_string());
        p.insert("code", code.to_string());
        p.insert("redirect_uri", redirect_uri.to_string());
        p.insert("code_verifier", verifier.expose().clone());
        if self.spec.audience {
            p.insert("audience", self.endpoints.api_url.clone());
        }
        self.request(p).await
    }
}

/// A GET on the vendor's API with the access token: the status and body as they came.
pub(crate) async fn raw_get(
    client: &Client,
    vendor: &str,
    url: &str,
    access: &Sensitive<String>,
    query: &[(&str, &str)],
) -> Result<(reqwest::StatusCode, Vec<u8>, Option<u64>)> {
    let resp = client
        .http
        .get(url)
        .query(query)
        .bearer_auth(access.expose())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| http::network(vendor, &e))?;
    let status = resp.status();
    let retry = http::retry_after(resp.headers());
    Ok((status, http::read_body(vendor, resp).await?, retry))
}

/// A GET on the vendor's API with the access token; errors in the vendor's words.
pub async fn api_get(
    client: &Client,
    vendor: &str,
    url: &str,
    access: &Sensitive<String>,
    query: &[(&str, &str)],
) -> Result<Value> {
    let (status, body, retry) = raw_get(client, vendor, url, access, query).await?;
    read_answer(vendor, status, &body, retry)
}

/// A data API answer as JSON, or the error it means.
pub(crate) fn read_answer(
    vendor: &str,
    status: reqwest::StatusCode,
    body: &[u8],
    retry: Option<u64>,
) -> Result<Value> {
    match status.as_u16() {
        200..=299 => serde_json::from_slice(body)
            .map_err(|e| http::vendor_failed(vendor, format!("an unreadable answer ({e})"))),
        401 | 403 => {
            let detail = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| {
                    ["details", "detail", "error", "message"]
                        .iter()
                        .find_map(|k| v.get(k).and_then(Value::as_str).map(str::to_string))
                })
                .unwrap_or_else(|| status.to_string());
            Err(Error::new(
                Code::VendorRejected,
                format!("{vendor} refused Onramp's access to this customer's data."),
            )
            .hint(format!("Re-authorize with the customer: they sign in at {vendor} again. If every {vendor} connection says this, check your company's {vendor} app in Settings → Vendor apps."))
            .details(detail))
        }
        429 => Err(Error::rate_limited(vendor, retry)),
        _ => Err(http::vendor_failed(vendor, status)),
    }
}

pub(crate) fn str_of(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: serde reads a struct from a JSON array, field by field, so
    /// `["abc"]` was an access token "abc". A token answer is an object or is refused.
    #[test]
    fn a_token_answer_that_is_not_an_object_is_refused() {
        for body in [&br#"["abc", "def"]"#[..], b" [\"abc\"]", b"\"abc\"", b"7"] {
            let e = token_answer("Tesla", body).unwrap_err();
            assert_eq!(
                e.code,
                Code::VendorError,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let t = token_answer("Tesla", b" \n{\"access_token\": \"abc\"}").unwrap();
        assert_eq!(t.access_token.expose(), "abc");
    }

    #[test]
    fn reads_the_region_from_teslas_token() {
        use crate::providers::tesla::tesla_region;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"sub":"u1","ou_code":"eu"}"#);
        assert_eq!(
            tesla_region(&format!("eyJhbGciOiJub25lIn0.{claims}.sig")).as_deref(),
            Some("EU")
        );
        assert_eq!(tesla_region("not-a-jwt"), None);
    }

    #[test]
    fn the_authorize_url_carries_pkce_state_and_vendor_extras() {
        let ep = Endpoints::defaults(&crate::providers::tesla::OAUTH);
        let u = authorize_url(
            &crate::providers::tesla::OAUTH,
            &ep,
            "cid",
            "onramp://oauth/callback",
            "st",
            "ch",
            crate::providers::tesla::OAUTH.scopes,
        )
        .unwrap();
        let u = url::Url::parse(&u).unwrap();
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(
            u.as_str().split('?').next(),
            Some("https://auth.tesla.com/oauth2/v3/authorize")
        );
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["scope"], "openid offline_access energy_device_data");
        assert_eq!(q["prompt_missing_scopes"], "true");
        assert_eq!(q["redirect_uri"], "onramp://oauth/callback");
        let enphase = Endpoints::defaults(&crate::providers::enphase::OAUTH);
        let u = authorize_url(
            &crate::providers::enphase::OAUTH,
            &enphase,
            "c",
            "r",
            "s",
            "c",
            "",
        )
        .unwrap();
        assert!(!u.contains("scope="), "Enphase takes no scope: {u}");
    }
}
