//! Sign-in enrollment through `service` against the sandbox's strict authorization servers,
//! with a real SQLite file and the real keyring. The test plays the customer's browser.

mod common;

use std::time::Duration;

use common::*;
use onramp_core::auth::loopback::Loopback;
use onramp_core::model::{AppSource, ConnectionState, CredentialKind, ProviderId, RedirectMode};
use onramp_core::service::Redirect;
use onramp_core::Code;
use onramp_sandbox::OAuthVendor;

const VENDORS: [(OAuthVendor, ProviderId); 4] = [
    (OAuthVendor::Tesla, ProviderId::Tesla),
    (OAuthVendor::Enphase, ProviderId::Enphase),
    (OAuthVendor::Sma, ProviderId::Sma),
    (OAuthVendor::SolarEdgeSite, ProviderId::Solaredge),
];

/// The browser: opens the authorize URL and returns where the vendor sends it back.
async fn consent(authorize_url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(authorize_url).send().await.unwrap();
    assert_eq!(
        resp.status(),
        303,
        "the vendor redirects back: {}",
        resp.text().await.unwrap_or_default()
    );
    resp.headers()["location"].to_str().unwrap().to_string()
}

fn with_param(url: &str, key: &str, value: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == key {
                value.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.into()
}

#[tokio::test]
async fn every_provider_connects_through_the_loopback_listener() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ada Garcia").await;
    for (vendor, provider) in VENDORS {
        let lb = Loopback::bind(0).await.unwrap();
        let start = onramp
            .begin_oauth(&id, provider, Redirect::Loopback(lb.redirect_uri()))
            .await
            .unwrap();
        assert_eq!(start.mode, RedirectMode::Loopback);
        assert!(start.authorize_url.contains("code_challenge_method=S256"));
        let state = start.state.clone();
        let waiter = tokio::spawn(async move { lb.wait(&state, Duration::from_secs(30)).await });
        // A real browser follows the redirect to the listener and shows its page.
        let page = reqwest::get(&start.authorize_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("return to Onramp"), "{page}");
        let callback = waiter.await.unwrap().unwrap();

        let conn = onramp
            .complete_oauth(&callback, Some(provider))
            .await
            .unwrap();
        assert_eq!(
            (conn.kind, conn.state),
            (CredentialKind::Oauth, ConnectionState::Active)
        );
        let mut got: Vec<String> = conn.sites.iter().map(|s| s.external_id.clone()).collect();
        let mut want = w.sandbox.oauth_sites(vendor);
        got.sort();
        want.sort();
        assert_eq!(got, want, "{provider:?}");
        assert_eq!(w.sandbox.token_requests(vendor), 1);
        // The access token works from the keyring.
        let checked = onramp.check_connection(&conn.id).await.unwrap();
        assert_eq!(checked.state, ConnectionState::Active);
    }
    onramp.close().await;
    assert_no_tokens_in_store(w.dir.path(), &w.sandbox);
}

#[tokio::test]
async fn enphase_connects_by_pasting_the_code_its_page_shows() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ben").await;
    let start = onramp
        .begin_oauth(&id, ProviderId::Enphase, Redirect::Paste)
        .await
        .unwrap();
    assert_eq!(start.mode, RedirectMode::Paste);
    assert!(start.redirect_uri.ends_with("/oauth/redirect_uri"));
    let page = reqwest::get(&start.authorize_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let code = page
        .split("<code>")
        .nth(1)
        .unwrap()
        .split("</code>")
        .next()
        .unwrap();
    let conn = onramp
        .complete_pasted(&start.state, &format!("  {code}\n"))
        .await
        .unwrap();
    assert_eq!(conn.provider, ProviderId::Enphase);
    assert_eq!(
        conn.sites.len(),
        w.sandbox.oauth_sites(OAuthVendor::Enphase).len()
    );
}

