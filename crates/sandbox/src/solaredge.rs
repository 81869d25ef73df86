//! SolarEdge Monitoring API V2: `X-API-Key`, problem+json errors, a per-key per-minute budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::fleet::{self, FleetSite};
use crate::{DemoSiteKey, Injected, Knobs, SandboxConfig};

const CUSTOMER_KEYS: usize = 8;
const WINDOW: Duration = Duration::from_secs(60);

enum Scope {
    All,
    One(u64),
}

pub(crate) struct State {
    pub(crate) knobs: Arc<Knobs>,
    pub(crate) account_key: String,
    fleet: Vec<FleetSite>,
    customer_sites: Vec<(String, FleetSite)>,
    per_minute: u32,
    usage: Mutex<HashMap<String, (Instant, u32)>>,
}

impl State {
    pub(crate) fn seeded(cfg: &SandboxConfig) -> Arc<State> {
        let mut rng = fleet::rng(cfg.seed, 1);
        let account_key = fleet::solaredge_key(&mut rng);
        let fleet = fleet::sites(cfg.seed, 0x5e, cfg.solaredge_sites, 4_012_345);
        let customer_sites = fleet::sites(cfg.seed, 0x5e5e, CUSTOMER_KEYS, 5_100_001)
            .into_iter()
            .map(|s| (fleet::solaredge_key(&mut rng), s))
            .collect();
        Arc::new(State {
            knobs: Arc::default(),
            account_key,
            fleet,
            customer_sites,
            per_minute: cfg.solaredge_per_minute,
            usage: Mutex::default(),
        })
    }

    pub(crate) fn demo_keys(&self) -> Vec<DemoSiteKey> {
        self.customer_sites
            .iter()
            .map(|(k, s)| DemoSiteKey {
                api_key: k.clone(),
                site_id: s.id,
                site_name: s.name.clone(),
            })
            .collect()
    }

    fn scope(&self, key: &str) -> Option<Scope> {
        if key == self.account_key {
            return Some(Scope::All);
        }
        self.customer_sites
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, s)| Scope::One(s.id))
    }

    fn visible(&self, scope: &Scope) -> Vec<&FleetSite> {
        match scope {
            Scope::All => self.fleet.iter().collect(),
            Scope::One(id) => self
                .customer_sites
                .iter()
                .map(|(_, s)| s)
                .filter(|s| s.id == *id)
                .collect(),
        }
    }

    fn exists(&self, id: u64) -> bool {
        self.fleet.iter().any(|s| s.id == id) || self.customer_sites.iter().any(|(_, s)| s.id == id)
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

fn site_json(s: &FleetSite) -> Value {
    json!({
        "siteId": s.id,
        "name": s.name,
        "status": if s.active { "Active" } else { "Pending Communication" },
        "peakPower": s.peak_power,
        "installationDate": s.installed,
        "location": {
            "address": s.street, "city": s.city, "state": s.state, "zip": s.zip,
            "country": "United States", "timeZone": s.time_zone
        }
    })
}

/// Faults, then the API key, then the budget: what every V2 call goes through.
async fn gate(st: &State, headers: &HeaderMap) -> Result<(Scope, u32), Response> {
    match st.knobs.before().await {
        Injected::None => {}
        Injected::Unavailable => {
            return Err(problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                "The monitoring service is temporarily unavailable",
            ))
        }
        Injected::RateLimited => return Err(too_many(2)),
        Injected::Malformed => {
            return Err((
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"sites\":[{\"siteId\":",
            )
                .into_response())
        }
    }
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
    let scope = st.scope(key).ok_or_else(unauthorized)?;
    let remaining = st.spend(key).map_err(too_many)?;
    Ok((scope, remaining))
}

async fn list_sites(
    AxState(st): AxState<Arc<State>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (scope, remaining) = match gate(&st, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let parse = |name: &str, default: usize| -> Result<usize, Response> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().map_err(|_| {
                problem(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    &format!("Invalid value for {name}: {v}"),
                )
            }),
        }
    };
    let (page, size) = match (parse("page", 1), parse("sites-in-page", 100)) {
        (Ok(p), Ok(s)) if p >= 1 && (1..=1000).contains(&s) => (p, s),
        (Err(r), _) | (_, Err(r)) => return r,
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "page must be 1 or more and sites-in-page between 1 and 1000",
            )
        }
    };
    let visible = st.visible(&scope);
    let items: Vec<Value> = visible
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|s| site_json(s))
        .collect();
    json_ok(
        json!({"sites": items, "page": page, "sitesInPage": size, "totalCount": visible.len()}),
        remaining,
    )
}

async fn get_site(
    AxState(st): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (scope, remaining) = match gate(&st, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(id) = id.parse::<u64>() else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "siteId must be a number",
        );
    };
    match st.visible(&scope).into_iter().find(|s| s.id == id) {
        Some(s) => json_ok(site_json(s), remaining),
        None if st.exists(id) => problem(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "You do not have access to this site",
        ),
        None => problem(StatusCode::NOT_FOUND, "Not Found", "Site not found"),
    }
}

async fn v1_gone() -> Response {
    problem(
        StatusCode::GONE,
        "Gone",
        "Monitoring API V1 was retired in November 2026. Use Monitoring API V2 with an X-API-Key header.",
    )
}

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v2/sites", get(list_sites))
        .route("/v2/sites/{id}", get(get_site))
        .route("/sites/list", get(v1_gone))
        .route("/site/{id}/details", get(v1_gone))
        .with_state(state)
}
