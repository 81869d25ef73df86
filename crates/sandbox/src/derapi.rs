//! Derapi: client credentials (HTTP Basic), Join flows (`/join/flows`, a browser page that
//! redirects back), Join sessions (`/join/session/start`, a page, `fetch-token`), and the sites
//! of completed enrollments (paginated). Errors are `application/problem+json`.
//!
//! Shapes as Derapi's API reference and its SDK (`derapi` 0.1.2) give them (docs/vendors/derapi.md):
//! vendors `enphase`, `enphasevpp`, `sma`, `smasbox`, `solaredge`, `solis`, `tesla`, `virtual`,
//! each Join entry `{"vendor", "credentials": {"credentialsID"}}` (credentials required where
//! the SDK requires them); `POST /join/session/start` `{"storeCredentials", "vendors"}` →
//! `{"sessionID"}`; `fetch-token` → `{"vendor", "accessToken", "refreshToken", "expiresIn",
//! "siteID"}`; `GET /sites` → `{"sites": [{"id"}], "errors": {}, "nextPageToken"}`;
//! `GET /sites/{id}` → the site. The session page and its submit route stand in for the
//! `derapi-join.js` component the customer would see.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use rand::Rng;
use serde_json::{json, Value};

mod saved;

pub(crate) const VENDORS: [&str; 8] = [
    "enphase",
    "enphasevpp",
    "sma",
    "smasbox",
    "solaredge",
    "solis",
    "tesla",
    "virtual",
];

/// Vendors whose Join entry must name stored vendor credentials (required in Derapi's SDK).
const NEEDS_CREDENTIALS: [&str; 5] = ["enphase", "enphasevpp", "sma", "smasbox", "tesla"];

struct Flow {
    redirect: String,
    program: Option<String>,
    vendors: Vec<String>,
}

enum Session {
    Pending(Vec<String>),
    Declined,
    Done {
        access: String,
        refresh: String,
        vendor: String,
        sites: Vec<String>,
    },
}

#[derive(Default)]
struct Books {
    tokens: HashMap<String, Instant>,
    flows: HashMap<String, Flow>,
    sessions: HashMap<String, Session>,
    sites: Vec<Value>,
    enrollments: u64,
    /// Vendors whose API Derapi "cannot reach": named in `errors` of the site list.
    unreachable: HashMap<String, String>,
}

pub(crate) struct Server {
    pub(crate) client_id: String,
    pub(crate) secret: String,
    seed: u64,
    books: Mutex<Books>,
    ledger: crate::ledger::Ledger,
    fault: Mutex<Option<u16>>,
}

impl Server {
    pub(crate) fn new(seed: u64, ledger: crate::ledger::Ledger) -> Arc<Server> {
        let mut r = crate::fleet::rng(seed, 0xde7);
        Arc::new(Server {
            client_id: format!("{:08x}-sandbox-derapi", r.gen::<u32>()),
            secret: crate::fleet::solis_secret(&mut r),
            seed,
            books: Mutex::default(),
            ledger,
            fault: Mutex::default(),
        })
    }

    /// The vendor credentials stored at this Derapi account: (vendor, credentials id), one for
    /// each vendor whose Join entry needs them.
    pub(crate) fn vendor_credentials(&self) -> Vec<(String, String)> {
        NEEDS_CREDENTIALS
            .iter()
            .map(|v| (v.to_string(), self.credentials_id(v)))
            .collect()
    }

    fn credentials_id(&self, vendor: &str) -> String {
        format!("vc-{vendor}-{:08x}", self.seed as u32 ^ 0x5eed)
    }

    /// From now on the site list names `vendor` in `errors` (Derapi could not reach it), or
    /// stops doing so (`None`).
    pub(crate) fn set_unreachable(&self, vendor: &str, why: Option<&str>) {
        let mut b = self.books();
        match why {
            Some(w) => b.unreachable.insert(vendor.to_string(), w.to_string()),
            None => b.unreachable.remove(vendor),
        };
    }

    /// A secret token, written in the ledger.
    fn mint(&self, prefix: &str) -> String {
        let t = token(prefix);
        self.ledger.record(&t);
        t
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_fault(&self, status: Option<u16>) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }

    /// Two sites of `vendor` join the account; their ids.
    fn enroll(&self, vendor: &str, enrollment: Option<&str>) -> Vec<String> {
        let mut b = self.books();
        b.enrollments += 1;
        let n = b.enrollments;
        let sites = crate::fleet::sites(self.seed, 0xde7 << 8 | n, 2, 5_500_000 + n * 100);
        let mut ids = Vec::new();
        for x in sites {
            let id = format!("{vendor}:{}", x.id);
            // `GET /sites/{id}`'s Site: location in coordinates and a time zone, no address.
            let lat = 32.0 + (x.id % 900) as f64 / 100.0;
            let lon = -(80.0 + (x.id % 3700) as f64 / 100.0);
            let mut v = json!({"id": id, "vendor": vendor, "name": x.name,
                "locationUTCOffset": x.utc_offset, "batteries": [], "solarInverters": [],
                "location": {"currentUTCOffset": x.utc_offset, "lat": lat, "lon": lon, "timezone": x.time_zone}});
            if let Some(e) = enrollment {
                v["enrollmentID"] = json!(e);
            }
            b.sites.push(v);
            ids.push(id);
        }
        ids
    }
}

impl Server {
    /// The `vendors` of a Join flow or session: `[{"vendor", "credentials"}]`, each a Derapi
    /// vendor, at most once, with stored credentials where the vendor needs them.
    fn join_vendors(&self, body: &Value) -> Result<Vec<String>, Response> {
        let bad = |d: &str| problem(StatusCode::BAD_REQUEST, "Bad Request", d);
        let list = body
            .get("vendors")
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("vendors is required: a list of {\"vendor\", \"credentials\"}"))?;
        let mut out = Vec::new();
        for entry in list {
            let vendor = entry
                .get("vendor")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("Each vendors entry needs a vendor"))?;
            if !VENDORS.contains(&vendor) {
                return Err(bad(&format!(
                    "Unknown vendor {vendor}: one of {}",
                    VENDORS.join(", ")
                )));
            }
            if out.iter().any(|v| v == vendor) {
                return Err(bad(&format!("Vendor {vendor} is listed twice")));
            }
            if NEEDS_CREDENTIALS.contains(&vendor) {
                let id = entry
                    .get("credentials")
                    .and_then(|c| c.get("credentialsID"))
                    .and_then(Value::as_str);
                match id {
                    Some(id) if id == self.credentials_id(vendor) => {}
                    Some(id) => {
                        return Err(bad(&format!("No vendor credentials {id} for {vendor}")))
                    }
                    None => {
                        return Err(bad(&format!(
                            "Vendor {vendor} needs credentials: {{\"credentialsID\": ...}}"
                        )))
                    }
                }
            }
            out.push(vendor.to_string());
        }
        Ok(out)
    }
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    (
        status,
        [("content-type", "application/problem+json")],
        json!({"type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail})
            .to_string(),
    )
        .into_response()
}

fn token(prefix: &str) -> String {
    let b: [u8; 18] = rand::random();
    format!(
        "{prefix}{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

/// The bearer check and the armed fault, for API calls.
fn guard(s: &Server, h: &HeaderMap) -> Option<Response> {
    if let Some(code) = s.fault.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Some(match code {
            504 => problem(
                StatusCode::GATEWAY_TIMEOUT,
                "Gateway Timeout",
                "The vendor's API did not answer in time",
            ),
            c => problem(
                StatusCode::from_u16(c).unwrap_or(StatusCode::BAD_GATEWAY),
                "Bad Gateway",
                "The vendor's API answered an error",
            ),
        });
    }
    let t = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let ok = s.books().tokens.get(t).is_some_and(|e| *e > Instant::now());
    (!ok).then(|| {
        problem(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Invalid or missing credentials",
        )
    })
}

async fn oauth_token(
    State(s): State<Arc<Server>>,
    h: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let basic = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if basic != Some(format!("{}:{}", s.client_id, s.secret)) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    let t = s.mint("dt_");
    s.books()
        .tokens
        .insert(t.clone(), Instant::now() + Duration::from_secs(3600));
    axum::Json(json!({"access_token": t, "token_type": "Bearer", "expires_in": 3600}))
        .into_response()
}

async fn create_flow(State(s): State<Arc<Server>>, h: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = guard(&s, &h) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "The body is not JSON",
        );
    };
    let redirect = v
        .get("redirectURI")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if redirect.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "redirectURI is required",
        );
    }
    let vendors = match s.join_vendors(&v) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = format!("flow-{}", &token("")[..16]);
    let program = v
        .get("programID")
        .and_then(Value::as_str)
        .map(str::to_string);
    s.books().flows.insert(
        id.clone(),
        Flow {
            redirect: redirect.clone(),
            program: program.clone(),
            vendors: vendors.clone(),
        },
    );
    (StatusCode::CREATED, axum::Json(json!({"id": id, "redirectURI": redirect, "programID": program, "vendors": vendors.iter().map(|v| json!({"vendor": v})).collect::<Vec<_>>()}))).into_response()
}