/// A paste that is not the sign-in's answer (empty, malformed, another sign-in's address) is a
/// typed outcome that leaves the sign-in waiting: the right code pasted next still connects.
#[tokio::test]
async fn a_malformed_paste_leaves_the_sign_in_waiting() {
    use onramp_core::service::PasteOutcome;
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ben").await;
    let start = onramp
        .begin_oauth(&id, ProviderId::Enphase, Redirect::Paste)
        .await
        .unwrap();
    let page = reqwest::get(&start.authorize_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let code = page
        .split("<code>")
        .nth(1)
        .unwrap()
        .split("</code>")
        .next()
        .unwrap();
    for bad in [
        "   ",
        "not a code!",
        "http://127.0.0.1:1/cb?code=x&state=another-sign-in",
    ] {
        match onramp.paste(&start.state, bad).await {
            PasteOutcome::Unreadable(e) => assert_eq!(e.code, Code::Validation, "{bad}: {e:?}"),
            other => panic!("{bad:?} is not an answer: {other:?}"),
        }
    }
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Enphase), 0);
    match onramp.paste(&start.state, code).await {
        PasteOutcome::Finished(Ok(conn)) => assert_eq!(conn.provider, ProviderId::Enphase),
        other => panic!("the right code did not connect: {other:?}"),
    }
}

/// A code the installer mistyped is refused by the vendor, but the vendor's real code is still
/// unused: the sign-in stays open for another paste, and the customer need not sign in again.
#[tokio::test]
async fn a_mistyped_code_keeps_the_sign_in_open_for_another_paste() {
    use onramp_core::model::{RedirectMode, SignInStatus};
    use onramp_core::service::{PasteOutcome, SignInRequest};
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Bo").await;
    let req = SignInRequest::new(&id, ProviderId::Enphase, RedirectMode::Paste);
    let (start, _) = onramp.start_sign_in(&req).await.unwrap();
    let page = reqwest::get(&start.authorize_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let code = page
        .split("<code>")
        .nth(1)
        .unwrap()
        .split("</code>")
        .next()
        .unwrap()
        .to_string();
    // One character off, as a tired installer types it.
    let mut typo: Vec<char> = code.chars().collect();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == 'x' { 'y' } else { 'x' };
    let typo: String = typo.into_iter().collect();
    for _ in 0..2 {
        match onramp.paste_sign_in(&start.state, &typo).await {
            PasteOutcome::NotAccepted(e) => {
                assert!(e.message.contains("did not accept that code"), "{e:?}");
                assert!(e.message.contains("still open"), "{e:?}");
                assert!(
                    e.details
                        .as_deref()
                        .unwrap_or_default()
                        .contains("invalid_grant"),
                    "the vendor's answer is kept for Details: {e:?}"
                );
            }
            other => panic!("a refused code ends nothing: {other:?}"),
        }
        assert!(matches!(
            onramp.sign_in_status(&start.state).unwrap(),
            SignInStatus::Waiting
        ));
    }
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Enphase), 2);
    assert_eq!(row_count(&onramp, "connections").await, 0);
    match onramp.paste_sign_in(&start.state, &code).await {
        PasteOutcome::Finished(Ok(conn)) => assert_eq!(conn.provider, ProviderId::Enphase),
        other => panic!("the right code did not connect: {other:?}"),
    }
    // Used once: the same code again is refused, and the sign-in is over.
    match onramp.paste_sign_in(&start.state, &code).await {
        PasteOutcome::Finished(Err(e)) => assert_eq!(e.code, Code::Validation, "{e:?}"),
        other => panic!("a used sign-in takes no second code: {other:?}"),
    }
    assert_eq!(row_count(&onramp, "connections").await, 1);
}

/// From a redirect, the code is the vendor's own: a refusal ends the sign-in.
#[tokio::test]
async fn a_refused_code_from_the_redirect_ends_the_sign_in() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Al").await;
    let start = onramp
        .begin_oauth(&id, ProviderId::Tesla, Redirect::DeepLink)
        .await
        .unwrap();
    let link = consent(&start.authorize_url).await;
    let forged = link.replacen("code=", "code=x", 1);
    let e = onramp.complete_oauth(&forged, None).await.unwrap_err();
    assert_ne!(e.code, Code::Validation, "{e:?}");
    // The real code comes too late: the sign-in was spent on the refused one.
    let e = onramp.complete_oauth(&link, None).await.unwrap_err();
    assert_eq!(e.code, Code::Validation, "{e:?}");
    assert_eq!(row_count(&onramp, "connections").await, 0);
}

#[tokio::test]
async fn the_deep_link_carries_the_callback() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Cy").await;
    let start = onramp
        .begin_oauth(&id, ProviderId::Tesla, Redirect::DeepLink)
        .await
        .unwrap();
    assert_eq!(start.redirect_uri, "onramp://oauth/callback");
    let link = consent(&start.authorize_url).await;
    assert!(link.starts_with("onramp://oauth/callback?code="), "{link}");
    let conn = onramp.complete_oauth(&link, None).await.unwrap();
    assert_eq!(conn.provider, ProviderId::Tesla);
    assert!(conn.sites.iter().all(|s| !s.name.is_empty()));
}

