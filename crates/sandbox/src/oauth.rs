//! Strict OAuth 2.0 authorization servers, one per vendor, with that vendor's paths, token
//! style, lifetimes and rotation, and the data endpoint Onramp discovers sites with.
//!
//! What a strict server enforces is enforced here: PKCE S256 (a wrong or missing verifier is
//! `invalid_grant`), the exact `redirect_uri` of the authorize step, single-use codes (a reused
//! code revokes the grant), code expiry, single-use refresh tokens where the vendor rotates
//! them (a rotated-out one revokes the grant, unless it comes back within the vendor's reuse
//! window, zero by default), client authentication (`invalid_client`), and token revocation at
//! the vendor's own revocation endpoint where it documents one.
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

use crate::faults::{inject, Knobs, Shapes};
use crate::fleet::{self, FleetSite};
use crate::ledger::Ledger;

mod saved;
mod withdraw;

/// A vendor that enrolls through the authorization-code grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OAuthVendor {
    Tesla,
    Enphase,
    Sma,
    SolarEdgeSite,
    /// UtilityAPI Green Button Connect My Data (per-utility paths; not in `ALL`).
    UtilityApi,
    /// Metry (JSON token body, 10-second codes; not in `ALL`).
    Metry,
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
            OAuthVendor::UtilityApi => (
                "/DataCustodian/{utility}/oauth/authorize",
                "/DataCustodian/{utility}/oauth/token",
            ),
            OAuthVendor::Metry => ("/id/oauth/authorize", "/oauth/token"),
        }
    }

    /// The vendor's token revocation endpoint, where it documents one (vendors.md): SolarEdge
    /// V2 `POST /v2/oauth2/revoke-token` with a JSON body. Tesla, Enphase, SMA, UtilityAPI and
    /// Metry document none.
    pub fn revoke_path(self) -> Option<&'static str> {
        match self {
            OAuthVendor::SolarEdgeSite => Some("/v2/oauth2/revoke-token"),
            OAuthVendor::Tesla
            | OAuthVendor::Enphase
            | OAuthVendor::Sma
            | OAuthVendor::UtilityApi
            | OAuthVendor::Metry => None,
        }
    }

    /// Whether the vendor accepts a public client (PKCE, no secret): Tesla documents "Open Source
    /// Apps" with a client id and no secret; no other vendor here documents one.
    pub fn allows_public_client(self) -> bool {
        self == OAuthVendor::Tesla
    }

    /// How long a used refresh token may come back (a retry whose answer was lost) before it
    /// counts as a replay, by default: zero for every vendor. Tesla documents refresh tokens as
    /// single use; SolarEdge invalidates the old one on each refresh; Enphase, SMA, UtilityAPI
    /// and Metry document no grace period, and the sandbox is as strict as the strictest vendor.
    pub fn default_reuse_window(self) -> Duration {
        Duration::ZERO
    }

    fn salt(self) -> u64 {
        match self {
            OAuthVendor::Tesla => 0x7e5,
            OAuthVendor::Enphase => 0xe9,
            OAuthVendor::Sma => 0x5a,
            OAuthVendor::SolarEdgeSite => 0x5e0,
            OAuthVendor::UtilityApi => 0x6b,
            OAuthVendor::Metry => 0x3e7,
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
            OAuthVendor::UtilityApi | OAuthVendor::Metry => (3_600, None),
        }
    }
}

/// The app registration the sandbox knows for a vendor (a confidential client: it has a secret).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
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

/// What a vendor's token endpoint did with `refresh_token` grants, counted since start.
///
/// Every refresh request the server read is in `requests` and in exactly one of the others
/// (injected token faults answer before the request is read: see `Sandbox::token_requests`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshStats {
    /// `refresh_token` grant requests received.
    pub requests: u64,
    /// Answered with new tokens from the current refresh token (Metry: the same refresh token
    /// comes back, as it does not rotate).
    pub rotations: u64,
    /// A used refresh token presented again inside the reuse window, its successor unused:
    /// answered afresh, the successor voided.
    pub retries_accepted: u64,
    /// A used refresh token presented past the window or after its successor was used.
    pub replays: u64,
    /// A refresh token this server never issued (or one voided by a retry).
    pub unknown: u64,
    /// Grants a replay revoked (a replay on an already revoked grant revokes nothing more).
    pub grants_revoked_by_replay: u64,
    /// Refused otherwise: client authentication, an expired token, a revoked grant.
    pub refused: u64,
}

/// Where [`crate::Sandbox::set_redirects`] makes a vendor answer with a redirect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectAt {
    /// The token endpoint (every grant type).
    TokenEndpoint,
    /// The data API (everything but authorize, token and revocation).
    DataApi,
}

/// A Green Button feed as served (the XML) with the totals it was built to hold.
type Feed = (Arc<String>, Vec<crate::espi::ExpectedSeries>);

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
    /// Issued to the vendor's public client (PKCE only, no secret).
    public: bool,
    /// Issued to the Enphase partner application by the password grant.
    partner: bool,
    scope: String,
    offline: bool,
    /// UtilityAPI: the utility the customer authorized at.
    utility: String,
}

struct RefreshToken {
    grant: u64,
    current: bool,
    expires: Option<Instant>,
    /// The refresh token issued in exchange for this one.
    successor: Option<String>,
    /// The access token issued with it was used: the client has the answer, so a retry with
    /// the previous refresh token is a replay.
    used: bool,
    /// When it was first presented (and rotated out): the reuse window counts from here.
    first_used: Option<Instant>,
    /// The access token issued with it, voided with it when a retry replaces it.
    access: String,
}

/// What presenting a refresh token amounts to, before expiry and revocation are looked at.
enum Presented {
    Unknown,
    /// The current refresh token of its grant.
    Current {
        grant: u64,
    },
    /// A used one, back inside the reuse window while its successor is unused.
    Retry {
        grant: u64,
        successor: String,
    },
    /// A used one, past the window or after its successor was used.
    Replay {
        grant: u64,
    },
}

