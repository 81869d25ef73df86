//! Strict OAuth 2.0 authorization servers, one per vendor, with that vendor's paths, token
//! style, lifetimes and rotation, and the data endpoint Onramp discovers sites with.
//!
//! What a strict server enforces is enforced here: PKCE S256 (a wrong or missing verifier is
//! `invalid_grant`), the exact `redirect_uri` of the authorize step, single-use codes (a reused
//! code revokes the grant), code expiry, single-use refresh tokens where the vendor rotates
//! them (a rotated-out one revokes the grant), and client authentication (`invalid_client`).
//! The authorize step consents at once for the sandbox's test account, or declines when told to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::fleet::{self, FleetSite};

/// A vendor that enrolls through the authorization-code grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum OAuthVendor {
    Tesla,
    Enphase,
    Sma,
    SolarEdgeSite,
}

impl OAuthVendor {
    pub const ALL: [OAuthVendor; 4] = [
        OAuthVendor::Tesla,
        OAuthVendor::Enphase,
        OAuthVendor::Sma,
        OAuthVendor::SolarEdgeSite,
    ];

    /// (authorize path, token path) at the vendor.
    pub fn paths(self) -> (&'static str, &'static str) {
        match self {
            OAuthVendor::Tesla => ("/oauth2/v3/authorize", "/oauth2/v3/token"),
            OAuthVendor::Enphase => ("/oauth/authorize", "/oauth/token"),
            OAuthVendor::Sma => ("/oauth2/auth", "/oauth2/token"),
            OAuthVendor::SolarEdgeSite => ("/authorize", "/v2/oauth2/token"),
        }
    }

    fn salt(self) -> u64 {
        match self {
            OAuthVendor::Tesla => 0x7e5,
            OAuthVendor::Enphase => 0xe9,
            OAuthVendor::Sma => 0x5a,
            OAuthVendor::SolarEdgeSite => 0x5e0,
        }
    }

    /// Access token lifetime and refresh token lifetime (None: does not expire), in seconds.
    fn lifetimes(self, offline: bool) -> (u64, Option<u64>) {
        match self {
            OAuthVendor::Tesla => (28_800, Some(90 * 86_400)),
            OAuthVendor::Enphase => (86_393, Some(7 * 86_400)),
            OAuthVendor::Sma if offline => (300, None),
            OAuthVendor::Sma => (300, Some(1_800)),
            OAuthVendor::SolarEdgeSite => (7_200, Some(30 * 86_400)),
        }
    }
}

/// The app registration the sandbox knows for a vendor.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    /// Enphase's application API key (`key=` on every data call).
    pub api_key: Option<String>,
}

/// One token-endpoint request, for tests that prove a request did or did not happen.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub grant_type: String,
    /// The error code answered, if any.
    pub error: Option<String>,
}

struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    scope: String,
    issued: Instant,
    used: bool,
    grant: u64,
}

struct Grant {
    revoked: bool,
    scope: String,
    offline: bool,
}

struct RefreshToken {
    grant: u64,
    current: bool,
    expires: Option<Instant>,
}

#[derive(Default)]
struct Books {
    codes: HashMap<String, CodeGrant>,
    grants: HashMap<u64, Grant>,
    access: HashMap<String, (u64, Instant)>,
    refresh: HashMap<String, RefreshToken>,
    next_grant: u64,
}

pub(crate) struct Server {
    vendor: OAuthVendor,
    pub(crate) client: OAuthClient,
    /// The test account's systems.
    sites: Vec<FleetSite>,
    registered: Mutex<Vec<String>>,
    code_ttl: Duration,
    decline: AtomicBool,
    /// Tesla: the account lives in another region; the default API answers 421.
    other_region: AtomicBool,
    token_requests: AtomicU64,
    log: Mutex<Vec<TokenRequest>>,
    books: Mutex<Books>,
    rng: Mutex<rand::rngs::StdRng>,
    /// Filled in once the server has its address (Tesla's region answer names it).
    pub(crate) base_url: Mutex<String>,
}

