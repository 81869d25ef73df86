//! What a held-out OAuth server showed, against the sandbox over loopback with the real store
//! and keyring: full endpoint URLs and scopes in `onramp.toml`, public clients (PKCE, no
//! secret) where the vendor allows them, the issuer of an authorization answer (RFC 9207), a
//! refresh the vendor refuses for the company's app (`invalid_client`), and a check that renews
//! an expired access token before asking the vendor.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use onramp_core::config::Config;
use onramp_core::error::TokenError;
use onramp_core::lifecycle::{ManualClock, Policy};
use onramp_core::model::{AppSource, ConnectionState, ProviderId, Who};
use onramp_core::providers::oauth::AppCredentials;
use onramp_core::service::{Redirect, Sweep};
use onramp_core::vault::Sensitive;
use onramp_core::{Code, Onramp, OpenOptions};
use onramp_sandbox::OAuthVendor;

/// Onramp with the sandbox's demo apps except `without`'s, which must be saved in Settings.
async fn open_without_app(w: &World, config: Config, without: ProviderId) -> Onramp {
    let apps: Vec<(ProviderId, AppCredentials)> =
        onramp_launch::wire(&w.sandbox, &mut Config::default())
            .into_iter()
            .filter(|(p, _)| *p != without)
            .collect();
    Onramp::open(OpenOptions {
        data_dir: w.dir.path().to_path_buf(),
        config_file: w.dir.path().join("onramp.toml"),
        config,
        actor: "app",
        sandbox_keys: vec![],
        oauth_apps: apps,
    })
    .await
    .expect("onramp opens")
}

/// A loopback authorization server whose endpoints live at its own paths (`/as/v1/authorize`,
/// `/as/v1/token`), in front of the sandbox's SMA server: what the held-out server looked like.
async fn server_elsewhere(sandbox_sma: String) -> String {
    use axum::body::Bytes;
    use axum::extract::{Request, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    type Ctx = (reqwest::Client, String);
    async fn authorize(State((http, base)): State<Ctx>, req: Request) -> Response {
        let query = req.uri().query().unwrap_or_default().to_string();
        let r = http
            .get(format!("{base}/oauth2/auth?{query}"))
            .send()
            .await
            .unwrap();
        let mut out = StatusCode::from_u16(r.status().as_u16())
            .unwrap()
            .into_response();
        if let Some(l) = r.headers().get("location") {
            out.headers_mut()
                .insert("location", l.to_str().unwrap().parse().unwrap());
        }
        out
    }
    async fn token(State((http, base)): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
        let mut req = http
            .post(format!("{base}/oauth2/token"))
            .body(body.to_vec());
        for name in ["content-type", "authorization", "accept"] {
            if let Some(v) = headers.get(name) {
                req = req.header(name, v.to_str().unwrap());
            }
        }
        let r = req.send().await.unwrap();
        let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
        (
            status,
            [("content-type", "application/json")],
            r.bytes().await.unwrap(),
        )
            .into_response()
    }
    let app = axum::Router::new()
        .route("/as/v1/authorize", get(authorize))
        .route("/as/v1/token", post(token))
        .with_state((http, sandbox_sma));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn onramp_toml_takes_full_endpoint_urls_and_a_scope() {
    let w = World::new().await;
    let elsewhere = server_elsewhere(w.sandbox.oauth_url(OAuthVendor::Sma)).await;
    // The wired configuration as a file, with SMA's endpoints where this server has them.
    let mut text = toml::to_string(&w.config()).unwrap();
    let sma = toml::to_string(&toml::toml! {
        authorize_url = (format!("{elsewhere}/as/v1/authorize"))
        token_url = (format!("{elsewhere}/as/v1/token"))
        api_url = (w.sandbox.oauth_url(OAuthVendor::Sma))
        scope = "offline_access   monitoringApi:read monitoringApi:write"
    })
    .unwrap();
    let mut doc: toml::Table = toml::from_str(&text).unwrap();
    doc["oauth"]
        .as_table_mut()
        .unwrap()
        .insert("sma".into(), toml::from_str::<toml::Value>(&sma).unwrap());
    text = toml::to_string(&doc).unwrap();
    let file = w.dir.path().join("onramp.toml");
    std::fs::write(&file, text).unwrap();
    let config = Config::load(&file).expect("full endpoint URLs and a scope are accepted");

    let ep = config.oauth_endpoints(ProviderId::Sma).unwrap();
    assert_eq!(ep.authorize_url, format!("{elsewhere}/as/v1/authorize"));
    assert_eq!(ep.token_url, format!("{elsewhere}/as/v1/token"));
    // Host-only configurations keep working: Tesla is still configured by its host.
    let tesla = config.oauth_endpoints(ProviderId::Tesla).unwrap();
    assert_eq!(
        tesla.token_url,
        format!(
            "{}/oauth2/v3/token",
            w.sandbox.oauth_url(OAuthVendor::Tesla)
        )
    );

    let onramp = w.open_with(config).await;
    let c = customer(&onramp, "Ada").await;
    let start = onramp
        .begin_oauth(&c, ProviderId::Sma, Redirect::DeepLink)
        .await
        .unwrap();
    let url = url::Url::parse(&start.authorize_url).unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        Some(format!("{elsewhere}/as/v1/authorize").as_str()),
        "the configured endpoint, no vendor path appended"
    );
    let scope: String = url
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert_eq!(
        scope,
        "offline_access monitoringApi:read monitoringApi:write"
    );
    let back = consent(&start.authorize_url).await;
    let conn = onramp
        .complete_oauth(&back, Some(ProviderId::Sma))
        .await
        .unwrap();
    assert_eq!(conn.state, ConnectionState::Active);
    assert_eq!(
        conn.scopes.as_deref(),
        Some("offline_access monitoringApi:read monitoringApi:write"),
        "the scope asked for is the scope granted"
    );
    // The refresh goes to the configured token endpoint too.
    let before = w.sandbox.token_requests(OAuthVendor::Sma);
    onramp.refresh_connection(&conn.id).await.unwrap();
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Sma), before + 1);
    onramp.close().await;
}