#[derive(Default)]
struct Books {
    codes: HashMap<String, CodeGrant>,
    grants: HashMap<u64, Grant>,
    access: HashMap<String, (u64, Instant)>,
    /// The refresh token each access token was issued with.
    issued_with: HashMap<String, String>,
    refresh: HashMap<String, RefreshToken>,
    next_grant: u64,
    /// UtilityAPI client access tokens (`client_credentials`).
    client_tokens: HashMap<String, Instant>,
    stats: RefreshStats,
}

impl Books {
    fn presented(&self, rt: &str, window: Duration, now: Instant) -> Presented {
        let Some(t) = self.refresh.get(rt) else {
            return Presented::Unknown;
        };
        if t.current {
            return Presented::Current { grant: t.grant };
        }
        // Rotation with a bounded retry window (a vendor's "reuse interval"): a used refresh
        // token may come back, measured from its first use, as long as neither the refresh
        // token issued for it nor the access token issued with that was used (the answer may
        // have been lost). Zero: strictly single use.
        let in_window = t
            .first_used
            .is_some_and(|first| now.saturating_duration_since(first) < window);
        match &t.successor {
            Some(next)
                if in_window && self.refresh.get(next).is_some_and(|n| n.current && !n.used) =>
            {
                Presented::Retry {
                    grant: t.grant,
                    successor: next.clone(),
                }
            }
            _ => Presented::Replay { grant: t.grant },
        }
    }

    /// Whether presenting `rt` now would be answered with tokens (nothing is spent).
    fn alive(&self, rt: &str, window: Duration, now: Instant) -> bool {
        let grant = match self.presented(rt, window, now) {
            Presented::Current { grant } | Presented::Retry { grant, .. } => grant,
            Presented::Unknown | Presented::Replay { .. } => return false,
        };
        let unexpired = self.refresh[rt].expires.is_none_or(|e| e >= now);
        unexpired && self.grants.get(&grant).is_some_and(|g| !g.revoked)
    }

    /// Voids a refresh token and the access token issued with it.
    fn void(&mut self, rt: &str) {
        if let Some(t) = self.refresh.remove(rt) {
            self.access.remove(&t.access);
            self.issued_with.remove(&t.access);
        }
    }
}

/// Enphase's partner plan: a partner application of its own (client id, secret, API key) whose
/// tokens come from the resource-owner password grant with an Enlighten user's credentials
/// (`POST /oauth/token?grant_type=password&username=..&password=..`, HTTP Basic with the
/// partner application), and the systems that user's company installed.
#[derive(Clone, Debug)]
pub struct PartnerAccount {
    pub app: OAuthClient,
    pub username: String,
    pub password: String,
    pub(crate) systems: Vec<FleetSite>,
}

pub(crate) struct Server {
    vendor: OAuthVendor,
    pub(crate) client: OAuthClient,
    /// The client id of a public client (PKCE, no secret), where the vendor allows one (Tesla's
    /// Open Source apps). It must use PKCE and must not present a secret.
    pub(crate) public_client: Option<String>,
    /// The issuer its authorization answers name (RFC 9207 `iss`; Tesla's `issuer`), if any.
    issuer: Mutex<Option<String>>,
    /// The test account's systems.
    sites: Vec<FleetSite>,
    registered: Mutex<Vec<String>>,
    code_ttl: Duration,
    decline: AtomicBool,
    /// Tesla: the account lives in another region; the default API answers 421.
    other_region: AtomicBool,
    token_requests: AtomicU64,
    /// The next N token requests fail with this status (429, 5xx, or 400: a revoked grant).
    token_fault: Mutex<Option<(u16, u32)>>,
    /// The next N successful token answers never arrive whole (the exchange did happen).
    lost_answers: Mutex<Option<(LostAnswer, u32)>>,
    /// Added before the token endpoint answers (a slow or hanging vendor).
    token_latency: Mutex<Duration>,
    /// Faults and latency of the vendor's data API (everything but authorize and token).
    pub(crate) api_knobs: Arc<Knobs>,
    /// Time spent answering requests, in nanoseconds: the vendor's own share of a client's wait.
    busy_nanos: AtomicU64,
    log: Mutex<Vec<TokenRequest>>,
    books: Mutex<Books>,
    /// How long a used refresh token may come back as a retry (zero: never).
    reuse_window: Mutex<Duration>,
    /// Revocation requests answered 200 (unknown tokens included, as RFC 7009 answers them).
    revocations: AtomicU64,
    /// The next N token requests, or data API requests, answer a redirect: (status, N).
    redirect_token: Mutex<Option<(u16, u32)>>,
    redirect_api: Mutex<Option<(u16, u32)>>,
    /// Where those redirects point (the sandbox's "elsewhere" server).
    pub(crate) redirect_to: Mutex<String>,
    rng: Mutex<rand::rngs::StdRng>,
    /// Filled in once the server has its address (Tesla's region answer names it).
    pub(crate) base_url: Mutex<String>,
    /// UtilityAPI: each utility's Green Button feed, generated once.
    feeds: Mutex<HashMap<String, Feed>>,
    seed: u64,
    /// Enphase: the partner (installer) plan's application and Enlighten user, and its systems.
    pub(crate) partner: Option<PartnerAccount>,
    ledger: Ledger,
}