impl Server {
    pub(crate) fn new(
        vendor: OAuthVendor,
        seed: u64,
        registered: Vec<String>,
        code_ttl: Duration,
    ) -> Arc<Server> {
        let mut rng = fleet::rng(seed, vendor.salt());
        let client = OAuthClient {
            client_id: format!(
                "{:08x}-sandbox-{}",
                rng.gen::<u32>(),
                format!("{vendor:?}").to_lowercase()
            ),
            client_secret: fleet::solis_secret(&mut rng),
            api_key: (vendor == OAuthVendor::Enphase).then(|| fleet::solis_secret(&mut rng)),
        };
        let n = if vendor == OAuthVendor::SolarEdgeSite {
            1
        } else {
            2
        };
        Arc::new(Server {
            vendor,
            client,
            sites: fleet::sites(
                seed,
                vendor.salt() << 8,
                n,
                7_000_001 + vendor.salt() * 1000,
            ),
            registered: Mutex::new(registered),
            code_ttl,
            decline: AtomicBool::new(false),
            other_region: AtomicBool::new(false),
            token_requests: AtomicU64::new(0),
            log: Mutex::default(),
            books: Mutex::default(),
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(rand::random())),
            base_url: Mutex::default(),
        })
    }

    pub(crate) fn set_registered(&self, uris: Vec<String>) {
        *self.registered.lock().unwrap_or_else(|p| p.into_inner()) = uris;
    }

    pub(crate) fn set_other_region(&self, other: bool) {
        self.other_region.store(other, Ordering::SeqCst);
    }

    pub(crate) fn set_decline(&self, decline: bool) {
        self.decline.store(decline, Ordering::SeqCst);
    }

    pub(crate) fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::SeqCst)
    }

    pub(crate) fn token_log(&self) -> Vec<TokenRequest> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn site_ids(&self) -> Vec<String> {
        self.sites.iter().map(|s| s.id.to_string()).collect()
    }

    fn token(&self, prefix: &str) -> String {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let bytes: [u8; 24] = rng.gen();
        format!(
            "{prefix}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )
    }

    fn redirect_ok(&self, uri: &str) -> bool {
        if self
            .registered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|r| r == uri)
        {
            return true;
        }
        // RFC 8252 §7.3: any port on the loopback address.
        url_loopback(uri)
    }
}

fn url_loopback(uri: &str) -> bool {
    uri.strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(port, _)| port.parse::<u16>().is_ok())
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn page(status: StatusCode, text: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><title>Sandbox</title><p>{text}</p>"
        )),
    )
        .into_response()
}

async fn authorize(
    State(s): State<Arc<Server>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("response_type") != "code" {
        return page(StatusCode::BAD_REQUEST, "unsupported_response_type");
    }
    if get("client_id") != s.client.client_id {
        return page(
            StatusCode::BAD_REQUEST,
            "Unknown client_id: this app is not registered.",
        );
    }
    let redirect_uri = get("redirect_uri").to_string();
    if !s.redirect_ok(&redirect_uri) {
        // Never redirect to an unregistered address.
        return page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not registered for this app.",
        );
    }
    let state = get("state").to_string();
    let mut target = match url::Url::parse(&redirect_uri) {
        Ok(u) => u,
        Err(_) => return page(StatusCode::BAD_REQUEST, "The redirect_uri is not a URL."),
    };
    let challenge = q.get("code_challenge").cloned();
    if challenge.is_some() && get("code_challenge_method") != "S256" {
        let mut p = target.query_pairs_mut();
        p.append_pair("error", "invalid_request")
            .append_pair("error_description", "code_challenge_method must be S256");
        if !state.is_empty() {
            p.append_pair("state", &state);
        }
        drop(p);
        return Redirect::to(target.as_str()).into_response();
    }
    if s.decline.load(Ordering::SeqCst) {
        let mut p = target.query_pairs_mut();
        p.append_pair("error", "access_denied")
            .append_pair("error_description", "The user denied access");
        if !state.is_empty() {
            p.append_pair("state", &state);
        }
        drop(p);
        return Redirect::to(target.as_str()).into_response();
    }
    let code = s.token("code_");
    let scope = get("scope").to_string();
    {
        let mut b = s.books.lock().unwrap_or_else(|p| p.into_inner());
        b.next_grant += 1;
        let grant = b.next_grant;
        let offline = scope.split_whitespace().any(|x| x == "offline_access");
        b.grants.insert(
            grant,
            Grant {
                revoked: false,
                scope: scope.clone(),
                offline,
            },
        );
        b.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: s.client.client_id.clone(),
                redirect_uri: redirect_uri.clone(),
                challenge,
                scope,
                issued: Instant::now(),
                used: false,
                grant,
            },
        );
    }
    {
        let mut p = target.query_pairs_mut();
        p.append_pair("code", &code);
        if !state.is_empty() {
            p.append_pair("state", &state);
        }
        if s.vendor == OAuthVendor::SolarEdgeSite {
            p.append_pair("site_id", &s.sites[0].id.to_string());
        }
    }
    Redirect::to(target.as_str()).into_response()
}