#[tokio::test]
async fn a_malformed_endpoint_or_scope_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("onramp.toml");
    for (bad, what) in [
        (
            "[oauth.sma]\ntoken_url = \"auth.example.com/token\"\n",
            "token_url",
        ),
        ("[oauth.tesla]\nissuer = \"not a url\"\n", "issuer"),
        ("[oauth.sma]\nscope = \"  \"\n", "scope"),
    ] {
        std::fs::write(&file, bad).unwrap();
        let e = Config::load(&file).unwrap_err();
        assert_eq!(e.code, Code::NotConfigured);
        assert!(e.message.contains(what), "{what}: {}", e.message);
    }
}

#[tokio::test]
async fn a_public_client_signs_in_and_refreshes_with_pkce_only() {
    let w = World::new().await;
    let onramp = open_without_app(&w, w.config(), ProviderId::Tesla).await;
    let public = w
        .sandbox
        .oauth_public_client(OAuthVendor::Tesla)
        .expect("the Tesla sandbox has a public client");
    onramp
        .save_oauth_app(
            ProviderId::Tesla,
            &public,
            Sensitive::new(String::new()),
            None,
        )
        .await
        .expect("Tesla accepts public clients: no secret needed");
    let apps = onramp.vendor_apps().await.unwrap();
    let tesla = apps
        .iter()
        .find(|a| a.provider == ProviderId::Tesla)
        .unwrap();
    assert!(tesla.public_client && tesla.source == AppSource::Settings);

    let c = customer(&onramp, "Ada").await;
    let id = sign_in(&onramp, &c, ProviderId::Tesla).await;
    let conn = onramp.refresh_connection(&id).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Active);
    let log = w.sandbox.token_log(OAuthVendor::Tesla);
    assert!(
        log.iter().all(|r| r.error.is_none()),
        "every token request of the public client was accepted: {log:?}"
    );
    assert_eq!(log.len(), 2, "the exchange and the refresh");
    onramp.close().await;
}

