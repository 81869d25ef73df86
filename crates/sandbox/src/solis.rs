//! Solis Cloud: signed POSTs (Content-MD5, Date within 15 minutes, HMAC-SHA1 over the
//! canonical string), `{success, code, msg, data}` envelopes, 3 calls per 5 s per client IP.

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
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use serde_json::{json, Value};

use crate::fleet::{self, FleetSite};
use crate::{DemoSolisKey, Injected, Knobs, SandboxConfig};

const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
const CUSTOMER_KEYS: usize = 8;

/// base64 of the raw MD5 digest of `body`.
pub fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(body))
}

/// base64(HMAC-SHA1(secret, "POST\n{md5}\n{content type}\n{date}\n{path}")), as Solis verifies it.
pub fn sign(
    key_secret: &str,
    content_md5: &str,
    content_type: &str,
    date: &str,
    path: &str,
) -> String {
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(key_secret.as_bytes()).expect("any key length");
    mac.update(format!("POST\n{content_md5}\n{content_type}\n{date}\n{path}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

struct Key {
    id: String,
    secret: String,
    /// None = every station of the installer account.
    stations: Option<Vec<FleetSite>>,
}

pub(crate) struct State {
    pub(crate) knobs: Arc<Knobs>,
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
            knobs: Arc::default(),
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

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies a request exactly as Solis does; returns the caller's key.
fn verify<'a>(
    st: &'a State,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<&'a Key, Response> {
    let (Some(md5), Some(ctype), Some(date), Some(auth)) = (
        header(headers, "content-md5"),
        header(headers, "content-type"),
        header(headers, "date"),
        header(headers, "authorization"),
    ) else {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "I0000",
            "Required headers are missing: Content-MD5, Content-Type, Date, Authorization",
        ));
    };
    if md5 != content_md5(body) {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "I0000",
            "Content-MD5 does not match the body",
        ));
    }
    let Ok(at) = httpdate::parse_http_date(date) else {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "I0000",
            "Date is not an RFC 1123 date",
        ));
    };
    let now = SystemTime::now();
    let skew = now
        .duration_since(at)
        .or_else(|_| at.duration_since(now))
        .unwrap_or_default();
    if skew > MAX_SKEW {
        return Err(fail(
            StatusCode::REQUEST_TIMEOUT,
            "408",
            "Request time is out of range",
        ));
    }
    let Some((key_id, signature)) = auth.strip_prefix("API ").and_then(|r| r.split_once(':'))
    else {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "R0000",
            "No authority: malformed Authorization header",
        ));
    };
    let Some(key) = st.keys.iter().find(|k| k.id == key_id) else {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "B0011",
            "User does not exist: unknown KeyId",
        ));
    };
    if sign(&key.secret, md5, ctype, date, path) != signature {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "R0000",
            "No authority: the signature does not match",
        ));
    }
    Ok(key)
}

async fn api(
    AxState(st): AxState<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match st.knobs.before().await {
        Injected::None => {}
        Injected::Unavailable => {
            return fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "503",
                "Service temporarily unavailable",
            )
        }
        Injected::RateLimited => return too_many(2),
        Injected::Malformed => {
            return (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"success\":true,\"code\":\"0\",\"data\":{\"page\":",
            )
                .into_response()
        }
    }
    if let Err(wait) = st.admit(peer.ip()) {
        return too_many(wait);
    }
    let path = uri.path();
    let key = match verify(&st, path, &headers, &body) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return fail(StatusCode::BAD_REQUEST, "I0000", "The body is not JSON");
    };
    let stations: &[FleetSite] = key.stations.as_deref().unwrap_or(&st.fleet);
    match path {
        "/v1/api/userStationList" => {
            let num =
                |name: &str, default: u64| req.get(name).and_then(Value::as_u64).unwrap_or(default);
            let page_no = num("pageNo", 1).max(1) as usize;
            let size = num("pageSize", 20).clamp(1, 100) as usize;
            let total = stations.len();
            let records: Vec<Value> = stations
                .iter()
                .skip((page_no - 1) * size)
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
            let id = req.get("id").and_then(Value::as_str).unwrap_or_default();
            if id.is_empty() {
                return fail(StatusCode::OK, "I0000", "Required parameter id is empty");
            }
            match stations.iter().find(|s| s.station_id == id) {
                Some(s) => ok(station_json(s)),
                None => fail(StatusCode::OK, "R0000", "No authority for this station"),
            }
        }
        _ => fail(StatusCode::NOT_FOUND, "404", "No such interface"),
    }
}

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v1/api/userStationList", post(api))
        .route("/v1/api/stationDetail", post(api))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of the SolisCloud API document, checked by the sandbox's verifier.
    #[test]
    fn verifies_the_vendors_worked_example() {
        let body = br#"{"pageNo":1,"pageSize":10}"#;
        assert_eq!(content_md5(body), "kxdxk7rbAsrzSIWgEwhH4w==");
        assert_eq!(
            sign(
                "6680182547",
                "kxdxk7rbAsrzSIWgEwhH4w==",
                "application/json",
                "Fri, 26 Jul 2019 06:00:46 GMT",
                "/v1/api/userStationList"
            ),
            "nBYQWeuzy3Y+gp67BN8zXTmvSDk="
        );
    }
}