/// Enphase's default redirect page: shows the code for the user to copy.
async fn enphase_redirect_page(Query(q): Query<HashMap<String, String>>) -> Response {
    match q.get("code") {
        Some(code) => page(
            StatusCode::OK,
            &format!("Authorization code: <code>{code}</code>. Copy it into the app."),
        ),
        None => page(
            StatusCode::OK,
            &format!(
                "Authorization failed: {}",
                q.get("error").cloned().unwrap_or_default()
            ),
        ),
    }
}

/// The token request's parameters, read the way this vendor sends them.
fn params(
    vendor: OAuthVendor,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<HashMap<String, String>, Response> {
    let bad = || {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body could not be read",
        )
    };
    match vendor {
        OAuthVendor::Enphase => Ok(url::form_urlencoded::parse(
            uri.query().unwrap_or_default().as_bytes(),
        )
        .into_owned()
        .collect()),
        OAuthVendor::SolarEdgeSite => {
            let v: Value = serde_json::from_slice(body).map_err(|_| bad())?;
            let obj = v.as_object().ok_or_else(bad)?;
            Ok(obj
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect())
        }
        OAuthVendor::Tesla | OAuthVendor::Sma => {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !ct.starts_with("application/x-www-form-urlencoded") {
                return Err(bad());
            }
            Ok(url::form_urlencoded::parse(body).into_owned().collect())
        }
    }
}

/// Client authentication as the vendor expects it.
fn client_ok(s: &Server, p: &HashMap<String, String>, headers: &HeaderMap) -> bool {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        });
    let body = p
        .get("client_id")
        .cloned()
        .zip(p.get("client_secret").cloned());
    let want = (s.client.client_id.clone(), s.client.client_secret.clone());
    match s.vendor {
        OAuthVendor::Enphase => basic == Some(want),
        OAuthVendor::Sma => basic == Some(want.clone()) || body == Some(want),
        OAuthVendor::Tesla if p.get("grant_type").map(String::as_str) == Some("refresh_token") => {
            // Tesla's refresh sends the client_id only.
            p.get("client_id") == Some(&want.0)
        }
        OAuthVendor::Tesla | OAuthVendor::SolarEdgeSite => body == Some(want),
    }
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn jwt(claims: Value) -> String {
    let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.sandbox",
        e(&json!({"alg": "none", "typ": "JWT"})),
        e(&claims)
    )
}

fn issue(s: &Server, b: &mut Books, grant: u64) -> Value {
    let g = &b.grants[&grant];
    let (access_ttl, refresh_ttl) = s.vendor.lifetimes(g.offline);
    let scope = g.scope.clone();
    let access = match s.vendor {
        OAuthVendor::Tesla => jwt(json!({
            "sub": "sandbox-user-1", "ou_code": "NA", "aud": "sandbox",
            "scp": scope.split_whitespace().collect::<Vec<_>>(), "jti": s.token(""),
        })),
        _ => s.token("at_"),
    };
    let refresh = s.token("rt_");
    b.access.insert(
        access.clone(),
        (grant, Instant::now() + Duration::from_secs(access_ttl)),
    );
    b.refresh.insert(
        refresh.clone(),
        RefreshToken {
            grant,
            current: true,
            expires: refresh_ttl.map(|t| Instant::now() + Duration::from_secs(t)),
        },
    );
    let mut out = json!({
        "access_token": access, "token_type": "Bearer", "expires_in": access_ttl,
        "refresh_token": refresh, "scope": scope,
    });
    match s.vendor {
        OAuthVendor::Enphase => {
            out["token_type"] = json!("bearer");
            out["enl_uid"] = json!("sandbox-enl-1");
            out["enl_cid"] = json!("sandbox-cid-1");
        }
        OAuthVendor::Sma => {
            out["refresh_expires_in"] = json!(refresh_ttl.unwrap_or(0));
        }
        _ => {}
    }
    out
}