fn page(status: StatusCode, body: &str) -> Response {
    (status, Html(format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>Derapi Join — sandbox</title></head><body style=\"font-family:sans-serif;max-width:420px;margin:40px auto\">{body}</body></html>"))).into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

fn consent(action: &str, vendor_field: &str, state: &str, vendor: &str) -> String {
    format!(
        "<h1>Derapi Join</h1><p>Authorize access to your {} system.</p><form method=\"post\" action=\"{action}\">{vendor_field}<input type=\"hidden\" name=\"state\" value=\"{}\">\
         <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"authorize\">Authorize</button> <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"decline\">Decline</button></form>",
        esc(vendor), esc(state)
    )
}

async fn flow_page(
    State(s): State<Arc<Server>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let vendor = q.get("vendor").cloned().unwrap_or_default();
    let b = s.books();
    let Some(f) = b.flows.get(&id) else {
        return page(
            StatusCode::NOT_FOUND,
            "<h1>This Join link is not valid</h1>",
        );
    };
    if !f.vendors.contains(&vendor) {
        return page(
            StatusCode::BAD_REQUEST,
            "<h1>This vendor is not part of this Join</h1>",
        );
    }
    let field = format!(
        "<input type=\"hidden\" name=\"vendor\" value=\"{}\">",
        esc(&vendor)
    );
    s.ledger
        .record_state(q.get("state").map(String::as_str).unwrap_or_default());
    page(
        StatusCode::OK,
        &consent(
            &format!("/join/flows/{}/submit", esc(&id)),
            &field,
            q.get("state").map(String::as_str).unwrap_or_default(),
            &vendor,
        ),
    )
}

async fn flow_submit(
    State(s): State<Arc<Server>>,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (redirect, program, ok) = {
        let b = s.books();
        let Some(flow) = b.flows.get(&id) else {
            return page(
                StatusCode::NOT_FOUND,
                "<h1>This Join link is not valid</h1>",
            );
        };
        (
            flow.redirect.clone(),
            flow.program.clone(),
            flow.vendors.contains(&get("vendor")),
        )
    };
    if !ok {
        return page(
            StatusCode::BAD_REQUEST,
            "<h1>This vendor is not part of this Join</h1>",
        );
    }
    let Ok(mut target) = url::Url::parse(&redirect) else {
        return page(StatusCode::BAD_REQUEST, "<h1>Bad redirectURI</h1>");
    };
    if get("decision") != "allow" {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "The customer declined in Derapi Join")
            .append_pair("state", &get("state"));
        return Redirect::to(target.as_str()).into_response();
    }
    let enrollment = program.map(|_| format!("enr-{}", &token("")[..12]));
    s.enroll(&get("vendor"), enrollment.as_deref());
    {
        let mut q = target.query_pairs_mut();
        q.append_pair("state", &get("state"));
        if let Some(e) = &enrollment {
            q.append_pair("enrollmentID", e);
        }
    }
    Redirect::to(target.as_str()).into_response()
}

async fn session_start(State(s): State<Arc<Server>>, h: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = guard(&s, &h) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "The body is not JSON",
        );
    };
    if !v.get("storeCredentials").is_some_and(Value::is_boolean) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "storeCredentials is required (true or false)",
        );
    }
    let vendors = match s.join_vendors(&v) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = format!("js_{}", &token("")[..16]);
    s.books()
        .sessions
        .insert(id.clone(), Session::Pending(vendors));
    axum::Json(json!({"sessionID": id})).into_response()
}

async fn session_page(State(s): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    let b = s.books();
    let Some(Session::Pending(vendors)) = b.sessions.get(&id) else {
        return page(StatusCode::NOT_FOUND, "<h1>This Join session is over</h1>");
    };
    let (field, label) = match vendors.as_slice() {
        [v] => (
            format!(
                "<input type=\"hidden\" name=\"vendor\" value=\"{}\">",
                esc(v)
            ),
            v.clone(),
        ),
        many => (
            format!(
                "<select name=\"vendor\">{}</select>",
                many.iter()
                    .map(|v| format!("<option>{}</option>", esc(v)))
                    .collect::<String>()
            ),
            "device".to_string(),
        ),
    };
    page(
        StatusCode::OK,
        &consent(
            &format!("/join/session/{}/submit", esc(&id)),
            &field,
            "",
            &label,
        ),
    )
}