#[tokio::test]
async fn bad_callbacks_are_refused_without_any_token_request() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Dee").await;
    let tokens = || {
        w.sandbox.token_requests(OAuthVendor::Tesla) + w.sandbox.token_requests(OAuthVendor::Sma)
    };

    let start = onramp
        .begin_oauth(&id, ProviderId::Tesla, Redirect::DeepLink)
        .await
        .unwrap();
    let link = consent(&start.authorize_url).await;

    let forged = onramp
        .complete_oauth(&with_param(&link, "state", "forged-state"), None)
        .await
        .unwrap_err();
    assert_eq!(forged.code, Code::Validation);
    let mut no_state = url::Url::parse(&link).unwrap();
    let code: String = no_state
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    no_state.set_query(Some(&format!("code={code}")));
    assert!(onramp
        .complete_oauth(no_state.as_str(), None)
        .await
        .unwrap_err()
        .message
        .contains("no state"));
    let huge = format!("{link}&pad={}", "x".repeat(5000));
    assert!(onramp.complete_oauth(&huge, None).await.is_err());
    assert!(onramp
        .complete_oauth("onramp://oauth/callback?code=a&code=b", None)
        .await
        .is_err());
    assert!(onramp
        .complete_oauth("https://evil.example/%%%", None)
        .await
        .is_err());
    let misdirected = onramp
        .complete_oauth(&link, Some(ProviderId::Sma))
        .await
        .unwrap_err();
    assert!(
        misdirected.message.contains("is for Tesla"),
        "{}",
        misdirected.message
    );
    assert_eq!(tokens(), 0, "no bad callback reached a token endpoint");

    // The misdirected arrival consumed the sign-in: the genuine one now is a replay.
    let replay = onramp.complete_oauth(&link, None).await.unwrap_err();
    assert!(
        replay.message.contains("already used"),
        "{}",
        replay.message
    );
    assert_eq!(tokens(), 0);

    // A fresh sign-in completes once; its replay is refused and costs no token request.
    let start = onramp
        .begin_oauth(&id, ProviderId::Tesla, Redirect::DeepLink)
        .await
        .unwrap();
    let link = consent(&start.authorize_url).await;
    onramp.complete_oauth(&link, None).await.unwrap();
    assert_eq!(tokens(), 1);
    assert!(onramp.complete_oauth(&link, None).await.is_err());
    assert_eq!(tokens(), 1);
}

#[tokio::test]
async fn a_customer_who_declines_reads_as_declined() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Eve").await;
    w.sandbox.set_decline(OAuthVendor::Sma, true);
    let start = onramp
        .begin_oauth(&id, ProviderId::Sma, Redirect::DeepLink)
        .await
        .unwrap();
    let link = consent(&start.authorize_url).await;
    assert!(link.contains("error=access_denied"), "{link}");
    let e = onramp.complete_oauth(&link, None).await.unwrap_err();
    assert_eq!(e.code, Code::Declined);
    assert!(
        e.message.starts_with("The customer declined access at SMA"),
        "{}",
        e.message
    );
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Sma), 0);
    assert_eq!(row_count(&onramp, "connections").await, 0);
}