async fn token(
    State(s): State<Arc<Server>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.token_requests.fetch_add(1, Ordering::SeqCst);
    let (grant_type, result) = match params(s.vendor, &uri, &headers, &body) {
        Err(r) => (String::new(), Err(("invalid_request", r))),
        Ok(p) => {
            let gt = p.get("grant_type").cloned().unwrap_or_default();
            (gt, exchange(&s, &p, &headers))
        }
    };
    s.log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(TokenRequest {
            grant_type,
            error: result.as_ref().err().map(|(e, _)| e.to_string()),
        });
    match result {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err((_, r)) => r,
    }
}

type Refusal = (&'static str, Response);

fn refuse(error: &'static str, description: &str) -> Refusal {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    (error, oauth_error(status, error, description))
}

fn exchange(
    s: &Server,
    p: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Value, Refusal> {
    if !client_ok(s, p, headers) {
        return Err(refuse("invalid_client", "Client authentication failed"));
    }
    let mut b = s.books.lock().unwrap_or_else(|p| p.into_inner());
    match p.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = p.get("code").cloned().unwrap_or_default();
            let Some(c) = b.codes.get_mut(&code) else {
                return Err(refuse("invalid_grant", "Unknown authorization code"));
            };
            if c.used {
                // A replayed code: revoke everything issued from it.
                let grant = c.grant;
                if let Some(g) = b.grants.get_mut(&grant) {
                    g.revoked = true;
                }
                return Err(refuse(
                    "invalid_grant",
                    "Authorization code already used; the grant is revoked",
                ));
            }
            c.used = true;
            if c.issued.elapsed() > s.code_ttl {
                return Err(refuse("invalid_grant", "Authorization code expired"));
            }
            if p.get("redirect_uri") != Some(&c.redirect_uri) {
                return Err(refuse(
                    "invalid_grant",
                    "redirect_uri does not match the authorization request",
                ));
            }
            if c.client_id != s.client.client_id {
                return Err(refuse("invalid_grant", "Code was issued to another client"));
            }
            if let Some(challenge) = &c.challenge {
                match p.get("code_verifier") {
                    Some(v) if s256(v) == *challenge => {}
                    _ => return Err(refuse("invalid_grant", "Invalid code_verifier")),
                }
            }
            if s.vendor == OAuthVendor::Tesla && p.get("audience").is_none_or(|a| a.is_empty()) {
                return Err(refuse("invalid_request", "audience is required"));
            }
            let _ = &c.scope;
            let grant = c.grant;
            Ok(issue(s, &mut b, grant))
        }
        Some("refresh_token") => {
            let rt = p.get("refresh_token").cloned().unwrap_or_default();
            let Some(t) = b.refresh.get(&rt) else {
                return Err(refuse("invalid_grant", "Unknown refresh token"));
            };
            let grant = t.grant;
            if !t.current {
                if let Some(g) = b.grants.get_mut(&grant) {
                    g.revoked = true;
                }
                return Err(refuse(
                    "invalid_grant",
                    "Refresh token already used; the grant is revoked",
                ));
            }
            if t.expires.is_some_and(|e| e < Instant::now()) {
                return Err(refuse("invalid_grant", "Refresh token expired"));
            }
            if b.grants.get(&grant).is_none_or(|g| g.revoked) {
                return Err(refuse("invalid_grant", "The grant was revoked"));
            }
            if let Some(t) = b.refresh.get_mut(&rt) {
                t.current = false;
            }
            Ok(issue(s, &mut b, grant))
        }
        _ => Err(refuse(
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        )),
    }
}

/// The grant behind a bearer token, if it is live.
fn bearer(s: &Server, headers: &HeaderMap) -> Option<u64> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let b = s.books.lock().unwrap_or_else(|p| p.into_inner());
    let (grant, expires) = b.access.get(token)?;
    (*expires > Instant::now() && b.grants.get(grant).is_some_and(|g| !g.revoked)).then_some(*grant)
}

fn unauthorized(s: &Server) -> Response {
    match s.vendor {
        OAuthVendor::Enphase => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Not Authorized", "details": "User is not authorized", "code": 401})),
        )
            .into_response(),
        OAuthVendor::Tesla => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"response": null, "error": "invalid bearer token", "error_description": ""})),
        )
            .into_response(),
        _ => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"title": "Unauthorized", "status": 401, "detail": "Invalid or expired access token"})),
        )
            .into_response(),
    }
}

