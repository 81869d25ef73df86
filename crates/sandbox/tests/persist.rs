//! The Sandbox environment's vendors stay up like real ones: what they issued survives a restart
//! (their own SQLite file in the data folder), on the same ports, and two users of one data
//! folder share one sandbox, the second taking over when the first exits.

use std::path::Path;
use std::time::Duration;

use onramp_sandbox::{Directory, OAuthVendor, SandboxConfig, SharedSandbox};
use serde_json::Value;

const REDIRECT: &str = "http://127.0.0.1:8765/callback";

async fn open(dir: &Path) -> SharedSandbox {
    SharedSandbox::open(dir, SandboxConfig::default())
        .await
        .expect("the sandbox opens")
}

/// The customer signs in at SMA (consenting at once); the code's tokens.
async fn sma_sign_in(d: &Directory) -> Value {
    let c = d.oauth_client(OAuthVendor::Sma);
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/oauth2/auth", d.oauth_url(OAuthVendor::Sma)))
        .query(&[
            ("response_type", "code"),
            ("client_id", c.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "offline_access"),
            ("state", "st"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let back = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1;
    let (status, v) = sma_token(
        d,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn sma_token(d: &Directory, form: &[(&str, &str)]) -> (u16, Value) {
    let c = d.oauth_client(OAuthVendor::Sma);
    let mut all = vec![
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.as_str()),
    ];
    all.extend_from_slice(form);
    let r = reqwest::Client::new()
        .post(format!("{}/oauth2/token", d.oauth_url(OAuthVendor::Sma)))
        .form(&all)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn sma_refresh(d: &Directory, rt: &str) -> (u16, Value) {
    sma_token(d, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await
}

async fn sma_plants(d: &Directory, access: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/v1/plants", d.oauth_url(OAuthVendor::Sma)))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_string()
}

#[tokio::test]
async fn what_the_vendors_issued_survives_a_restart_on_the_same_ports() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path()).await;
    assert!(
        first.served().is_some(),
        "nobody else serves it: this one does"
    );
    let d1 = first.directory().clone();
    let signed_in = sma_sign_in(&d1).await;
    let (status, rotated) = sma_refresh(&d1, &s(&signed_in, "refresh_token")).await;
    assert_eq!(status, 200, "{rotated}");
    // A Derapi client token, a vendor with books of its own.
    let (id, secret) = d1.derapi_client();
    let derapi: Value = reqwest::Client::new()
        .post(format!("{}/oauth2/token", d1.derapi_url()))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    first.shutdown().await;

    let again = open(dir.path()).await;
    let d2 = again.directory().clone();
    assert_eq!(
        d2.oauth_url(OAuthVendor::Sma),
        d1.oauth_url(OAuthVendor::Sma)
    );
    assert_eq!(d2.solis_url(), d1.solis_url());
    assert_eq!(d2.derapi_url(), d1.derapi_url());
    assert_eq!(
        d2.demo().solis_account.key_secret,
        d1.demo().solis_account.key_secret,
        "the same demo keys"
    );
    assert!(again.moved_ports().is_empty());
    // The access token issued before the restart still opens the data API.
    assert_eq!(sma_plants(&d2, &s(&rotated, "access_token")).await, 200);
    let sites = reqwest::Client::new()
        .get(format!("{}/sites", d2.derapi_url()))
        .bearer_auth(s(&derapi, "access_token"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(sites, 200);
    // The rotation is remembered: the current refresh token works, the rotated-out one is a
    // replay that revokes the grant, exactly as before the restart.
    let sb = again.served().unwrap();
    assert!(sb.grant_alive(OAuthVendor::Sma, &s(&rotated, "refresh_token")));
    assert!(!sb.grant_alive(OAuthVendor::Sma, &s(&signed_in, "refresh_token")));
    let (status, next) = sma_refresh(&d2, &s(&rotated, "refresh_token")).await;
    assert_eq!(status, 200, "{next}");
    let (status, replay) = sma_refresh(&d2, &s(&signed_in, "refresh_token")).await;
    assert_eq!(
        (status, s(&replay, "error").as_str()),
        (400, "invalid_grant")
    );
    assert!(!sb.grant_alive(OAuthVendor::Sma, &s(&next, "refresh_token")));
    let stats = sb.refresh_stats(OAuthVendor::Sma);
    assert_eq!(
        (stats.rotations, stats.replays),
        (2, 1),
        "counted across the restart"
    );
    drop(sb);
    again.shutdown().await;

    #[cfg(unix)]
    for f in ["sandbox-vendors.sqlite", "sandbox-vendors.lock"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
}

#[tokio::test]
async fn a_second_user_of_the_folder_shares_the_sandbox_and_takes_over_when_the_first_exits() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path()).await;
    let second = open(dir.path()).await;
    assert!(first.served().is_some());
    assert!(second.served().is_none(), "one sandbox per data folder");
    let d = second.directory().clone();
    assert_eq!(
        d.oauth_url(OAuthVendor::Sma),
        first.directory().oauth_url(OAuthVendor::Sma)
    );

    // The second signs in and refreshes at the first's vendors.
    let signed_in = sma_sign_in(&d).await;
    let served = first.served().unwrap();
    assert_eq!(served.refresh_stats(OAuthVendor::Sma).requests, 0);
    let (_, rotated) = sma_refresh(&d, &s(&signed_in, "refresh_token")).await;
    assert_eq!(served.refresh_stats(OAuthVendor::Sma).rotations, 1);
    drop(served);

    first.shutdown().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while second.served().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second never took over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Same place, same books.
    assert!(second.served().unwrap().moved_ports().is_empty());
    assert_eq!(sma_plants(&d, &s(&rotated, "access_token")).await, 200);
    let (status, v) = sma_refresh(&d, &s(&rotated, "refresh_token")).await;
    assert_eq!(status, 200, "{v}");
    second.shutdown().await;
}

/// A token request at Enphase (parameters in the query, HTTP Basic with `app`).
async fn enphase_token(d: &Directory, app: (&str, &str), query: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/token", d.oauth_url(OAuthVendor::Enphase)))
        .basic_auth(app.0, Some(app.1))
        .query(query)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_enphase_partner_sign_in_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path()).await;
    let d1 = first.directory().clone();
    let p = d1.enphase_partner();
    let partner = (p.client_id.as_str(), p.client_secret.as_str());
    let (status, signed_in) = enphase_token(
        &d1,
        partner,
        &[
            ("grant_type", "password"),
            ("username", &p.username),
            ("password", &p.password),
        ],
    )
    .await;
    assert_eq!(status, 200, "{signed_in}");
    first.shutdown().await;

    let again = open(dir.path()).await;
    let d2 = again.directory().clone();
    assert_eq!(
        d2.enphase_partner(),
        p,
        "the same partner application and user"
    );
    let systems = reqwest::Client::new()
        .get(format!(
            "{}/api/v4/systems",
            d2.oauth_url(OAuthVendor::Enphase)
        ))
        .bearer_auth(s(&signed_in, "access_token"))
        .query(&[("key", p.api_key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(systems.status(), 200);
    // Still the partner's grant: the customer sign-in app cannot refresh it, the partner can.
    let customer_app = d2.oauth_client(OAuthVendor::Enphase);
    let rt = s(&signed_in, "refresh_token");
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let (status, refused) = enphase_token(
        &d2,
        (&customer_app.client_id, &customer_app.client_secret),
        &refresh,
    )
    .await;
    assert_eq!(
        (status, s(&refused, "error").as_str()),
        (400, "invalid_grant")
    );
    let (status, rotated) = enphase_token(&d2, partner, &refresh).await;
    assert_eq!(status, 200, "{rotated}");
    again.shutdown().await;
}
