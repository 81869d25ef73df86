//! Pelm: connect tokens (`Pelm-Client-Id` + `Pelm-Secret`), the hosted Connect page (a small
//! form a test browser completes or closes), the code exchange and the accounts list.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use rand::Rng;
use serde_json::json;

mod saved;

const UTILITIES: [(&str, &str); 3] = [
    ("pge", "PG&E"),
    ("coned", "Con Edison"),
    ("sandbox", "Sandbox Utility"),
];

struct ConnectToken {
    user_id: String,
    utility: Option<String>,
    issued: Instant,
    used: bool,
}

#[derive(Default)]
struct Books {
    connect: HashMap<String, ConnectToken>,
    codes: HashMap<String, (String, Instant, bool)>,
    access: HashMap<String, String>,
    users: Vec<String>,
}

pub(crate) struct Server {
    pub(crate) client_id: String,
    pub(crate) secret: String,
    registered: Vec<String>,
    books: Mutex<Books>,
    ledger: crate::ledger::Ledger,
    pub(crate) token_requests: AtomicU64,
}

impl Server {
    pub(crate) fn new(
        seed: u64,
        registered: Vec<String>,
        ledger: crate::ledger::Ledger,
    ) -> Arc<Server> {
        let mut r = crate::fleet::rng(seed, 0x9e1);
        Arc::new(Server {
            client_id: format!("{:08x}-sandbox-pelm", r.gen::<u32>()),
            secret: crate::fleet::solis_secret(&mut r),
            registered,
            books: Mutex::default(),
            ledger,
            token_requests: AtomicU64::new(0),
        })
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

    pub(crate) fn users(&self) -> Vec<String> {
        self.books().users.clone()
    }
}

fn token(prefix: &str) -> String {
    let b: [u8; 18] = rand::random();
    format!(
        "{prefix}{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

fn err(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({"error": msg}))).into_response()
}

fn client_ok(s: &Server, h: &HeaderMap) -> bool {
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default();
    get("pelm-client-id") == s.client_id && get("pelm-secret") == s.secret
}

async fn connect_token(
    State(s): State<Arc<Server>>,
    h: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if !client_ok(&s, &h) {
        return err(
            StatusCode::UNAUTHORIZED,
            "Invalid Pelm-Client-Id or Pelm-Secret",
        );
    }
    let Some(user) = f.get("user_id").filter(|u| !u.is_empty()) else {
        return err(StatusCode::BAD_REQUEST, "user_id is required");
    };
    let utility = f.get("utility_id").filter(|u| !u.is_empty()).cloned();
    if utility
        .as_deref()
        .is_some_and(|u| !UTILITIES.iter().any(|(id, _)| *id == u))
    {
        return err(StatusCode::BAD_REQUEST, "Unknown utility_id");
    }
    let t = s.mint("ct_");
    s.books().connect.insert(
        t.clone(),
        ConnectToken {
            user_id: user.clone(),
            utility,
            issued: Instant::now(),
            used: false,
        },
    );
    axum::Json(json!({"connect_token": t})).into_response()
}

fn redirect_ok(s: &Server, uri: &str) -> bool {
    s.registered.iter().any(|r| r == uri)
        || uri
            .strip_prefix("http://127.0.0.1:")
            .and_then(|r| r.split_once('/'))
            .is_some_and(|(p, _)| p.parse::<u16>().is_ok())
}

fn page(status: StatusCode, body: &str) -> Response {
    (status, Html(format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>Pelm Connect — sandbox</title></head><body style=\"font-family:sans-serif;max-width:420px;margin:40px auto\">{body}</body></html>"))).into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

async fn connect_page(
    State(s): State<Arc<Server>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let (ct, redirect, state) = (get("connect_token"), get("redirect_uri"), get("state"));
    s.ledger.record_state(&state);
    let b = s.books();
    let Some(t) = b
        .connect
        .get(&ct)
        .filter(|t| !t.used && t.issued.elapsed() < Duration::from_secs(1800))
    else {
        return page(StatusCode::BAD_REQUEST, "<h1>This Connect link has expired</h1><p>Ask the app you came from to start again.</p>");
    };
    if !redirect_ok(&s, &redirect) {
        return page(
            StatusCode::BAD_REQUEST,
            "<h1>This app's redirect_uri is not registered</h1>",
        );
    }
    let update = b.users.contains(&t.user_id);
    let picker = match &t.utility {
        Some(u) => format!(
            "<input type=\"hidden\" name=\"utility_id\" value=\"{}\">",
            esc(u)
        ),
        None => format!(
            "<label>Utility <select name=\"utility_id\">{}</select></label>",
            UTILITIES
                .iter()
                .map(|(id, n)| format!("<option value=\"{id}\">{}</option>", esc(n)))
                .collect::<String>()
        ),
    };
    let heading = if update {
        "Update your utility connection"
    } else {
        "Connect your utility account"
    };
    page(StatusCode::OK, &format!(
        "<h1>{heading}</h1><form method=\"post\" action=\"/connect/submit\">\
         <input type=\"hidden\" name=\"connect_token\" value=\"{}\"><input type=\"hidden\" name=\"redirect_uri\" value=\"{}\"><input type=\"hidden\" name=\"state\" value=\"{}\">\
         {picker}<p><label>Username <input name=\"username\" value=\"demo\"></label></p><p><label>Password <input type=\"password\" name=\"password\" value=\"demo\"></label></p>\
         <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"connect\">Connect</button> <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"cancel\">Cancel</button></form>",
        esc(&ct), esc(&redirect), esc(&state)
    ))
}

async fn connect_submit(
    State(s): State<Arc<Server>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (ct, redirect, state) = (get("connect_token"), get("redirect_uri"), get("state"));
    if !redirect_ok(&s, &redirect) {
        return page(
            StatusCode::BAD_REQUEST,
            "<h1>This app's redirect_uri is not registered</h1>",
        );
    }
    let mut b = s.books();
    let Some(t) = b
        .connect
        .get_mut(&ct)
        .filter(|t| !t.used && t.issued.elapsed() < Duration::from_secs(1800))
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "<h1>This Connect link has expired</h1>",
        );
    };
    let Ok(mut target) = url::Url::parse(&redirect) else {
        return page(StatusCode::BAD_REQUEST, "<h1>Bad redirect_uri</h1>");
    };
    if get("decision") != "allow" {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "The user closed Pelm Connect")
            .append_pair("state", &state);
        return Redirect::to(target.as_str()).into_response();
    }
    if get("password") != "demo" {
        drop(b);
        return page(StatusCode::OK, "<h1>Connect your utility account</h1><p role=\"alert\">That username and password did not work at the utility. Try again.</p>");
    }
    t.used = true;
    let user = t.user_id.clone();
    let code = s.mint("pc_");
    b.codes.insert(code.clone(), (user, Instant::now(), false));
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state);
    Redirect::to(target.as_str()).into_response()
}