#[tokio::test]
async fn key_providers_and_unconfigured_apps_are_refused_clearly() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Fay").await;
    let e = onramp
        .begin_oauth(&id, ProviderId::Solis, Redirect::DeepLink)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    let e = onramp
        .begin_oauth(&id, ProviderId::Tesla, Redirect::Paste)
        .await
        .unwrap_err();
    assert!(
        e.message.contains("no page that shows the code"),
        "{}",
        e.message
    );

    // Without the sandbox's demo apps, a provider needs its app saved first.
    let bare = w.open_bare(&w.dir.path().join("other")).await;
    let c = customer(&bare, "Gus").await;
    let e = bare
        .begin_oauth(&c, ProviderId::Tesla, Redirect::DeepLink)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::NotConfigured);
    let apps = bare.vendor_apps().await.unwrap();
    let signing_in: Vec<ProviderId> = apps.iter().map(|a| a.provider).collect();
    assert_eq!(
        signing_in,
        [
            ProviderId::Solaredge,
            ProviderId::Tesla,
            ProviderId::Enphase,
            ProviderId::Sma,
            ProviderId::Derapi,
            ProviderId::Utilityapi,
            ProviderId::Pelm,
            ProviderId::Metry,
        ],
        "every provider with a sign-in has an app to set; Solis (keys only) has none"
    );
    assert!(apps
        .iter()
        .all(|a| a.source == AppSource::None && a.client_id.is_none()));
    assert!(onramp
        .vendor_apps()
        .await
        .unwrap()
        .iter()
        .all(|a| a.source == AppSource::Sandbox));
    let app = w.sandbox.oauth_client(OAuthVendor::Tesla);
    bare.save_oauth_app(
        ProviderId::Tesla,
        &app.client_id,
        onramp_core::vault::Sensitive::new(app.client_secret),
        None,
    )
    .await
    .unwrap();
    let tesla = bare.vendor_apps().await.unwrap();
    let tesla = tesla
        .iter()
        .find(|a| a.provider == ProviderId::Tesla)
        .unwrap();
    assert_eq!(tesla.source, AppSource::Settings);
    assert_eq!(tesla.client_id.as_deref(), Some(app.client_id.as_str()));
    let start = bare
        .begin_oauth(&c, ProviderId::Tesla, Redirect::DeepLink)
        .await
        .unwrap();
    let link = consent(&start.authorize_url).await;
    bare.complete_oauth(&link, None).await.unwrap();
}

#[tokio::test]
async fn onramp_toml_chooses_the_way_back() {
    let w = World::new().await;
    let mut config = w.config();
    config.oauth.entry("tesla".into()).or_default().redirect = Some(RedirectMode::Loopback);
    // Paste is not a way back Tesla has: the vendor's default stays.
    config.oauth.entry("sma".into()).or_default().redirect = Some(RedirectMode::Paste);
    let onramp = w.open_with(config).await;
    let providers = onramp.providers().await.unwrap();
    let mode = |p: ProviderId| {
        providers
            .iter()
            .find(|i| i.id == p)
            .unwrap()
            .sign_in
            .as_ref()
            .map(|s| s.default_mode)
    };
    assert_eq!(mode(ProviderId::Tesla), Some(RedirectMode::Loopback));
    assert_eq!(mode(ProviderId::Sma), Some(RedirectMode::Loopback));
    assert_eq!(mode(ProviderId::Enphase), Some(RedirectMode::Paste));
    assert_eq!(mode(ProviderId::Solis), None);
}

#[tokio::test]
async fn a_tesla_account_in_another_region_is_found_there() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Hal").await;
    w.sandbox.set_tesla_other_region(true);
    let start = onramp
        .begin_oauth(&id, ProviderId::Tesla, Redirect::DeepLink)
        .await
        .unwrap();
    let link = consent(&start.authorize_url).await;
    let conn = onramp.complete_oauth(&link, None).await.unwrap();
    assert_eq!(
        conn.sites.len(),
        w.sandbox.oauth_sites(OAuthVendor::Tesla).len()
    );
}

#[tokio::test]
async fn settings_choose_the_way_back_and_the_relay_page() {
    use onramp_core::model::SignInReturn;
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ivy").await;
    let relay = "https://example.com/onramp/";
    let app = onramp
        .set_sign_in_return(SignInReturn {
            provider: ProviderId::Sma,
            mode: RedirectMode::DeepLink,
            relay_url: Some(relay.into()),
        })
        .await
        .unwrap();
    assert_eq!(
        (app.redirect_mode, app.relay_url.as_deref()),
        (RedirectMode::DeepLink, Some(relay))
    );
    let sma = onramp
        .providers()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.id == ProviderId::Sma)
        .unwrap();
    assert_eq!(sma.sign_in.unwrap().default_mode, RedirectMode::DeepLink);
    let start = onramp
        .begin_oauth(&id, ProviderId::Sma, Redirect::DeepLink)
        .await
        .unwrap();
    assert_eq!(
        start.redirect_uri, relay,
        "the vendor sends the customer to the relay page"
    );

    let bad = SignInReturn {
        provider: ProviderId::Sma,
        mode: RedirectMode::DeepLink,
        relay_url: Some("http://example.com/".into()),
    };
    assert_eq!(
        onramp.set_sign_in_return(bad).await.unwrap_err().code,
        Code::Validation
    );
    let paste = SignInReturn {
        provider: ProviderId::Tesla,
        mode: RedirectMode::Paste,
        relay_url: None,
    };
    assert_eq!(
        onramp.set_sign_in_return(paste).await.unwrap_err().code,
        Code::Validation
    );
}
