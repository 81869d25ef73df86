//! SolarEdge Monitoring API V2 (Fleet Access): `X-API-Key`, problem+json errors, a per-key
//! per-minute budget. Facts and their sources: docs/vendors/solaredge.md.
//!
//! - `GET /v2/sites?page=&sites-in-page=` answers `{"sites": {"count": N, "site": [...]}}`
//!   (an object, a singular `site` array, `count` = every site the key sees), each site with
//!   `siteId`, `name`, `peakPower`, `installationDate`, `location`, `activationStatus`, `note`.
//! - V2 has no per-site API key: the only key is the company's fleet key (homeowners share one
//!   site through Site Access, an OAuth sign-in served by the OAuth sandbox). `X-Account-Key`,
//!   which SolarEdge's 2022 preview asked for besides `X-API-Key`, is accepted and not needed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::faults::{self, Knobs, Shapes};
use crate::fleet::{self, FleetSite};
use crate::SandboxConfig;

const WINDOW: Duration = Duration::from_secs(60);

pub(crate) struct State {
    pub(crate) account_key: String,
    fleet: Vec<FleetSite>,
    per_minute: u32,
    usage: Mutex<HashMap<String, (Instant, u32)>>,
}

impl State {
    pub(crate) fn seeded(cfg: &SandboxConfig) -> Arc<State> {
        let mut rng = fleet::rng(cfg.seed, 1);
        let account_key = fleet::solaredge_key(&mut rng);
        let fleet = fleet::sites(cfg.seed, 0x5e, cfg.solaredge_sites, 4_012_345);
        Arc::new(State {
            account_key,
            fleet,
            per_minute: cfg.solaredge_per_minute,
            usage: Mutex::default(),
        })
    }

    /// Counts one call against the key's minute; Err(seconds until the minute resets) when over.
    fn spend(&self, key: &str) -> Result<u32, u64> {
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let entry = usage.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_minute {
            let left = WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs() + u64::from(left.subsec_nanos() > 0));
        }
        entry.1 += 1;
        Ok(self.per_minute - entry.1)
    }
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body =
        json!({"type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail});
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

fn too_many(retry_after: u64) -> Response {
    let mut r = problem(
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "Rate limit exceeded: too many calls this minute for this API key",
    );
    let h = r.headers_mut();
    h.insert("x-ratelimit-remaining-minute", HeaderValue::from(0));
    h.insert("retry-after", HeaderValue::from(retry_after));
    r
}

fn json_ok(body: Value, remaining: u32) -> Response {
    let mut r = (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response();
    r.headers_mut()
        .insert("x-ratelimit-remaining-minute", HeaderValue::from(remaining));
    r
}

/// A V2 site as the site list and `GET /v2/sites/{siteId}` describe it.
pub(crate) fn site_json(s: &FleetSite) -> Value {
    json!({
        "siteId": s.id,
        "name": s.name,
        "peakPower": s.peak_power,
        "installationDate": format!("{}T00:00:00Z", s.installed),
        "location": {
            "address": s.street, "city": s.city, "state": s.state, "zip": s.zip,
            "country": "United States", "timezone": s.time_zone
        },
        "activationStatus": if s.active { "ACTIVE" } else { "PENDING" },
        "note": ""
    })
}

/// The API key, then the budget: what every V2 call goes through.
fn gate(st: &State, headers: &HeaderMap) -> Result<u32, Response> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let unauthorized = || {
        problem(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized - Authentication Failed",
        )
    };
    if key.is_empty() || key != st.account_key {
        return Err(unauthorized());
    }
    st.spend(key).map_err(too_many)
}

/// Marks a response with the key's remaining budget for this minute.
fn with_remaining(mut r: Response, remaining: u32) -> Response {
    r.headers_mut()
        .insert("x-ratelimit-remaining-minute", HeaderValue::from(remaining));
    r
}

fn bad_request(detail: &str) -> Response {
    problem(StatusCode::BAD_REQUEST, "Bad Request", detail)
}

/// A 1-based query number, its default when absent; None when not a number within `range`.
fn query_number(
    q: &HashMap<String, String>,
    name: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Option<usize> {
    match q.get(name) {
        None => Some(default),
        Some(v) => v.parse::<usize>().ok().filter(|n| range.contains(n)),
    }
}

/// `GET /v2/sites?page=1&sites-in-page=100`: the sites the key can see, one page of them.
async fn list_sites(
    AxState(st): AxState<Arc<State>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let remaining = match gate(&st, &headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(page) = query_number(&q, "page", 1, 1..=usize::MAX / 1000) else {
        return with_remaining(bad_request("page must be a number, 1 or more"), remaining);
    };
    let Some(size) = query_number(&q, "sites-in-page", 100, 1..=1000) else {
        return with_remaining(
            bad_request("sites-in-page must be a number between 1 and 1000"),
            remaining,
        );
    };
    let items: Vec<Value> = st
        .fleet
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(site_json)
        .collect();
    json_ok(
        json!({"sites": {"count": st.fleet.len(), "site": items}}),
        remaining,
    )
}

/// `GET /v2/sites/{siteId}`: one site, if the key can see it.
async fn get_site(
    AxState(st): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let remaining = match gate(&st, &headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(id) = id.parse::<u64>() else {
        return with_remaining(bad_request("siteId must be a number"), remaining);
    };
    match st.fleet.iter().find(|s| s.id == id) {
        Some(s) => json_ok(site_json(s), remaining),
        None => with_remaining(
            problem(StatusCode::NOT_FOUND, "Not Found", "Site not found"),
            remaining,
        ),
    }
}

/// Monitoring API V1 paths: retired.
async fn v1_gone() -> Response {
    problem(
        StatusCode::GONE,
        "Gone",
        "Monitoring API V1 was retired in November 2026. Use Monitoring API V2 with an X-API-Key header.",
    )
}

async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "Not Found", "No such resource")
}

fn unavailable() -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service Unavailable",
        "The monitoring service is temporarily unavailable",
    )
}

fn malformed() -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        "{\"sites\":{\"count\":3,\"site\":[{\"siteId\":",
    )
        .into_response()
}

pub(crate) fn router(state: Arc<State>, knobs: Arc<Knobs>) -> Router {
    let shapes = Arc::new(Shapes {
        unavailable,
        rate_limited: too_many,
        malformed,
    });
    Router::new()
        .route("/v2/sites", get(list_sites))
        .route("/v2/sites/{id}", get(get_site))
        .route("/sites/list", get(v1_gone))
        .route("/site/{id}/details", get(v1_gone))
        .fallback(not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            (knobs, shapes),
            faults::inject,
        ))
}