async fn exchange(
    State(s): State<Arc<Server>>,
    h: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    s.token_requests.fetch_add(1, Ordering::SeqCst);
    if !client_ok(&s, &h) {
        return err(
            StatusCode::UNAUTHORIZED,
            "Invalid Pelm-Client-Id or Pelm-Secret",
        );
    }
    let mut b = s.books();
    let code = f.get("code").cloned().unwrap_or_default();
    let user = match b.codes.get_mut(&code) {
        Some((user, issued, used)) if !*used && issued.elapsed() < Duration::from_secs(600) => {
            *used = true;
            user.clone()
        }
        _ => return err(StatusCode::BAD_REQUEST, "Invalid authorization code"),
    };
    let access = s.mint("pa_");
    b.access.insert(access.clone(), user.clone());
    if !b.users.contains(&user) {
        b.users.push(user);
    }
    axum::Json(json!({"access_token": access, "access_token_expires_in": 3600, "refresh_token": s.mint("pr_"), "refresh_token_expires_in": 31_536_000})).into_response()
}

async fn accounts(State(s): State<Arc<Server>>, h: HeaderMap) -> Response {
    if !client_ok(&s, &h) {
        return err(
            StatusCode::UNAUTHORIZED,
            "Invalid Pelm-Client-Id or Pelm-Secret",
        );
    }
    let bearer = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(user) = s.books().access.get(bearer).cloned() else {
        return err(StatusCode::UNAUTHORIZED, "Invalid access token");
    };
    let n = user
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
        % 9000
        + 1000;
    axum::Json(json!([
        {"id": format!("acct_e{n}"), "account_number": format!("30{n}1127"), "utility_id": "pge", "utility_name": "PG&E", "address": "1234 Oak St, Fresno, CA 93701", "resource_type": "ELECTRIC"},
        {"id": format!("acct_g{n}"), "account_number": format!("30{n}1128"), "utility_id": "pge", "utility_name": "PG&E", "address": "1234 Oak St, Fresno, CA 93701", "resource_type": "GAS"},
    ])).into_response()
}

pub(crate) fn router(s: Arc<Server>) -> Router {
    Router::new()
        .route("/auth/connect-token", post(connect_token))
        .route("/auth/token", post(exchange))
        .route("/accounts", get(accounts))
        .route("/connect/", get(connect_page))
        .route("/connect/submit", post(connect_submit))
        .with_state(s)
}