#[tokio::test]
async fn a_confidential_client_without_its_secret_is_refused() {
    let w = World::new().await;
    let onramp = open_without_app(&w, w.config(), ProviderId::Tesla).await;
    let confidential = w.sandbox.oauth_client(OAuthVendor::Tesla);
    // Saved without its secret, as if it were public: Tesla refuses it at the exchange.
    onramp
        .save_oauth_app(
            ProviderId::Tesla,
            &confidential.client_id,
            Sensitive::new(String::new()),
            None,
        )
        .await
        .unwrap();
    let c = customer(&onramp, "Ada").await;
    let e = try_sign_in(&onramp, &c, ProviderId::Tesla)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::NotConfigured, "{e:?}");
    assert_eq!(e.token_error, Some(TokenError::InvalidClient));
    assert!(
        e.message.contains("your company's Tesla app"),
        "{}",
        e.message
    );
    assert_eq!(row_count(&onramp, "connections").await, 0);

    // Vendors that document no public client refuse an app without its secret at once.
    for p in [ProviderId::Sma, ProviderId::Enphase, ProviderId::Solaredge] {
        let e = onramp
            .save_oauth_app(p, "some-client", Sensitive::new(" ".into()), None)
            .await
            .unwrap_err();
        assert_eq!(e.code, Code::Validation, "{p:?}");
        assert!(e.message.contains("client secret"), "{}", e.message);
    }
    onramp.close().await;
}

