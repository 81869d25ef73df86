//! The sandbox's authorization servers enforce what a strict server enforces.

use std::time::Duration;

use base64::Engine;
use onramp_sandbox::{OAuthVendor, RedirectAt, RefreshStats, Sandbox, SandboxConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:8765/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge(v: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Runs the authorize step and returns the `code` (or the redirect for inspection).
async fn authorize(sb: &Sandbox, v: OAuthVendor, redirect: &str) -> reqwest::Response {
    let (path, _) = v.paths();
    let c = sb.oauth_client(v);
    no_redirects()
        .get(format!("{}{path}", sb.oauth_url(v)))
        .query(&[
            ("response_type", "code"),
            ("client_id", c.client_id.as_str()),
            ("redirect_uri", redirect),
            ("scope", "openid offline_access energy_device_data"),
            ("state", "st"),
            ("code_challenge", challenge(VERIFIER).as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap()
}

async fn code(sb: &Sandbox, v: OAuthVendor) -> String {
    let r = authorize(sb, v, REDIRECT).await;
    assert_eq!(r.status(), 303);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    loc.query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

/// A Tesla-style token request (form body, secret in the body, audience).
async fn tesla_token(sb: &Sandbox, form: &[(&str, &str)]) -> (u16, Value) {
    let c = sb.oauth_client(OAuthVendor::Tesla);
    let mut all: Vec<(&str, &str)> = vec![
        ("client_id", &c.client_id),
        ("client_secret", &c.client_secret),
    ];
    all.extend_from_slice(form);
    let r = reqwest::Client::new()
        .post(format!(
            "{}/oauth2/v3/token",
            sb.oauth_url(OAuthVendor::Tesla)
        ))
        .form(&all)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn exchange<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
        ("audience", "https://fleet-api.example"),
    ]
}

#[tokio::test]
async fn pkce_redirect_uri_and_audience_are_enforced() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let c = code(&sb, OAuthVendor::Tesla).await;
    let (s, v) = tesla_token(
        &sb,
        &exchange(&c, "wrong-verifier-wrong-verifier-wrong-verifier"),
    )
    .await;
    // Tesla's own codes (docs/vendors/tesla.md), not RFC 6749's invalid_grant.
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")));

    let c = code(&sb, OAuthVendor::Tesla).await;
    let mut missing = exchange(&c, VERIFIER);
    missing.retain(|(k, _)| *k != "code_verifier");
    assert_eq!(
        tesla_token(&sb, &missing).await.1["error"],
        "invalid_request"
    );

    let c = code(&sb, OAuthVendor::Tesla).await;
    let mut other = exchange(&c, VERIFIER);
    other[2] = ("redirect_uri", "http://127.0.0.1:9999/callback");
    assert_eq!(
        tesla_token(&sb, &other).await.1["error"],
        "invalid_redirect_url"
    );

    let c = code(&sb, OAuthVendor::Tesla).await;
    let mut no_audience = exchange(&c, VERIFIER);
    no_audience.retain(|(k, _)| *k != "audience");
    assert_eq!(
        tesla_token(&sb, &no_audience).await.1["error"],
        "invalid_request"
    );

    let c = code(&sb, OAuthVendor::Tesla).await;
    let (s, v) = tesla_token(&sb, &exchange(&c, VERIFIER)).await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["access_token"].as_str().unwrap().starts_with("eyJ"),
        "Tesla's access token is a JWT"
    );
    assert_eq!(sb.token_requests(OAuthVendor::Tesla), 5);
}

#[tokio::test]
async fn a_reused_code_revokes_the_grant_and_a_wrong_secret_is_invalid_client() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let c = code(&sb, OAuthVendor::Tesla).await;
    let (_, first) = tesla_token(&sb, &exchange(&c, VERIFIER)).await;
    let access = first["access_token"].as_str().unwrap().to_string();
    let products = |token: String| {
        let url = format!("{}/api/1/products", sb.oauth_url(OAuthVendor::Tesla));
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(products(access.clone()).await, 200);
    let (s, v) = tesla_token(&sb, &exchange(&c, VERIFIER)).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(
        products(access).await,
        401,
        "the replay revoked the first exchange's tokens"
    );

    let bad = reqwest::Client::new()
        .post(format!(
            "{}/oauth2/v3/token",
            sb.oauth_url(OAuthVendor::Tesla)
        ))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "x"),
            ("client_secret", "y"),
            ("code", "z"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
}

/// A Tesla grant's first refresh token.
async fn tesla_grant(sb: &Sandbox) -> (String, String) {
    let c = code(sb, OAuthVendor::Tesla).await;
    let (s, t) = tesla_token(sb, &exchange(&c, VERIFIER)).await;
    assert_eq!(s, 200, "{t}");
    (
        t["access_token"].as_str().unwrap().to_string(),
        t["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn tesla_refresh(sb: &Sandbox, rt: &str) -> (u16, Value) {
    tesla_token(
        sb,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

fn refresh_token_of(v: &Value) -> String {
    v["refresh_token"].as_str().unwrap().to_string()
}

async fn tesla_products(sb: &Sandbox, access: &str) -> u16 {
    reqwest::Client::new()
        .get(format!(
            "{}/api/1/products",
            sb.oauth_url(OAuthVendor::Tesla)
        ))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn every_vendor_is_strictly_single_use_by_default() {
    for v in [
        OAuthVendor::Tesla,
        OAuthVendor::Enphase,
        OAuthVendor::Sma,
        OAuthVendor::SolarEdgeSite,
        OAuthVendor::UtilityApi,
        OAuthVendor::Metry,
    ] {
        assert_eq!(v.default_reuse_window(), Duration::ZERO, "{v:?}");
    }
}

#[tokio::test]
async fn a_used_tesla_refresh_token_is_a_replay_that_revokes_the_grant() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let (_, rt1) = tesla_grant(&sb).await;
    assert!(sb.grant_alive(OAuthVendor::Tesla, &rt1));
    let (s, t2) = tesla_refresh(&sb, &rt1).await;
    assert_eq!(s, 200, "{t2}");
    let rt2 = refresh_token_of(&t2);
    assert_ne!(rt1, rt2);
    assert!(!sb.grant_alive(OAuthVendor::Tesla, &rt1), "rt1 is spent");
    assert!(sb.grant_alive(OAuthVendor::Tesla, &rt2));

    // Even at once, and with its answer never used: single use means single use. Tesla answers
    // a used refresh token 401 `login_required` (docs/vendors/tesla.md).
    let (s, v) = tesla_refresh(&sb, &rt1).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("login_required")));
    assert!(
        v["error_description"].as_str().unwrap().contains("revoked"),
        "{v}"
    );
    assert!(
        !sb.grant_alive(OAuthVendor::Tesla, &rt2),
        "the grant is revoked"
    );
    let (_, v) = tesla_refresh(&sb, &rt2).await;
    assert_eq!(v["error"], "login_required");
    assert_eq!(
        tesla_products(&sb, t2["access_token"].as_str().unwrap()).await,
        401,
        "its access tokens too"
    );
    // A token never issued.
    let (_, v) = tesla_refresh(&sb, "rt_never-issued").await;
    assert_eq!(v["error"], "invalid_grant");
    assert_eq!(
        sb.refresh_stats(OAuthVendor::Tesla),
        RefreshStats {
            requests: 4,
            rotations: 1,
            retries_accepted: 0,
            replays: 1,
            unknown: 1,
            grants_revoked_by_replay: 1,
            refused: 1,
        }
    );
}

#[tokio::test]
async fn exactly_one_token_request_per_rotation() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let (_, mut rt) = tesla_grant(&sb).await;
    for _ in 0..5 {
        let (s, t) = tesla_refresh(&sb, &rt).await;
        assert_eq!(s, 200, "{t}");
        rt = refresh_token_of(&t);
    }
    let stats = sb.refresh_stats(OAuthVendor::Tesla);
    assert_eq!((stats.requests, stats.rotations), (5, 5), "{stats:?}");
    assert_eq!(
        stats,
        RefreshStats {
            requests: 5,
            rotations: 5,
            ..Default::default()
        }
    );
    assert!(sb.grant_alive(OAuthVendor::Tesla, &rt));
}

#[tokio::test]
async fn inside_the_reuse_window_an_unused_answer_may_be_retried_once_replaced() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    sb.set_reuse_window(OAuthVendor::Tesla, Duration::from_secs(60));
    let (_, rt1) = tesla_grant(&sb).await;
    let (s, t2) = tesla_refresh(&sb, &rt1).await;
    assert_eq!(s, 200, "{t2}");
    let rt2 = refresh_token_of(&t2);
    assert!(
        sb.grant_alive(OAuthVendor::Tesla, &rt1),
        "a retry is still allowed"
    );

    // The answer was lost (the client never used it): the old token may be presented again,
    // and the lost answer (refresh and access token) is void.
    let (s, t3) = tesla_refresh(&sb, &rt1).await;
    assert_eq!(s, 200, "a retry while the answer is unused: {t3}");
    let rt3 = refresh_token_of(&t3);
    assert!(!sb.grant_alive(OAuthVendor::Tesla, &rt2));
    let (_, v) = tesla_refresh(&sb, &rt2).await;
    assert_eq!(
        v["error"], "invalid_grant",
        "the lost answer's token is void"
    );
    assert_eq!(
        tesla_products(&sb, t2["access_token"].as_str().unwrap()).await,
        401,
        "and its access token"
    );

    // Once the answer is used (here its refresh token), the old token is a replay: the whole
    // grant is revoked.
    let (s, t4) = tesla_refresh(&sb, &rt3).await;
    assert_eq!(s, 200, "{t4}");
    let rt4 = refresh_token_of(&t4);
    let (s, v) = tesla_refresh(&sb, &rt1).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (401, Some("login_required")),
        "a replayed token"
    );
    let (_, v) = tesla_refresh(&sb, &rt4).await;
    assert_eq!(
        v["error"], "login_required",
        "the replay revoked the whole grant"
    );
    let stats = sb.refresh_stats(OAuthVendor::Tesla);
    assert_eq!(
        stats,
        RefreshStats {
            requests: 6,
            rotations: 2,
            retries_accepted: 1,
            replays: 1,
            // rt2 was voided by the retry: the server no longer knows it.
            unknown: 1,
            grants_revoked_by_replay: 1,
            refused: 1,
        }
    );
}

#[tokio::test]
async fn a_retry_after_its_answer_was_used_is_a_replay() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    sb.set_reuse_window(OAuthVendor::Tesla, Duration::from_secs(60));
    let (_, rt1) = tesla_grant(&sb).await;
    let (_, t2) = tesla_refresh(&sb, &rt1).await;
    // The client has the answer: it used the new access token.
    assert_eq!(
        tesla_products(&sb, t2["access_token"].as_str().unwrap()).await,
        200
    );
    assert!(!sb.grant_alive(OAuthVendor::Tesla, &rt1));
    let (_, v) = tesla_refresh(&sb, &rt1).await;
    assert_eq!(v["error"], "login_required");
    assert!(!sb.grant_alive(OAuthVendor::Tesla, &refresh_token_of(&t2)));
    let stats = sb.refresh_stats(OAuthVendor::Tesla);
    assert_eq!((stats.replays, stats.grants_revoked_by_replay), (1, 1));
}

#[tokio::test]
async fn past_the_reuse_window_a_retry_is_a_replay() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    sb.set_reuse_window(OAuthVendor::Tesla, Duration::from_millis(300));
    let (_, rt1) = tesla_grant(&sb).await;
    let (_, t2) = tesla_refresh(&sb, &rt1).await;
    let rt2 = refresh_token_of(&t2);
    assert!(sb.grant_alive(OAuthVendor::Tesla, &rt1));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(
        !sb.grant_alive(OAuthVendor::Tesla, &rt1),
        "the window closed"
    );
    let (_, v) = tesla_refresh(&sb, &rt1).await;
    assert_eq!(v["error"], "login_required");
    assert!(
        !sb.grant_alive(OAuthVendor::Tesla, &rt2),
        "the grant is revoked"
    );
    let stats = sb.refresh_stats(OAuthVendor::Tesla);
    assert_eq!(
        (stats.rotations, stats.retries_accepted, stats.replays),
        (1, 0, 1)
    );
}

