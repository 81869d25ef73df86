//! Solis Cloud: signed POSTs (see [`crate::signing`]), `{success, code, msg, data}` envelopes,
//! 3 calls per 5 s per client IP.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::faults::{self, Knobs, Shapes};
use crate::fleet::{self, FleetSite};
use crate::signing::{self, Rejection};
use crate::{DemoSolisKey, SandboxConfig};

const CUSTOMER_KEYS: usize = 8;

struct Key {
    id: String,
    secret: String,
    /// None = every station of the installer account.
    stations: Option<Vec<FleetSite>>,
}

pub(crate) struct State {
    keys: Vec<Key>,
    fleet: Vec<FleetSite>,
    per_window: usize,
    window: Duration,
    calls: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl State {
    pub(crate) fn seeded(cfg: &SandboxConfig) -> Arc<State> {
        let mut rng = fleet::rng(cfg.seed, 2);
        let fleet = fleet::sites(cfg.seed, 0x501, cfg.solis_stations, 10_001);
        let own = fleet::sites(cfg.seed, 0x50150, CUSTOMER_KEYS * 2, 90_001);
        let mut keys = vec![Key {
            id: fleet::solis_key_id(&mut rng),
            secret: fleet::solis_secret(&mut rng),
            stations: None,
        }];
        let mut own = own.into_iter();
        for i in 0..CUSTOMER_KEYS {
            // Every third customer has two stations (a house and a barn, say).
            let n = if i % 3 == 1 { 2 } else { 1 };
            keys.push(Key {
                id: fleet::solis_key_id(&mut rng),
                secret: fleet::solis_secret(&mut rng),
                stations: Some(own.by_ref().take(n).collect()),
            });
        }
        Arc::new(State {
            keys,
            fleet,
            per_window: cfg.solis_per_window.max(1) as usize,
            window: cfg.solis_window,
            calls: Mutex::default(),
        })
    }

    fn demo(k: &Key, fleet: &[FleetSite]) -> DemoSolisKey {
        DemoSolisKey {
            key_id: k.id.clone(),
            key_secret: k.secret.clone(),
            station_ids: k
                .stations
                .as_deref()
                .unwrap_or(fleet)
                .iter()
                .map(|s| s.station_id.clone())
                .collect(),
        }
    }

    pub(crate) fn account_demo(&self) -> DemoSolisKey {
        State::demo(&self.keys[0], &self.fleet)
    }

    pub(crate) fn customer_demos(&self) -> Vec<DemoSolisKey> {
        self.keys[1..]
            .iter()
            .map(|k| State::demo(k, &self.fleet))
            .collect()
    }

    /// Err(seconds to wait) when this IP already made its calls in the window.
    fn admit(&self, ip: IpAddr) -> Result<(), u64> {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let q = calls.entry(ip).or_default();
        let now = Instant::now();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() >= self.per_window {
            let wait = self.window.saturating_sub(now.duration_since(q[0]));
            return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        q.push_back(now);
        Ok(())
    }
}

fn fail(status: StatusCode, code: &str, msg: &str) -> Response {
    let body = json!({"success": false, "code": code, "msg": msg, "data": null});
    (
        status,
        [("content-type", "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

fn too_many(retry_after: u64) -> Response {
    let mut r = fail(
        StatusCode::TOO_MANY_REQUESTS,
        "429",
        "Too many requests, please try again later",
    );
    r.headers_mut()
        .insert("retry-after", HeaderValue::from(retry_after.max(1)));
    r
}

fn ok(data: Value) -> Response {
    let body = json!({"success": true, "code": "0", "msg": "success", "data": data});
    (
        StatusCode::OK,
        [("content-type", "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

fn station_json(s: &FleetSite) -> Value {
    json!({
        "id": s.station_id,
        "stationName": s.name,
        "sno": format!("SN{}", &s.station_id[s.station_id.len() - 8..]),
        "capacity": s.peak_power,
        "capacityStr": "kWp",
        "addr": s.address_line(),
        "country": "United States",
        "timeZone": s.utc_offset,
        "state": if s.active { 1 } else { 2 },
        "dataTimestamp": "1763800000000",
    })
}

/// The vendor's answer to a request refused by the signature check.
fn refused(r: Rejection) -> Response {
    let (status, code, msg) = match r {
        Rejection::MissingHeaders => (
            StatusCode::BAD_REQUEST,
            "I0000",
            "Required headers are missing: Content-MD5, Content-Type, Date, Authorization",
        ),
        Rejection::Md5Mismatch => (
            StatusCode::BAD_REQUEST,
            "I0000",
            "Content-MD5 does not match the body",
        ),
        Rejection::BadDate => (
            StatusCode::BAD_REQUEST,
            "I0000",
            "Date is not an RFC 1123 GMT date",
        ),
        Rejection::ClockSkew => (
            StatusCode::REQUEST_TIMEOUT,
            "408",
            "Request time is more than 15 minutes from server time",
        ),
        Rejection::MalformedAuthorization => (
            StatusCode::FORBIDDEN,
            "R0000",
            "No authority: Authorization must be API {KeyId}:{Sign}",
        ),
        Rejection::UnknownKey => (
            StatusCode::FORBIDDEN,
            "B0011",
            "User does not exist: unknown KeyId",
        ),
        Rejection::BadSignature => (
            StatusCode::FORBIDDEN,
            "R0000",
            "No authority: the signature does not match",
        ),
    };
    fail(status, code, msg)
}

/// A non-negative integer field, given as a number or a numeric string.
fn number(req: &Value, name: &str) -> Option<u64> {
    match req.get(name)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Every Solis endpoint: rate limit, signature, then the endpoint itself.
async fn api(
    AxState(st): AxState<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(wait) = st.admit(peer.ip()) {
        return too_many(wait);
    }
    let path = uri.path();
    let secret_of = |id: &str| {
        st.keys
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.secret.as_str())
    };
    let key = match signing::verify(path, &headers, &body, SystemTime::now(), secret_of) {
        Ok(id) => st.keys.iter().find(|k| k.id == id),
        Err(r) => return refused(r),
    };
    let Some(key) = key else {
        return refused(Rejection::UnknownKey);
    };
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return fail(StatusCode::BAD_REQUEST, "I0000", "The body is not JSON");
    };
    let stations: &[FleetSite] = key.stations.as_deref().unwrap_or(&st.fleet);
    match path {
        "/v1/api/userStationList" => {
            let page_no = number(&req, "pageNo").unwrap_or(1).max(1) as usize;
            let size = number(&req, "pageSize").unwrap_or(20).clamp(1, 100) as usize;
            let total = stations.len();
            let records: Vec<Value> = stations
                .iter()
                .skip(page_no.saturating_sub(1).saturating_mul(size))
                .take(size)
                .map(station_json)
                .collect();
            let normal = stations.iter().filter(|s| s.active).count();
            ok(json!({
                "page": {"current": page_no, "pages": total.div_ceil(size), "size": size, "total": total, "records": records},
                "stationStatusVo": {"all": total, "normal": normal, "offline": total - normal, "fault": 0}
            }))
        }
        "/v1/api/stationDetail" => {
            let id = match req.get("id") {
                Some(Value::String(s)) => s.trim().to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            if id.is_empty() {
                return fail(StatusCode::OK, "I0000", "Required parameter id is empty");
            }
            match stations.iter().find(|s| s.station_id == id) {
                Some(s) => ok(station_json(s)),
                None => fail(StatusCode::OK, "R0000", "No authority for this station"),
            }
        }
        _ => not_found().await,
    }
}

async fn not_found() -> Response {
    fail(StatusCode::NOT_FOUND, "404", "No such interface")
}

fn unavailable() -> Response {
    fail(
        StatusCode::SERVICE_UNAVAILABLE,
        "503",
        "Service temporarily unavailable",
    )
}

fn malformed() -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json;charset=UTF-8")],
        "{\"success\":true,\"code\":\"0\",\"msg\":\"success\",\"data\":{\"page\":",
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
        .route("/v1/api/userStationList", post(api))
        .route("/v1/api/stationDetail", post(api))
        .fallback(not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            (knobs, shapes),
            faults::inject,
        ))
}