impl Server {
    pub(crate) fn new(
        vendor: OAuthVendor,
        seed: u64,
        registered: Vec<String>,
        code_ttl: Duration,
        ledger: Ledger,
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
        let public_client = vendor
            .allows_public_client()
            .then(|| format!("{:08x}-sandbox-{vendor:?}-public", rng.gen::<u32>()).to_lowercase());
        let n = if vendor == OAuthVendor::SolarEdgeSite {
            1
        } else {
            2
        };
        Arc::new(Server {
            vendor,
            client,
            public_client,
            issuer: Mutex::default(),
            sites: fleet::sites(
                seed,
                vendor.salt() << 8,
                n,
                7_000_001 + vendor.salt() * 1000,
            ),
            registered: Mutex::new(registered),
            // Metry's codes live about ten seconds.
            code_ttl: if vendor == OAuthVendor::Metry {
                code_ttl.min(Duration::from_secs(10))
            } else {
                code_ttl
            },
            decline: AtomicBool::new(false),
            other_region: AtomicBool::new(false),
            token_requests: AtomicU64::new(0),
            token_fault: Mutex::default(),
            lost_answers: Mutex::default(),
            token_latency: Mutex::default(),
            api_knobs: Arc::default(),
            busy_nanos: AtomicU64::new(0),
            log: Mutex::default(),
            books: Mutex::default(),
            reuse_window: Mutex::new(vendor.default_reuse_window()),
            revocations: AtomicU64::new(0),
            redirect_token: Mutex::default(),
            redirect_api: Mutex::default(),
            redirect_to: Mutex::default(),
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(rand::random())),
            base_url: Mutex::default(),
            feeds: Mutex::default(),
            seed,
            partner: (vendor == OAuthVendor::Enphase).then(|| {
                let mut r = fleet::rng(seed, 0xa27);
                PartnerAccount {
                    app: OAuthClient {
                        client_id: format!("{:08x}-sandbox-enphase-partner", r.gen::<u32>()),
                        client_secret: fleet::solis_secret(&mut r),
                        api_key: Some(fleet::solis_secret(&mut r)),
                    },
                    username: "installer@sandbox-solar.example".to_string(),
                    password: format!("Pw-{}", &fleet::solis_secret(&mut r)[..16]),
                    systems: fleet::sites(seed, 0xa27 << 8, 30, 9_100_001),
                }
            }),
            ledger,
        })
    }

    /// The issuer the authorization answers name from now on (None: they name none).
    pub(crate) fn set_issuer(&self, issuer: Option<String>) {
        *self.issuer.lock().unwrap_or_else(|p| p.into_inner()) = issuer;
    }

    pub(crate) fn issuer(&self) -> Option<String> {
        self.issuer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every access token issued so far has expired (as if their lifetime had passed); refresh
    /// tokens are untouched.
    pub(crate) fn expire_access_tokens(&self) {
        let mut b = self.books.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        for (_, expires) in b.access.values_mut() {
            *expires = now;
        }
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

    pub(crate) fn set_token_fault(&self, status: u16, times: u32) {
        *self.token_fault.lock().unwrap_or_else(|p| p.into_inner()) =
            (times > 0).then_some((status, times));
    }

    pub(crate) fn set_lost_answers(&self, how: LostAnswer, times: u32) {
        *self.lost_answers.lock().unwrap_or_else(|p| p.into_inner()) =
            (times > 0).then_some((how, times));
    }

    /// `n` grants as if `n` customers had signed in with `scope`: their refresh tokens, for
    /// clients that bring their own (benchmark peers).
    pub(crate) fn issue_grants(&self, scope: &str, n: usize) -> Vec<String> {
        let mut b = self.books.lock().unwrap_or_else(|p| p.into_inner());
        (0..n)
            .map(|_| {
                b.next_grant += 1;
                let grant = b.next_grant;
                b.grants.insert(
                    grant,
                    Grant {
                        revoked: false,
                        public: false,
                        partner: false,
                        scope: scope.to_string(),
                        offline: scope.split_whitespace().any(|x| x == "offline_access"),
                        utility: String::new(),
                    },
                );
                let answer = issue(self, &mut b, grant);
                answer["refresh_token"]
                    .as_str()
                    .expect("an offline grant has a refresh token")
                    .to_string()
            })
            .collect()
    }

    pub(crate) fn set_reuse_window(&self, window: Duration) {
        *self.reuse_window.lock().unwrap_or_else(|p| p.into_inner()) = window;
    }

    fn reuse_window(&self) -> Duration {
        *self.reuse_window.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn refresh_stats(&self) -> RefreshStats {
        self.books.lock().unwrap_or_else(|p| p.into_inner()).stats
    }

    pub(crate) fn grant_alive(&self, refresh_token: &str) -> bool {
        let b = self.books.lock().unwrap_or_else(|p| p.into_inner());
        b.alive(refresh_token, self.reuse_window(), Instant::now())
    }

    pub(crate) fn revocations(&self) -> u64 {
        self.revocations.load(Ordering::SeqCst)
    }

    pub(crate) fn set_redirects(&self, at: RedirectAt, status: u16, times: u32) {
        let slot = match at {
            RedirectAt::TokenEndpoint => &self.redirect_token,
            RedirectAt::DataApi => &self.redirect_api,
        };
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = (times > 0).then_some((status, times));
    }

    /// The armed redirect for this request, if any (counting it down).
    fn take_redirect(&self, at: RedirectAt) -> Option<Response> {
        let slot = match at {
            RedirectAt::TokenEndpoint => &self.redirect_token,
            RedirectAt::DataApi => &self.redirect_api,
        };
        let status = {
            let mut f = slot.lock().unwrap_or_else(|p| p.into_inner());
            let (status, left) = (*f)?;
            *f = (left > 1).then_some((status, left - 1));
            status
        };
        let to = format!(
            "{}/elsewhere",
            self.redirect_to.lock().unwrap_or_else(|p| p.into_inner())
        );
        Some(
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND),
                [("location", to)],
            )
                .into_response(),
        )
    }

    pub(crate) fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_nanos.load(Ordering::SeqCst))
    }

    pub(crate) fn set_token_latency(&self, latency: Duration) {
        *self.token_latency.lock().unwrap_or_else(|p| p.into_inner()) = latency;
    }

    fn take_lost_answer(&self) -> Option<LostAnswer> {
        let mut f = self.lost_answers.lock().unwrap_or_else(|p| p.into_inner());
        let (how, left) = (*f)?;
        *f = (left > 1).then_some((how, left - 1));
        Some(how)
    }

    /// The armed fault for this token request, if any (counting it down).
    fn take_token_fault(&self) -> Option<u16> {
        let mut f = self.token_fault.lock().unwrap_or_else(|p| p.into_inner());
        let (status, left) = (*f)?;
        *f = (left > 1).then_some((status, left - 1));
        Some(status)
    }

    pub(crate) fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::SeqCst)
    }

    pub(crate) fn token_log(&self) -> Vec<TokenRequest> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A utility's feed and what it holds.
    pub(crate) fn feed(&self, utility: &str) -> (Arc<String>, Vec<crate::espi::ExpectedSeries>) {
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        feeds
            .entry(utility.to_string())
            .or_insert_with(|| {
                let spec = crate::espi::FeedSpec {
                    seed: self.seed,
                    electric_hours: if utility == "demo_gas" { 0 } else { 8_760 },
                    ..Default::default()
                };
                let (xml, totals) = crate::espi::feed_string(&spec);
                (Arc::new(xml), totals)
            })
            .clone()
    }

    pub(crate) fn metry_meter_ids(&self) -> Vec<String> {
        metry_meters(self).into_iter().map(|m| m.0).collect()
    }

    pub(crate) fn site_ids(&self) -> Vec<String> {
        self.sites.iter().map(|s| s.id.to_string()).collect()
    }

    fn token(&self, prefix: &str) -> String {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let bytes: [u8; 24] = rng.gen();
        let token = format!(
            "{prefix}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        self.ledger.record(&token);
        token
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
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let utility = utility_of(uri.path());
    if s.vendor == OAuthVendor::UtilityApi && !UTILITIES.contains(&utility.as_str()) {
        return page(StatusCode::NOT_FOUND, "Unknown utility.");
    }
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("response_type") != "code" {
        return page(StatusCode::BAD_REQUEST, "unsupported_response_type");
    }
    let public = s.public_client.as_deref() == Some(get("client_id"));
    if get("client_id") != s.client.client_id && !public {
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
    s.ledger.record_state(&state);
    let mut target = match url::Url::parse(&redirect_uri) {
        Ok(u) => u,
        Err(_) => return page(StatusCode::BAD_REQUEST, "The redirect_uri is not a URL."),
    };
    let challenge = q.get("code_challenge").cloned();
    let refusal = if challenge.is_some() && get("code_challenge_method") != "S256" {
        Some(("invalid_request", "code_challenge_method must be S256"))
    } else if public && challenge.is_none() {
        // A public client has no secret: PKCE is all that binds the code to it.
        Some((
            "invalid_request",
            "code_challenge is required for public clients",
        ))
    } else if s.decline.load(Ordering::SeqCst) {
        Some(("access_denied", "The user denied access"))
    } else {
        None
    };
    if let Some((error, description)) = refusal {
        let mut p = target.query_pairs_mut();
        p.append_pair("error", error)
            .append_pair("error_description", description);
        if !state.is_empty() {
            p.append_pair("state", &state);
        }
        drop(p);
        s.name_issuer(&mut target);
        return Redirect::to(target.as_str()).into_response();
    }
    let code = s.token("code_");
    let scope = get("scope").to_string();
    {
        let mut b = s.books.lock().unwrap_or_else(|p| p.into_inner());
        b.next_grant += 1;
        let grant = b.next_grant;
        let offline = scope.split_whitespace().any(|x| x == "offline_access");
        let granted = if s.vendor == OAuthVendor::UtilityApi {
            // The customer narrows the scope on the utility's page: no 15-minute data.
            if scope.is_empty() {
                UTILITYAPI_DEFAULT_SCOPE.to_string()
            } else {
                scope.replace("IntervalDuration=900_3600", "IntervalDuration=3600")
            }
        } else {
            scope.clone()
        };
        b.grants.insert(
            grant,
            Grant {
                revoked: false,
                public,
                partner: false,
                scope: granted,
                offline,
                utility: utility.clone(),
            },
        );
        b.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: get("client_id").to_string(),
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
    s.name_issuer(&mut target);
    Redirect::to(target.as_str()).into_response()
}

impl Server {
    /// Adds the issuer to an authorization answer, under the vendor's name for it: Tesla's
    /// `issuer` (its sign-in comes back with `issuer=https://auth.tesla.com/oauth2/v3`), RFC
    /// 9207's `iss` for the others when they are told to name one.
    fn name_issuer(&self, target: &mut url::Url) {
        if let Some(issuer) = self.issuer() {
            let name = if self.vendor == OAuthVendor::Tesla {
                "issuer"
            } else {
                "iss"
            };
            target.query_pairs_mut().append_pair(name, &issuer);
        }
    }
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
        OAuthVendor::SolarEdgeSite | OAuthVendor::Metry => {
            let v: Value = serde_json::from_slice(body).map_err(|_| bad())?;
            let obj = v.as_object().ok_or_else(bad)?;
            Ok(obj
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect())
        }
        OAuthVendor::Tesla | OAuthVendor::Sma | OAuthVendor::UtilityApi => {
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

/// Which of the vendor's apps a token request authenticates as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Authenticated {
    Confidential,
    /// The public client: its client id and no secret (PKCE binds its codes).
    Public,
    /// Enphase's partner application (HTTP Basic with its own id and secret).
    Partner,
}

fn authenticated(
    s: &Server,
    p: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Option<Authenticated> {
    if client_ok(s, p, headers) {
        return Some(Authenticated::Confidential);
    }
    if let Some(partner) = &s.partner {
        let want = (
            partner.app.client_id.clone(),
            partner.app.client_secret.clone(),
        );
        if basic_credentials(headers) == Some(want) {
            return Some(Authenticated::Partner);
        }
    }
    let public = s.public_client.as_deref()?;
    // A public client presents no secret at all (RFC 6749 §2.1): one that sends a secret, or
    // HTTP Basic, is not the public client.
    let no_secret = !p.contains_key("client_secret") && !headers.contains_key("authorization");
    (p.get("client_id").map(String::as_str) == Some(public) && no_secret)
        .then_some(Authenticated::Public)
}

/// Client authentication as the vendor expects it, for its confidential app.
fn client_ok(s: &Server, p: &HashMap<String, String>, headers: &HeaderMap) -> bool {
    let basic = basic_credentials(headers);
    let body = p
        .get("client_id")
        .cloned()
        .zip(p.get("client_secret").cloned());
    let want = (s.client.client_id.clone(), s.client.client_secret.clone());
    match s.vendor {
        OAuthVendor::Enphase | OAuthVendor::UtilityApi => basic == Some(want),
        OAuthVendor::Sma => basic == Some(want.clone()) || body == Some(want),
        OAuthVendor::Tesla if p.get("grant_type").map(String::as_str) == Some("refresh_token") => {
            // Tesla's refresh sends the client_id only.
            p.get("client_id") == Some(&want.0)
        }
        OAuthVendor::Tesla | OAuthVendor::SolarEdgeSite | OAuthVendor::Metry => body == Some(want),
    }
}

/// The (id, secret) of an HTTP Basic `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
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
    s.ledger.record(&access);
    // Metry's refresh token does not rotate: the same one keeps working. (Looked up for Metry
    // only: the scan over every refresh token made each answer slower than the last.)
    let kept = (s.vendor == OAuthVendor::Metry)
        .then(|| {
            b.refresh
                .iter()
                .find(|(_, t)| t.grant == grant && t.current)
                .map(|(rt, _)| rt.clone())
        })
        .flatten();
    let refresh = kept.unwrap_or_else(|| s.token("rt_"));
    b.access.insert(
        access.clone(),
        (grant, Instant::now() + Duration::from_secs(access_ttl)),
    );
    b.issued_with.insert(access.clone(), refresh.clone());
    b.refresh.insert(
        refresh.clone(),
        RefreshToken {
            grant,
            current: true,
            expires: refresh_ttl.map(|t| Instant::now() + Duration::from_secs(t)),
            successor: None,
            used: false,
            first_used: None,
            access: access.clone(),
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
        OAuthVendor::UtilityApi => {
            let base = s.base_url.lock().unwrap_or_else(|p| p.into_inner()).clone();
            out["resourceURI"] = json!(format!(
                "{base}/DataCustodian/espi/1_1/resource/Batch/Subscription/{grant}"
            ));
            out["authorizationURI"] = json!(format!(
                "{base}/DataCustodian/espi/1_1/resource/Authorization/{grant}"
            ));
        }
        _ => {}
    }
    out
}

/// The utilities the UtilityAPI sandbox serves.
pub(crate) const UTILITIES: [&str; 2] = ["demo", "demo_gas"];

const UTILITYAPI_DEFAULT_SCOPE: &str =
    "FB=1_3_4_5_8_13_14_18_19_31_32_35_37_38_39_40_41_44_46;IntervalDuration=3600;BlockDuration=daily;HistoryLength=31536000";

/// `demo` in `/DataCustodian/demo/oauth/...`.
fn utility_of(path: &str) -> String {
    path.strip_prefix("/DataCustodian/")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default()
        .to_string()
}

async fn token(
    State(s): State<Arc<Server>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.token_requests.fetch_add(1, Ordering::SeqCst);
    let latency = *s.token_latency.lock().unwrap_or_else(|p| p.into_inner());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(redirect) = s.take_redirect(RedirectAt::TokenEndpoint) {
        return redirect;
    }
    if let Some(status) = s.take_token_fault() {
        return match status {
            429 => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "30")],
                axum::Json(
                    json!({"error": "rate_limited", "error_description": "Too many requests"}),
                ),
            )
                .into_response(),
            400 => withdrawn(s.vendor, "The refresh token was revoked").1,
            other => (
                StatusCode::from_u16(other).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                "upstream unavailable",
            )
                .into_response(),
        };
    }
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
    match (result, s.take_lost_answer()) {
        (Ok(v), None) => (StatusCode::OK, axum::Json(v)).into_response(),
        (Ok(v), Some(LostAnswer::Truncated)) => {
            let body = v.to_string();
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                body[..body.len() / 2].to_string(),
            )
                .into_response()
        }
        (Ok(_), Some(LostAnswer::Reset)) => {
            // The headers go out, then the connection breaks before the body.
            let broken = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset",
                ))
            });
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                axum::body::Body::from_stream(broken),
            )
                .into_response()
        }
        (Err((_, r)), _) => r,
    }
}