/// A SolarEdge Site Access grant: (access token, refresh token).
async fn solaredge_grant(sb: &Sandbox) -> (String, String) {
    let v = OAuthVendor::SolarEdgeSite;
    let c = code(sb, v).await;
    let app = sb.oauth_client(v);
    let t: Value = reqwest::Client::new()
        .post(format!("{}/v2/oauth2/token", sb.oauth_url(v)))
        .json(&serde_json::json!({
            "grant_type": "authorization_code", "code": c, "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER, "client_id": app.client_id, "client_secret": app.client_secret,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        t["access_token"].as_str().unwrap().to_string(),
        t["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn solaredge_post(sb: &Sandbox, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!(
            "{}{path}",
            sb.oauth_url(OAuthVendor::SolarEdgeSite)
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn solaredge_revokes_a_grant_at_its_revoke_token_endpoint() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let v = OAuthVendor::SolarEdgeSite;
    assert_eq!(
        sb.revoke_url(v),
        Some(format!("{}/v2/oauth2/revoke-token", sb.oauth_url(v)))
    );
    for other in [OAuthVendor::Tesla, OAuthVendor::Enphase, OAuthVendor::Sma] {
        assert_eq!(
            sb.revoke_url(other),
            None,
            "{other:?} documents no revocation"
        );
    }
    let app = sb.oauth_client(v);
    let (access, rt) = solaredge_grant(&sb).await;
    let site = sb.oauth_sites(v)[0].clone();
    let site_status = |token: String| {
        let url = format!("{}/v2/sites/{site}", sb.oauth_url(v));
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(site_status(access.clone()).await, 200);

    // The app authenticates as at the token endpoint (JSON body).
    let (s, e) = solaredge_post(
        &sb,
        "/v2/oauth2/revoke-token",
        serde_json::json!({"token": rt, "client_id": app.client_id, "client_secret": "wrong"}),
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
    assert!(
        sb.grant_alive(v, &rt),
        "a refused revocation revokes nothing"
    );
    assert_eq!(sb.revocations(v), 0);

    let (s, _) = solaredge_post(
        &sb,
        "/v2/oauth2/revoke-token",
        serde_json::json!({"token": rt, "client_id": app.client_id, "client_secret": app.client_secret}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(sb.revocations(v), 1);
    assert!(!sb.grant_alive(v, &rt));
    assert_eq!(
        site_status(access).await,
        401,
        "its access tokens are refused"
    );
    let (s, e) = solaredge_post(
        &sb,
        "/v2/oauth2/token",
        serde_json::json!({"grant_type": "refresh_token", "refresh_token": rt,
                           "client_id": app.client_id, "client_secret": app.client_secret}),
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    assert!(
        e["error_description"].as_str().unwrap().contains("revoked"),
        "{e}"
    );

    // Revoking by access token revokes its grant too; an unknown token is answered 200.
    let (access, rt) = solaredge_grant(&sb).await;
    let (s, _) = solaredge_post(
        &sb,
        "/v2/oauth2/revoke-token",
        serde_json::json!({"token": access, "client_id": app.client_id, "client_secret": app.client_secret}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(!sb.grant_alive(v, &rt));
    let (s, _) = solaredge_post(
        &sb,
        "/v2/oauth2/revoke-token",
        serde_json::json!({"token": "never-issued", "client_id": app.client_id, "client_secret": app.client_secret}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(sb.revocations(v), 3);
    let stats = sb.refresh_stats(v);
    assert_eq!((stats.requests, stats.refused, stats.replays), (1, 1, 0));
}

#[tokio::test]
async fn armed_redirects_point_elsewhere_and_a_following_client_carries_its_request_there() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let (_, rt) = tesla_grant(&sb).await;
    let token_url = format!("{}/oauth2/v3/token", sb.oauth_url(OAuthVendor::Tesla));
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];

    sb.set_redirects(OAuthVendor::Tesla, RedirectAt::TokenEndpoint, 307, 2);
    let r = no_redirects()
        .post(&token_url)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{}/elsewhere", sb.elsewhere_url())
    );
    assert_eq!(sb.elsewhere_requests(), 0);
    // What the redirect would do to a client that follows: the request lands elsewhere.
    let r = reqwest::Client::new()
        .post(&token_url)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        sb.elsewhere_requests(),
        1,
        "a following client went elsewhere"
    );
    // Disarmed after two: the token endpoint answers again, and no exchange happened meanwhile.
    assert!(sb.grant_alive(OAuthVendor::Tesla, &rt));
    assert_eq!(sb.refresh_stats(OAuthVendor::Tesla).requests, 0);
    let (s, _) = tesla_refresh(&sb, &rt).await;
    assert_eq!(s, 200);

    // The data API.
    let (access, _) = tesla_grant(&sb).await;
    sb.set_redirects(OAuthVendor::Tesla, RedirectAt::DataApi, 302, 1);
    let asked = sb.api_requests(OAuthVendor::Tesla);
    let r = no_redirects()
        .get(format!(
            "{}/api/1/products",
            sb.oauth_url(OAuthVendor::Tesla)
        ))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(sb.api_requests(OAuthVendor::Tesla), asked + 1);
    assert_eq!(tesla_products(&sb, &access).await, 200, "once");
}

#[tokio::test]
async fn codes_expire_and_unregistered_redirects_are_never_followed() {
    let sb = Sandbox::start(SandboxConfig {
        oauth_code_ttl: Duration::from_millis(200),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let c = code(&sb, OAuthVendor::Tesla).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        tesla_token(&sb, &exchange(&c, VERIFIER)).await.1["error"],
        "invalid_auth_code"
    );

    let r = authorize(&sb, OAuthVendor::Tesla, "https://evil.example/steal").await;
    assert_eq!(r.status(), 400, "no redirect to an unregistered address");
    let r = authorize(&sb, OAuthVendor::Tesla, "onramp://oauth/callback").await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn enphase_takes_its_parameters_in_the_query_with_basic_auth() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let c = code(&sb, OAuthVendor::Enphase).await;
    let app = sb.oauth_client(OAuthVendor::Enphase);
    let url = format!("{}/oauth/token", sb.oauth_url(OAuthVendor::Enphase));
    let params = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    // The secret in the body is not how Enphase authenticates a client.
    let wrong = reqwest::Client::new()
        .post(&url)
        .query(&params)
        .form(&[
            ("client_id", &app.client_id),
            ("client_secret", &app.client_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let c = code(&sb, OAuthVendor::Enphase).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let ok = reqwest::Client::new()
        .post(&url)
        .query(&params)
        .basic_auth(&app.client_id, Some(&app.client_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let t: Value = ok.json().await.unwrap();
    assert_eq!(t["expires_in"], 86393);
    let access = t["access_token"].as_str().unwrap();
    let systems = |key: String| {
        let u = format!("{}/api/v4/systems", sb.oauth_url(OAuthVendor::Enphase));
        let a = access.to_string();
        async move {
            reqwest::Client::new()
                .get(u)
                .query(&[("key", key)])
                .bearer_auth(a)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(systems(app.api_key.clone().unwrap()).await, 200);
    assert_eq!(
        systems("wrong".into()).await,
        401,
        "API Key -Client mismatch"
    );
}

#[tokio::test]
async fn a_declining_customer_is_sent_back_with_access_denied() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    sb.set_decline(OAuthVendor::Sma, true);
    let r = authorize(&sb, OAuthVendor::Sma, REDIRECT).await;
    let loc = r.headers()["location"].to_str().unwrap();
    assert!(
        loc.starts_with(REDIRECT)
            && loc.contains("error=access_denied")
            && loc.contains("state=st"),
        "{loc}"
    );
}

/// SMA's plant list carries `plantId`, `name`, `description`, `timezone`, and a location only
/// when asked for (docs/vendors/sma.md); never an address line or peak power.
#[tokio::test]
async fn sma_plants_answer_in_smas_shape() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let v = OAuthVendor::Sma;
    let c = sb.oauth_client(v);
    let rt = sb.issue_grants(v, "offline_access", 1).remove(0);
    let t: Value = reqwest::Client::new()
        .post(format!("{}{}", sb.oauth_url(v), v.paths().1))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = t["access_token"].as_str().unwrap().to_string();
    let plants = |query: &'static str| {
        let url = format!("{}/v1/plants{query}", sb.oauth_url(v));
        let access = access.clone();
        async move {
            let v: Value = reqwest::Client::new()
                .get(url)
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["plants"].as_array().unwrap().clone()
        }
    };
    let plain = plants("").await;
    assert!(!plain.is_empty());
    for p in &plain {
        let mut keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["description", "name", "plantId", "timezone"], "{p}");
    }
    let located = plants("?WithLocation=true").await;
    assert!(
        located.iter().all(|p| p["location"].is_object()),
        "{located:?}"
    );
    assert!(located
        .iter()
        .all(|p| p.get("address").is_none() && p.get("peakPower").is_none()));
}