#[tokio::test]
async fn the_sandbox_holds_a_public_client_to_pkce_and_no_secret() {
    let w = World::new().await;
    let base = w.sandbox.oauth_url(OAuthVendor::Tesla);
    let public = w.sandbox.oauth_public_client(OAuthVendor::Tesla).unwrap();
    assert_eq!(w.sandbox.oauth_public_client(OAuthVendor::Sma), None);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = |challenge: Option<&str>| {
        let mut u = url::Url::parse(&format!("{base}/oauth2/v3/authorize")).unwrap();
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &public)
            .append_pair("redirect_uri", "onramp://oauth/callback")
            .append_pair("state", "s")
            .append_pair("scope", "openid offline_access");
        if let Some(c) = challenge {
            u.query_pairs_mut()
                .append_pair("code_challenge", c)
                .append_pair("code_challenge_method", "S256");
        }
        u.to_string()
    };
    let location =
        |r: reqwest::Response| url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let param = |u: &url::Url, k: &str| {
        u.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    // Without PKCE: refused at the authorize step.
    let back = location(http.get(authorize(None)).send().await.unwrap());
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&back, "code"), None);
    // With PKCE: a code, exchanged with the verifier and no secret.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let code_once = || async {
        let back = location(http.get(authorize(Some(challenge))).send().await.unwrap());
        param(&back, "code").expect("a code")
    };
    let exchange = |code: String, extra: Vec<(&'static str, String)>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", public.clone()),
            ("code", code),
            ("redirect_uri", "onramp://oauth/callback".into()),
            ("audience", base.clone()),
        ];
        form.extend(extra);
        http.post(format!("{base}/oauth2/v3/token"))
            .form(&form)
            .send()
    };
    // A public client that presents a secret is not the public client.
    let r = exchange(
        code_once().await,
        vec![
            ("code_verifier", verifier.into()),
            ("client_secret", "guessed".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // A wrong verifier is refused.
    let r = exchange(code_once().await, vec![("code_verifier", "x".repeat(43))])
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // The right verifier, no secret: tokens.
    let r = exchange(code_once().await, vec![("code_verifier", verifier.into())])
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let tokens: serde_json::Value = r.json().await.unwrap();
    assert!(tokens["refresh_token"].is_string());
    // The confidential client without its secret is refused.
    let app = w.sandbox.oauth_client(OAuthVendor::Tesla);
    let back = location(
        http.get(authorize(Some(challenge)).replace(&public, &app.client_id))
            .send()
            .await
            .unwrap(),
    );
    let r = http
        .post(format!("{base}/oauth2/v3/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", app.client_id.as_str()),
            ("code", param(&back, "code").unwrap().as_str()),
            ("redirect_uri", "onramp://oauth/callback"),
            ("code_verifier", verifier),
            ("audience", base.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        401,
        "a confidential client needs its secret"
    );
}

/// The callback with one query parameter's value replaced.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

#[tokio::test]
async fn an_answer_naming_another_issuer_is_refused_and_changes_nothing() {
    let w = World::new().await;
    let onramp = w.open().await;
    let c = customer(&onramp, "Ada").await;
    let start = onramp
        .begin_oauth(&c, ProviderId::Tesla, Redirect::DeepLink)
        .await
        .unwrap();
    let back = consent(&start.authorize_url).await;
    // Tesla's sandbox names its issuer the way Tesla does (`issuer=`).
    let issuer = w.sandbox.oauth_issuer(OAuthVendor::Tesla).unwrap();
    assert!(
        back.contains(&format!("issuer={}", urlencode(&issuer))),
        "{back}"
    );

    let tokens_before = w.sandbox.token_requests(OAuthVendor::Tesla);
    let events_before = row_count(&onramp, "events").await;
    for forged in [
        with_param(&back, "issuer", "https://attacker.example/oauth2/v3"),
        format!("{back}&iss=https%3A%2F%2Fattacker.example"),
    ] {
        let e = onramp
            .complete_oauth(&forged, Some(ProviderId::Tesla))
            .await
            .unwrap_err();
        assert!(
            e.code == Code::Validation,
            "another issuer is refused: {e:?}"
        );
    }
    assert_eq!(
        w.sandbox.token_requests(OAuthVendor::Tesla),
        tokens_before,
        "the code never went to any token endpoint"
    );
    assert_eq!(row_count(&onramp, "connections").await, 0);
    assert_eq!(row_count(&onramp, "events").await, events_before);
    // The sign-in is still open for its real answer.
    let conn = onramp
        .complete_oauth(&back, Some(ProviderId::Tesla))
        .await
        .expect("the real answer still completes");
    assert_eq!(conn.state, ConnectionState::Active);
    onramp.close().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn rfc9207_iss_is_checked_where_the_provider_declares_an_issuer() {
    let w = World::new().await;
    let sma = w.sandbox.oauth_url(OAuthVendor::Sma);
    let mut config = w.config();
    config.oauth.get_mut("sma").unwrap().issuer = Some(sma.clone());
    let onramp = w.open_with(config).await;
    let c = customer(&onramp, "Ada").await;

    // A server naming the declared issuer: accepted.
    w.sandbox
        .set_authorization_issuer(OAuthVendor::Sma, Some(sma.clone()));
    let id = sign_in(&onramp, &c, ProviderId::Sma).await;
    assert_eq!(
        onramp.store().connection(&id).await.unwrap().state,
        ConnectionState::Active
    );
    // Another server's answers (a mix-up): refused, nothing sent.
    w.sandbox.set_authorization_issuer(
        OAuthVendor::Sma,
        Some(w.sandbox.oauth_url(OAuthVendor::Tesla)),
    );
    let before = w.sandbox.token_requests(OAuthVendor::Sma);
    let e = try_sign_in(&onramp, &c, ProviderId::Sma).await.unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert!(e.message.contains("another server"), "{}", e.message);
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Sma), before);
    assert_eq!(row_count(&onramp, "connections").await, 1);
    // A provider that declares no issuer is not judged by one.
    w.sandbox
        .set_authorization_issuer(OAuthVendor::Enphase, Some("https://anyone.example".into()));
    let start = onramp
        .begin_oauth(&c, ProviderId::Enphase, Redirect::DeepLink)
        .await
        .unwrap();
    let back = consent(&start.authorize_url).await;
    assert!(back.contains("iss="), "{back}");
    onramp.complete_oauth(&back, None).await.unwrap();
    onramp.close().await;
}

#[tokio::test]
async fn a_refresh_refused_for_the_companys_app_shows_on_the_connection_and_the_board() {
    let w = World::new().await;
    let onramp = open_without_app(&w, w.config(), ProviderId::Sma).await;
    let app = w.sandbox.oauth_client(OAuthVendor::Sma);
    let save = |secret: &str| {
        onramp.save_oauth_app(
            ProviderId::Sma,
            &app.client_id,
            Sensitive::new(secret.to_string()),
            None,
        )
    };
    save(&app.client_secret).await.unwrap();
    let c = customer(&onramp, "Ada").await;
    let id = sign_in(&onramp, &c, ProviderId::Sma).await;
    assert!(onramp.health().await.unwrap().is_empty());

    // The company's app secret was rotated at the vendor and this laptop has the old one.
    save("an-old-secret-that-sma-no-longer-accepts")
        .await
        .unwrap();
    let e = onramp.refresh_connection(&id).await.unwrap_err();
    assert_eq!(e.token_error, Some(TokenError::InvalidClient), "{e:?}");
    let conn = onramp.store().connection(&id).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Error);
    let why = conn.last_error.clone().expect("the reason is kept");
    assert_eq!(why.code, Code::NotConfigured);
    assert!(why.message.contains("cannot renew"), "{}", why.message);
    assert!(why.hint.unwrap().contains("Settings → Vendor apps"));
    let board = onramp.health().await.unwrap();
    assert_eq!(board.len(), 1, "{board:?}");
    assert_eq!(board[0].connection_id, id);
    assert_eq!(board[0].who, Who::Company, "the company must fix its app");
    assert!(
        !board[0].can_reauthorize,
        "the customer signing in again does not help"
    );
    // A sweep reports it the same way, and logs the reason once.
    let report = onramp.refresh_sweep(Sweep::All).await.unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let refused = onramp
        .events(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "refresh_refused")
        .count();
    assert_eq!(refused, 1);
    // The grant itself was never spent: with the right secret it renews at once.
    save(&app.client_secret).await.unwrap();
    let conn = onramp.refresh_connection(&id).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Active);
    assert!(conn.last_error.is_none());
    assert!(onramp.health().await.unwrap().is_empty());
    onramp.close().await;
}

