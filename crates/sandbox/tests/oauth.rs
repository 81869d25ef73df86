//! The sandbox's authorization servers enforce what a strict server enforces.

use std::time::Duration;

use base64::Engine;
use onramp_sandbox::{OAuthVendor, Sandbox, SandboxConfig};
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
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));

    let c = code(&sb, OAuthVendor::Tesla).await;
    let mut missing = exchange(&c, VERIFIER);
    missing.retain(|(k, _)| *k != "code_verifier");
    assert_eq!(tesla_token(&sb, &missing).await.1["error"], "invalid_grant");

    let c = code(&sb, OAuthVendor::Tesla).await;
    let mut other = exchange(&c, VERIFIER);
    other[2] = ("redirect_uri", "http://127.0.0.1:9999/callback");
    assert_eq!(tesla_token(&sb, &other).await.1["error"], "invalid_grant");

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

#[tokio::test]
async fn rotated_refresh_tokens_are_single_use_with_a_retry_window() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let c = code(&sb, OAuthVendor::Tesla).await;
    let (_, t) = tesla_token(&sb, &exchange(&c, VERIFIER)).await;
    let rt1 = t["refresh_token"].as_str().unwrap().to_string();
    let refresh = |rt: String| {
        let sb = &sb;
        async move {
            tesla_token(
                sb,
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
            .await
        }
    };
    let (s, t2) = refresh(rt1.clone()).await;
    assert_eq!(s, 200, "{t2}");
    let rt2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);

    // The answer was lost (the client never used it): the old token may be presented again,
    // and the lost answer is void.
    let (s, t3) = refresh(rt1.clone()).await;
    assert_eq!(s, 200, "a retry while the answer is unused: {t3}");
    let rt3 = t3["refresh_token"].as_str().unwrap().to_string();
    let (_, v) = refresh(rt2).await;
    assert_eq!(
        v["error"], "invalid_grant",
        "the lost answer's token is void"
    );

    // Once the answer is used (here its refresh token), the old token is a replay: the whole
    // grant is revoked.
    let (s, t4) = refresh(rt3).await;
    assert_eq!(s, 200, "{t4}");
    let rt4 = t4["refresh_token"].as_str().unwrap().to_string();
    let (s, v) = refresh(rt1).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "a replayed token"
    );
    let (_, v) = refresh(rt4).await;
    assert_eq!(
        v["error"], "invalid_grant",
        "the replay revoked the whole grant"
    );
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
        "invalid_grant"
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