/// How a token answer is lost after the vendor made the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostAnswer {
    /// Half the JSON arrives.
    Truncated,
    /// The connection breaks after the headers.
    Reset,
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

/// The answer to a refresh token whose grant was withdrawn (a replay revoked it, or the
/// customer did). Tesla answers 401 `login_required` ("password reset or refresh token already
/// used": docs/vendors/tesla.md); the others RFC 6749's 400 `invalid_grant`, saying "revoked".
fn withdrawn(vendor: OAuthVendor, description: &str) -> Refusal {
    if vendor == OAuthVendor::Tesla {
        let error = "login_required";
        return (
            error,
            oauth_error(StatusCode::UNAUTHORIZED, error, description),
        );
    }
    refuse("invalid_grant", description)
}

/// Why a code exchange was refused, where a vendor words it its own way.
enum CodeRefusal {
    Expired,
    Redirect,
    Verifier,
}

/// A refused code exchange. Tesla has its own codes for these (vendors.md, Fleet API
/// authentication, and python-tesla-fleet-api's exceptions: docs/vendors/tesla.md):
/// `invalid_auth_code` for an expired code, `invalid_redirect_url` when the token request's
/// redirect URI is not the authorization's, `invalid_request` "Invalid code_verifier"; the others
/// RFC 6749's `invalid_grant` (RFC 6749 §5.2, RFC 7636 §4.6).
fn code_refused(vendor: OAuthVendor, why: CodeRefusal, description: &str) -> Refusal {
    if vendor != OAuthVendor::Tesla {
        return refuse("invalid_grant", description);
    }
    let error = match why {
        CodeRefusal::Expired => "invalid_auth_code",
        CodeRefusal::Redirect => "invalid_redirect_url",
        CodeRefusal::Verifier => "invalid_request",
    };
    refuse(error, description)
}