/// Onramp on a hand-moved clock starting now.
async fn open_with_clock(w: &World) -> (Onramp, Arc<ManualClock>) {
    let mut onramp = w.open().await;
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    onramp.set_lifecycle(clock.clone(), Policy::default());
    (onramp, clock)
}

#[tokio::test]
async fn check_renews_an_expired_access_token_before_asking_the_vendor() {
    let w = World::new().await;
    let (onramp, clock) = open_with_clock(&w).await;
    let c = customer(&onramp, "Ada").await;
    let id = sign_in(&onramp, &c, ProviderId::Sma).await;
    // SMA's access token lives five minutes; ten have passed, at the vendor too.
    clock.advance(Duration::from_secs(600));
    w.sandbox.expire_access_tokens(OAuthVendor::Sma);
    let before = w.sandbox.token_requests(OAuthVendor::Sma);
    let conn = onramp.check_connection(&id).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Active, "{:?}", conn.last_error);
    assert!(conn.last_error.is_none());
    assert_eq!(
        w.sandbox.token_requests(OAuthVendor::Sma),
        before + 1,
        "one refresh, then the check"
    );

    // Expired again, and this time the vendor refuses the grant: the customer must sign in
    // again, and the connection says so (not "check the API key").
    clock.advance(Duration::from_secs(600));
    w.sandbox.expire_access_tokens(OAuthVendor::Sma);
    w.sandbox.set_token_fault(OAuthVendor::Sma, 400, 1);
    let conn = onramp.check_connection(&id).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Revoked);
    let why = conn.last_error.unwrap();
    assert_eq!(why.code, Code::ReauthRequired);
    assert!(!why.message.contains("API key") && !why.hint.unwrap_or_default().contains("API key"));
    let board = onramp.health().await.unwrap();
    assert_eq!(board[0].who, Who::Customer);
    onramp.close().await;
}

fn bin() -> std::path::PathBuf {
    let mut p = std::env::current_exe().unwrap();
    p.pop();
    p.pop();
    p.push("onramp");
    assert!(p.exists(), "build the CLI first: cargo build -p onramp-cli");
    p
}

fn cli(dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(bin())
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(dir.join("absent.toml"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn onramp_app_set_takes_a_public_client_only_where_the_vendor_allows_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(
        dir.path(),
        &[
            "app",
            "set",
            "tesla",
            "--client-id",
            "open-source-app",
            "--public",
        ],
        "",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("public"), "{text}");

    // An empty secret without --public is a mistake, said so; SMA has no public clients.
    let out = cli(
        dir.path(),
        &["app", "set", "tesla", "--client-id", "x"],
        "\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public"));
    let out = cli(
        dir.path(),
        &["app", "set", "sma", "--client-id", "x", "--public"],
        "",
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("always have a client secret"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