async fn tesla_products(State(s): State<Arc<Server>>, uri: Uri, headers: HeaderMap) -> Response {
    if bearer(&s, &headers).is_none() {
        return unauthorized(&s);
    }
    if s.other_region.load(Ordering::SeqCst) && !uri.path().starts_with("/eu/") {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            axum::Json(
                json!({"response": null, "error": "user out of region", "error_description": ""}),
            ),
        )
            .into_response();
    }
    let mut items: Vec<Value> = s
        .sites
        .iter()
        .map(|x| {
            json!({"energy_site_id": x.id, "site_name": x.name, "resource_type": "battery",
                   "components": {"battery": true, "solar": true, "wall_connectors": []}})
        })
        .collect();
    items.push(json!({"id": 1_492_931_337, "vin": "5YJ3E1EA0SANDBOX1", "display_name": "Model 3"}));
    axum::Json(json!({"response": items, "count": items.len()})).into_response()
}

async fn tesla_region(State(s): State<Arc<Server>>, headers: HeaderMap) -> Response {
    if bearer(&s, &headers).is_none() {
        return unauthorized(&s);
    }
    let base = s.base_url.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let (region, base) = if s.other_region.load(Ordering::SeqCst) {
        ("eu", format!("{base}/eu"))
    } else {
        ("na", base)
    };
    axum::Json(json!({"response": {"region": region, "fleet_api_base_url": base}})).into_response()
}

async fn enphase_systems(
    State(s): State<Arc<Server>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("key") != s.client.api_key.as_ref() {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Not Authorized", "details": "API Key -Client mismatch", "code": 401})),
        )
            .into_response();
    }
    if bearer(&s, &headers).is_none() {
        return unauthorized(&s);
    }
    let systems: Vec<Value> = s
        .sites
        .iter()
        .map(|x| {
            json!({"system_id": x.id, "name": x.name, "public_name": x.name, "timezone": x.time_zone,
                   "address": {"city": x.city, "state": x.state, "country": "US", "postal_code": x.zip},
                   "status": if x.active { "normal" } else { "comm" }})
        })
        .collect();
    axum::Json(
        json!({"total": systems.len(), "current_page": 1, "size": 10, "count": systems.len(),
                      "items": "systems", "systems": systems}),
    )
    .into_response()
}

async fn sma_plants(State(s): State<Arc<Server>>, headers: HeaderMap) -> Response {
    if bearer(&s, &headers).is_none() {
        return unauthorized(&s);
    }
    let plants: Vec<Value> = s
        .sites
        .iter()
        .map(|x| {
            json!({"plantId": x.id.to_string(), "name": x.name, "timezone": x.time_zone,
                        "address": x.address_line(), "peakPower": x.peak_power})
        })
        .collect();
    axum::Json(json!({"plants": plants})).into_response()
}

async fn solaredge_site(
    State(s): State<Arc<Server>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if bearer(&s, &headers).is_none() {
        return unauthorized(&s);
    }
    match s.sites.iter().find(|x| x.id.to_string() == id) {
        Some(x) => axum::Json(json!({
            "siteId": x.id, "name": x.name, "status": "Active", "peakPower": x.peak_power,
            "location": {"address": x.street, "city": x.city, "state": x.state, "zip": x.zip, "country": "United States"}
        }))
        .into_response(),
        None => (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"title": "Forbidden", "status": 403, "detail": "No access to this site"})),
        )
            .into_response(),
    }
}

pub(crate) fn router(s: Arc<Server>) -> Router {
    let (auth_path, token_path) = s.vendor.paths();
    let r = Router::new()
        .route(auth_path, get(authorize))
        .route(token_path, post(token));
    let r = match s.vendor {
        OAuthVendor::Tesla => r
            .route("/api/1/products", get(tesla_products))
            .route("/eu/api/1/products", get(tesla_products))
            .route("/api/1/users/region", get(tesla_region)),
        OAuthVendor::Enphase => r
            .route("/api/v4/systems", get(enphase_systems))
            .route("/oauth/redirect_uri", get(enphase_redirect_page)),
        OAuthVendor::Sma => r.route("/v1/plants", get(sma_plants)),
        OAuthVendor::SolarEdgeSite => r.route("/v2/sites/{id}", get(solaredge_site)),
    };
    r.with_state(s)
}