async fn session_submit(
    State(s): State<Arc<Server>>,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let offered = match s.books().sessions.get(&id) {
        Some(Session::Pending(v)) => v.clone(),
        _ => return page(StatusCode::NOT_FOUND, "<h1>This Join session is over</h1>"),
    };
    if f.get("decision").map(String::as_str) != Some("allow") {
        s.books().sessions.insert(id, Session::Declined);
        return page(
            StatusCode::OK,
            "<h1>Closed</h1><p>You can close this window.</p>",
        );
    }
    let vendor = f
        .get("vendor")
        .cloned()
        .filter(|v| offered.contains(v))
        .or_else(|| offered.first().cloned())
        .unwrap_or_default();
    let sites = s.enroll(&vendor, None);
    s.books().sessions.insert(
        id,
        Session::Done {
            access: s.mint("pt_"),
            refresh: s.mint("pr_"),
            vendor,
            sites,
        },
    );
    page(
        StatusCode::OK,
        "<h1>Done</h1><p>You can close this window.</p>",
    )
}

async fn fetch_token(
    State(s): State<Arc<Server>>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = guard(&s, &h) {
        return r;
    }
    match s.books().sessions.get(&id) {
        None => problem(StatusCode::NOT_FOUND, "Not Found", "No such Join session"),
        Some(Session::Pending(_)) => problem(
            StatusCode::CONFLICT,
            "Conflict",
            "The customer has not finished Join yet",
        ),
        Some(Session::Declined) => problem(
            StatusCode::GONE,
            "Gone",
            "The customer closed Join without authorizing",
        ),
        Some(Session::Done {
            access,
            refresh,
            vendor,
            sites,
        }) => {
            let mut v = json!({"vendor": vendor, "accessToken": access, "refreshToken": refresh,
                "expiresIn": "3600"});
            // Derapi names the customer's site for Enphase Grid Services only.
            if vendor == "enphasevpp" {
                if let Some(site) = sites.first() {
                    v["siteID"] = json!(site);
                }
            }
            axum::Json(v).into_response()
        }
    }
}

/// `GET /sites?vendor=&pageSize=&pageToken=`: `{"sites": [{"id"}], "errors": {}, "nextPageToken"}`.
async fn sites(
    State(s): State<Arc<Server>>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = guard(&s, &h) {
        return r;
    }
    // Small pages on purpose (at most 2), so clients must follow nextPageToken.
    let size: usize = q
        .get("pageSize")
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
        .clamp(1, 2);
    let from: usize = q
        .get("pageToken")
        .and_then(|v| v.strip_prefix("p").and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    let b = s.books();
    let vendor = q.get("vendor");
    if let Some(v) = vendor.filter(|v| !VENDORS.contains(&v.as_str())) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            &format!("Unknown vendor {v}"),
        );
    }
    let wanted = |v: &&String| vendor.is_none_or(|w| w == *v);
    let errors: serde_json::Map<String, Value> = b
        .unreachable
        .iter()
        .filter(|(v, _)| wanted(v))
        .map(|(v, why)| (v.clone(), json!(why)))
        .collect();
    let all: Vec<&Value> = b
        .sites
        .iter()
        .filter(|x| {
            let v = x["vendor"].as_str().unwrap_or_default();
            vendor.is_none_or(|w| w == v) && !b.unreachable.contains_key(v)
        })
        .collect();
    let page: Vec<Value> = all
        .iter()
        .skip(from)
        .take(size)
        .map(|x| json!({"id": x["id"]}))
        .collect();
    let mut v = json!({"sites": page, "errors": errors});
    if from + size < all.len() {
        v["nextPageToken"] = json!(format!("p{}", from + size));
    }
    axum::Json(v).into_response()
}

/// `GET /sites/{id}`: the site, if the account sees it.
async fn site(State(s): State<Arc<Server>>, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = guard(&s, &h) {
        return r;
    }
    match s.books().sites.iter().find(|x| x["id"] == id.as_str()) {
        Some(x) => axum::Json(x.clone()).into_response(),
        None => problem(StatusCode::NOT_FOUND, "Not Found", "No such site"),
    }
}

pub(crate) fn router(s: Arc<Server>) -> Router {
    Router::new()
        .route("/oauth2/token", post(oauth_token))
        .route("/join/flows", post(create_flow))
        .route("/join/flows/{id}/authorize", get(flow_page))
        .route("/join/flows/{id}/submit", post(flow_submit))
        .route("/join/session/start", post(session_start))
        .route("/join/session/{id}", get(session_page))
        .route("/join/session/{id}/submit", post(session_submit))
        .route("/join/session/{id}/fetch-token", get(fetch_token))
        .route("/sites", get(sites))
        .route("/sites/{id}", get(site))
        .with_state(s)
}