fn exchange(
    s: &Server,
    p: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Value, Refusal> {
    let refresh = p.get("grant_type").map(String::as_str) == Some("refresh_token");
    let client = authenticated(s, p, headers);
    if !refresh && client.is_none() {
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
                return Err(code_refused(
                    s.vendor,
                    CodeRefusal::Expired,
                    "Authorization code expired",
                ));
            }
            if p.get("redirect_uri") != Some(&c.redirect_uri) {
                return Err(code_refused(
                    s.vendor,
                    CodeRefusal::Redirect,
                    "redirect_uri does not match the authorization request",
                ));
            }
            let presented = match client {
                Some(Authenticated::Public) => s.public_client.as_deref().unwrap_or_default(),
                Some(Authenticated::Partner) => s
                    .partner
                    .as_ref()
                    .map(|p| p.app.client_id.as_str())
                    .unwrap_or_default(),
                _ => s.client.client_id.as_str(),
            };
            if c.client_id != presented {
                return Err(refuse("invalid_grant", "Code was issued to another client"));
            }
            if client == Some(Authenticated::Public) && c.challenge.is_none() {
                return Err(refuse("invalid_grant", "A public client's code needs PKCE"));
            }
            if let Some(v) = p.get("code_verifier") {
                s.ledger.record_verifier(v);
            }
            if let Some(challenge) = &c.challenge {
                match p.get("code_verifier") {
                    Some(v) if s256(v) == *challenge => {}
                    _ => {
                        return Err(code_refused(
                            s.vendor,
                            CodeRefusal::Verifier,
                            "Invalid code_verifier",
                        ))
                    }
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
            b.stats.requests += 1;
            let Some(client) = client else {
                b.stats.refused += 1;
                return Err(refuse("invalid_client", "Client authentication failed"));
            };
            let rt = p.get("refresh_token").cloned().unwrap_or_default();
            let now = Instant::now();
            let (grant, retry) = match b.presented(&rt, s.reuse_window(), now) {
                Presented::Unknown => {
                    b.stats.unknown += 1;
                    return Err(refuse("invalid_grant", "Unknown refresh token"));
                }
                Presented::Replay { grant } => {
                    b.stats.replays += 1;
                    if let Some(g) = b.grants.get_mut(&grant).filter(|g| !g.revoked) {
                        g.revoked = true;
                        b.stats.grants_revoked_by_replay += 1;
                    }
                    return Err(withdrawn(
                        s.vendor,
                        "Refresh token already used; the grant is revoked",
                    ));
                }
                Presented::Current { grant } => (grant, false),
                Presented::Retry { grant, successor } => {
                    // The retry's answer replaces the one never used.
                    b.void(&successor);
                    (grant, true)
                }
            };
            if b.refresh[&rt].expires.is_some_and(|e| e < now) {
                b.stats.refused += 1;
                return Err(refuse("invalid_grant", "Refresh token expired"));
            }
            if b.grants.get(&grant).is_none_or(|g| g.revoked) {
                b.stats.refused += 1;
                return Err(withdrawn(s.vendor, "The grant was revoked"));
            }
            let g = &b.grants[&grant];
            if g.public != (client == Authenticated::Public)
                || g.partner != (client == Authenticated::Partner)
            {
                b.stats.refused += 1;
                return Err(refuse(
                    "invalid_grant",
                    "The refresh token was issued to another client",
                ));
            }
            let answer = issue(s, &mut b, grant);
            if s.vendor != OAuthVendor::Metry {
                let next = answer["refresh_token"].as_str().map(str::to_string);
                if let Some(t) = b.refresh.get_mut(&rt) {
                    t.current = false;
                    t.successor = next;
                    t.first_used.get_or_insert(now);
                }
            }
            if retry {
                b.stats.retries_accepted += 1;
            } else {
                b.stats.rotations += 1;
            }
            Ok(answer)
        }
        // Enphase's partner plan: the partner application signs in as the Enlighten user.
        Some("password") if s.vendor == OAuthVendor::Enphase => {
            if client != Some(Authenticated::Partner) {
                return Err(refuse(
                    "unauthorized_client",
                    "Unauthorized grant type: password",
                ));
            }
            let partner = s.partner.as_ref().expect("Enphase has a partner account");
            let (user, pass) = (p.get("username"), p.get("password"));
            if user.is_none_or(|u| u.is_empty()) || pass.is_none_or(|p| p.is_empty()) {
                return Err(refuse(
                    "invalid_request",
                    "Missing username or password",
                ));
            }
            if user != Some(&partner.username) || pass != Some(&partner.password) {
                return Err(refuse("invalid_grant", "Bad credentials"));
            }
            b.next_grant += 1;
            let grant = b.next_grant;
            b.grants.insert(
                grant,
                Grant {
                    revoked: false,
                    public: false,
                    partner: true,
                    scope: "read write".into(),
                    offline: true,
                    utility: String::new(),
                },
            );
            Ok(issue(s, &mut b, grant))
        }
        Some("client_credentials") if s.vendor == OAuthVendor::UtilityApi => {
            let token = s.token("cat_");
            b.client_tokens
                .insert(token.clone(), Instant::now() + Duration::from_secs(3600));
            Ok(
                json!({"token_type": "Bearer", "access_token": token, "expires_in": 3600, "scope": "FB=44"}),
            )
        }
        _ => Err(refuse(
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token (Enphase partner applications: password)",
        )),
    }
}

/// The vendor's revocation endpoint (SolarEdge V2 `POST /v2/oauth2/revoke-token`, JSON body
/// `{"token": ...}`), with the app authenticated as at the vendor's token endpoint. Revoking a
/// refresh or an access token revokes the grant: its refresh tokens are then `invalid_grant`
/// ("revoked") and its access tokens 401. A token the server does not know is answered 200, as
/// RFC 7009 answers it (nothing tells a caller which tokens exist).
async fn revoke(
    State(s): State<Arc<Server>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = match params(s.vendor, &uri, &headers, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !client_ok(&s, &p, &headers) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let Some(token) = p.get("token").filter(|t| !t.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    {
        let mut b = s.books.lock().unwrap_or_else(|p| p.into_inner());
        let grant = b
            .refresh
            .get(token)
            .map(|t| t.grant)
            .or_else(|| b.access.get(token).map(|a| a.0));
        if let Some(g) = grant.and_then(|g| b.grants.get_mut(&g)) {
            g.revoked = true;
        }
    }
    s.revocations.fetch_add(1, Ordering::SeqCst);
    StatusCode::OK.into_response()
}

/// The data API answers an armed redirect instead (counted as a data API request).
async fn redirect_api(
    State(s): State<Arc<Server>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match s.take_redirect(RedirectAt::DataApi) {
        Some(redirect) => redirect,
        None => next.run(request).await,
    }
}

/// The grant behind a bearer token, if it is live.
fn bearer(s: &Server, headers: &HeaderMap) -> Option<u64> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let mut b = s.books.lock().unwrap_or_else(|p| p.into_inner());
    let (grant, expires) = *b.access.get(token)?;
    let live = expires > Instant::now() && b.grants.get(&grant).is_some_and(|g| !g.revoked);
    if live {
        // The client holds this answer: the refresh token that came with it is now in use.
        if let Some(rt) = b.issued_with.get(token).cloned() {
            if let Some(t) = b.refresh.get_mut(&rt) {
                t.used = true;
            }
        }
    }
    live.then_some(grant)
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
        OAuthVendor::Metry => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": 401, "message": "Unauthorized"})),
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
    if let Some(partner) = &s.partner {
        if q.get("key") == partner.app.api_key.as_ref() {
            // The partner application's key takes the partner user's access token only.
            let grant = bearer(&s, &headers);
            let is_partner = grant.is_some_and(|g| {
                let b = s.books.lock().unwrap_or_else(|p| p.into_inner());
                b.grants.get(&g).is_some_and(|g| g.partner)
            });
            if !is_partner {
                if grant.is_some() {
                    return (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(json!({"message": "Not Authorized", "details": "API Key -Client mismatch", "code": 401})),
                    )
                        .into_response();
                }
                return unauthorized(&s);
            }
            let systems = &partner.systems;
            let size: usize = q
                .get("size")
                .and_then(|v| v.parse().ok())
                .unwrap_or(10)
                .clamp(1, 100);
            let page: usize = q
                .get("page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1)
                .max(1);
            let items: Vec<Value> = systems
                .iter()
                .skip((page - 1) * size)
                .take(size)
                .map(|x| {
                    json!({"system_id": x.id, "name": x.name, "public_name": x.name, "timezone": x.time_zone,
                           "address": {"city": x.city, "state": x.state, "country": "US", "postal_code": x.zip},
                           "status": if x.active { "normal" } else { "comm" }})
                })
                .collect();
            return axum::Json(
                json!({"total": systems.len(), "current_page": page, "size": size,
                "count": items.len(), "items": "systems", "systems": items}),
            )
            .into_response();
        }
    }
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

/// SMA `GET /v1/plants`: entries carry `plantId`, `name`, `description` and `timezone`; a
/// location only when asked for (`WithLocation=true`), never an address line or peak power
/// (docs/vendors/sma.md; the location's inner shape is the sandbox's guess).
async fn sma_plants(
    State(s): State<Arc<Server>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if bearer(&s, &headers).is_none() {
        return unauthorized(&s);
    }
    let with_location = q
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("WithLocation") && v.eq_ignore_ascii_case("true"));
    let plants: Vec<Value> = s
        .sites
        .iter()
        .map(|x| {
            let mut p = json!({"plantId": x.id.to_string(), "name": x.name,
                "description": format!("{:.1} kWp PV system", x.peak_power), "timezone": x.time_zone});
            if with_location {
                p["location"] = json!({"address": {"street": x.street, "city": x.city,
                    "federalState": x.state, "postalCode": x.zip, "country": "US"}});
            }
            p
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
        // The same V2 site as the fleet API's, `activationStatus` and all.
        Some(x) => axum::Json(crate::solaredge::site_json(x)).into_response(),
        None => (
            StatusCode::FORBIDDEN,
            axum::Json(
                json!({"title": "Forbidden", "status": 403, "detail": "No access to this site"}),
            ),
        )
            .into_response(),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

fn espi_refusal(status: StatusCode, why: &str) -> Response {
    let mut r = (
        status,
        [("content-type", "application/xml")],
        format!(
            "<error><code>{}</code><message>{why}</message></error>",
            status.as_u16()
        ),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            "www-authenticate",
            axum::http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    r
}

fn client_token_ok(s: &Server, headers: &HeaderMap) -> bool {
    let Some(t) = bearer_token(headers) else {
        return false;
    };
    let b = s.books.lock().unwrap_or_else(|p| p.into_inner());
    b.client_tokens.get(&t).is_some_and(|e| *e > Instant::now())
}

/// UtilityAPI: the customer's Green Button feed, with the customer's access token only.
async fn utilityapi_subscription(
    State(s): State<Arc<Server>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    if client_token_ok(&s, &headers) {
        return espi_refusal(
            StatusCode::FORBIDDEN,
            "A client access token cannot read customer data",
        );
    }
    let Some(grant) = bearer(&s, &headers) else {
        return espi_refusal(
            StatusCode::UNAUTHORIZED,
            "Missing, expired or invalid access token",
        );
    };
    if grant != id {
        return espi_refusal(
            StatusCode::FORBIDDEN,
            "This token does not grant this subscription",
        );
    }
    let utility = {
        let b = s.books.lock().unwrap_or_else(|p| p.into_inner());
        b.grants
            .get(&grant)
            .map(|g| g.utility.clone())
            .unwrap_or_default()
    };
    let (xml, _) = s.feed(&utility);
    (
        StatusCode::OK,
        [("content-type", "application/atom+xml")],
        xml.as_str().to_string(),
    )
        .into_response()
}

/// UtilityAPI: the authorization record, with the client access token or the customer's.
async fn utilityapi_authorization(
    State(s): State<Arc<Server>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    if !client_token_ok(&s, &headers) && bearer(&s, &headers).is_none() {
        return espi_refusal(
            StatusCode::UNAUTHORIZED,
            "Missing, expired or invalid access token",
        );
    }
    let b = s.books.lock().unwrap_or_else(|p| p.into_inner());
    let Some(g) = b.grants.get(&id) else {
        return espi_refusal(StatusCode::NOT_FOUND, "No such authorization");
    };
    let base = s.base_url.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let status = if g.revoked { 0 } else { 1 };
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><entry xmlns="http://www.w3.org/2005/Atom"><id>urn:uuid:auth-{id}</id><link rel="self" href="{base}/DataCustodian/espi/1_1/resource/Authorization/{id}"/><title>Green Button Authorization</title><content><Authorization xmlns="http://naesb.org/espi"><authorizedPeriod><duration>94608000</duration><start>1735689600</start></authorizedPeriod><status>{status}</status><expires_at>1830297600</expires_at><scope>{}</scope><resourceURI>{base}/DataCustodian/espi/1_1/resource/Batch/Subscription/{id}</resourceURI><authorizationURI>{base}/DataCustodian/espi/1_1/resource/Authorization/{id}</authorizationURI></Authorization></content></entry>"#,
        g.scope.replace('&', "&amp;")
    );
    (
        StatusCode::OK,
        [("content-type", "application/atom+xml")],
        xml,
    )
        .into_response()
}

/// Metry's household meters: electricity and district heating.
fn metry_meters(s: &Server) -> Vec<(String, String, &'static str, String)> {
    s.sites
        .iter()
        .enumerate()
        .map(|(i, x)| {
            (
                format!("5a1b{:020x}", x.id),
                format!("73599900000{:07}", x.id % 10_000_000),
                if i == 0 { "electricity" } else { "heat" },
                if i == 0 {
                    "Elmätare".to_string()
                } else {
                    "Fjärrvärme".to_string()
                },
            )
        })
        .collect()
}

/// Monthly kWh of a Metry meter in 2025, from the seed.
pub(crate) fn metry_months(s: &Server, meter: &str) -> [f64; 12] {
    let salt = meter
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    let mut r = fleet::rng(s.seed, salt);
    let heat = metry_meters(s)
        .iter()
        .any(|m| m.0 == meter && m.2 == "heat");
    std::array::from_fn(|i| {
        let winter = [1.6, 1.4, 1.2, 0.9, 0.6, 0.4, 0.35, 0.4, 0.6, 0.9, 1.2, 1.5][i];
        let base = if heat { 1400.0 } else { 520.0 };
        ((base * winter + r.gen_range(0.0..80.0)) * 10.0f64).round() / 10.0
    })
}

async fn metry_me(State(s): State<Arc<Server>>, headers: HeaderMap) -> Response {
    if bearer(&s, &headers).is_none() {
        return unauthorized(&s);
    }
    axum::Json(json!({"code": 200, "message": "OK", "data": {"_id": "5a1b0000000000000000c0de", "name": "Sandbox Household", "username": "household@example.com"}})).into_response()
}

async fn metry_meter_list(State(s): State<Arc<Server>>, headers: HeaderMap) -> Response {
    if bearer(&s, &headers).is_none() {
        return unauthorized(&s);
    }
    let data: Vec<Value> = metry_meters(&s)
        .into_iter()
        .map(|(id, ean, kind, name)| {
            json!({"_id": id, "ean": ean, "name": name, "address": "Storgatan 1, 111 22 Stockholm",
                   "timezone": "Europe/Stockholm", "metric": "energy", "type": kind})
        })
        .collect();
    axum::Json(json!({"code": 200, "message": "OK", "data": data})).into_response()
}

async fn metry_consumption(
    State(s): State<Arc<Server>>,
    headers: HeaderMap,
    Path((meter, year)): Path<(String, i32)>,
) -> Response {
    if bearer(&s, &headers).is_none() {
        return unauthorized(&s);
    }
    if !metry_meters(&s).iter().any(|m| m.0 == meter) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 404, "message": "Meter not found"})),
        )
            .into_response();
    }
    let energy: Vec<Value> = if year == 2025 {
        metry_months(&s, &meter).iter().map(|v| json!(v)).collect()
    } else {
        vec![Value::Null; 12]
    };
    axum::Json(json!({"code": 200, "message": "OK", "data": [{"meter_id": meter,
        "periods": [{"start_date": format!("{year}0101"), "end_date": format!("{year}1231"), "energy": energy}]}]}))
    .into_response()
}

pub(crate) fn router(s: Arc<Server>) -> Router {
    let (auth_path, token_path) = s.vendor.paths();
    let r = Router::new();
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
        OAuthVendor::UtilityApi => r
            .route(
                "/DataCustodian/espi/1_1/resource/Batch/Subscription/{id}",
                get(utilityapi_subscription),
            )
            .route(
                "/DataCustodian/espi/1_1/resource/Authorization/{id}",
                get(utilityapi_authorization),
            ),
        OAuthVendor::Metry => r
            .route("/api/v2/accounts/me", get(metry_me))
            .route("/api/v2/meters", get(metry_meter_list))
            .route(
                "/api/v2/consumptions/{meter}/month/{year}",
                get(metry_consumption),
            ),
    };
    // The data API answers through the fault knobs; sign-in and tokens have their own.
    let shapes = Arc::new(Shapes {
        unavailable: api_unavailable,
        rate_limited: api_rate_limited,
        malformed: api_malformed,
    });
    let api = r
        .layer(axum::middleware::from_fn_with_state(
            s.clone(),
            redirect_api,
        ))
        .layer(axum::middleware::from_fn_with_state(
            (s.api_knobs.clone(), shapes),
            inject,
        ));
    let mut r = Router::new()
        .route(auth_path, get(authorize))
        .route(token_path, post(token))
        .route(withdraw::PAGE, get(withdraw::page))
        .route(withdraw::WITHDRAW, post(withdraw::withdraw));
    if let Some(path) = s.vendor.revoke_path() {
        r = r.route(path, post(revoke));
    }
    if s.vendor == OAuthVendor::Metry {
        r = r.route("/oauth/authorize", get(authorize));
    }
    r.merge(api)
        .layer(axum::middleware::from_fn_with_state(s.clone(), timed))
        .with_state(s)
}

/// Adds the time spent answering to the server's busy time.
async fn timed(
    State(s): State<Arc<Server>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    s.busy_nanos
        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::SeqCst);
    response
}

fn api_unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({"error": "service_unavailable", "message": "Try again later"})),
    )
        .into_response()
}

fn api_rate_limited(retry_after: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [("retry-after", retry_after.to_string())],
        axum::Json(json!({"error": "rate_limited", "message": "Too many requests"})),
    )
        .into_response()
}

fn api_malformed() -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        r#"{"response": [{"id": 1, "name": "trunc"#,
    )
        .into_response()
}
