//! Utility data and aggregators end to end through `service` against the sandbox, with a real
//! SQLite file and the real keyring: UtilityAPI Green Button Connect My Data, Metry, Pelm
//! Connect, Derapi Join (flows and sessions) and the Enphase partner account. The test plays the
//! customer's browser, completing or declining the vendors' pages.

mod common;

use common::*;
use onramp_core::model::{ConnectionState, CredentialKind, ProviderId, SignInOptions};
use onramp_core::service::Redirect;
use onramp_core::Code;
use onramp_sandbox::browser::submit_form;

/// The browser at a consent page that answers at once: where the vendor sends it back.
async fn follow(authorize_url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(authorize_url).send().await.unwrap();
    assert!(
        resp.status().is_redirection(),
        "the vendor redirects back: {} {}",
        resp.status(),
        resp.text().await.unwrap_or_default()
    );
    resp.headers()["location"].to_str().unwrap().to_string()
}

fn opts(utility: Option<&str>, scope: Option<&str>, vendor: Option<&str>) -> SignInOptions {
    SignInOptions {
        utility: utility.map(str::to_string),
        scope: scope.map(str::to_string),
        vendor: vendor.map(str::to_string),
    }
}

#[tokio::test]
async fn utilityapi_green_button_connects_fetches_usage_and_refreshes() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ada Garcia").await;
    let asked = "FB=1_3_4_5_13_14_39_46;IntervalDuration=900_3600;HistoryLength=31536000";
    let start = onramp
        .begin_sign_in(
            &id,
            ProviderId::Utilityapi,
            Redirect::DeepLink,
            &opts(Some("demo"), Some(asked), None),
        )
        .await
        .unwrap();
    assert!(
        start
            .authorize_url
            .contains("/DataCustodian/demo/oauth/authorize"),
        "{}",
        start.authorize_url
    );
    assert!(
        start
            .authorize_url
            .contains("scope=FB%3D1_3_4_5_13_14_39_46"),
        "{}",
        start.authorize_url
    );
    let back = follow(&start.authorize_url).await;
    let conn = onramp
        .complete_oauth(&back, Some(ProviderId::Utilityapi))
        .await
        .unwrap();
    assert_eq!(
        (conn.kind, conn.state),
        (CredentialKind::Oauth, ConnectionState::Active),
        "{:?}",
        conn.last_error
    );
    // The customer narrowed the scope (15-minute data off): Onramp keeps what was granted.
    assert_eq!(
        conn.scopes.as_deref(),
        Some(asked.replace("900_3600", "3600").as_str())
    );
    assert_eq!(conn.details.scope_requested.as_deref().unwrap(), asked);
    assert!(conn
        .details
        .resource_uri
        .as_deref()
        .unwrap()
        .contains("/DataCustodian/espi/1_1/resource/Batch/Subscription/"));
    assert!(conn
        .details
        .authorization_uri
        .as_deref()
        .unwrap()
        .contains("/resource/Authorization/"));
    assert_eq!(
        conn.sites.len(),
        2,
        "an electric and a gas meter: {:?}",
        conn.sites
    );

    // The usage summary matches the feed the sandbox generated, month by month.
    let usage = onramp.usage(&id).await.unwrap();
    let expected = w.sandbox.utilityapi_expected();
    assert_eq!(usage.len(), expected.len());
    for e in &expected {
        let s = usage
            .iter()
            .find(|s| s.commodity == e.commodity)
            .unwrap_or_else(|| panic!("no {} series in {usage:?}", e.commodity));
        assert_eq!(s.unit, e.unit);
        assert_eq!(s.readings as u64, e.readings);
        assert_eq!(s.months.len(), e.months.len(), "{}", e.commodity);
        for (m, (month, energy, cost)) in s.months.iter().zip(&e.months) {
            assert_eq!(&m.month, month);
            assert_eq!(m.energy_milli, (energy * 1000.0).round() as i64, "{month}");
            assert!(
                (m.cost.unwrap() - cost).abs() < 1e-6,
                "{month}: cost {:?} vs {cost}",
                m.cost
            );
        }
        assert_eq!(s.connection_id.as_deref(), Some(conn.id.as_str()));
    }

    // The authorization is checked with the client access token (client_credentials).
    let checked = onramp.check_connection(&conn.id).await.unwrap();
    assert_eq!(
        checked.state,
        ConnectionState::Active,
        "{:?}",
        checked.last_error
    );
    // Refresh (HTTP Basic, form body), then fetch again with the new token.
    let refreshed = onramp.refresh_connection(&conn.id).await.unwrap();
    assert_eq!(refreshed.state, ConnectionState::Active);
    let again = onramp.fetch_usage(&conn.id).await.unwrap();
    assert_eq!(again.len(), expected.len());
    assert_eq!(
        onramp.usage(&id).await.unwrap().len(),
        expected.len(),
        "fetching again replaces"
    );
    let grants: Vec<String> = w
        .sandbox
        .utilityapi_token_log()
        .iter()
        .map(|t| t.grant_type.clone())
        .collect();
    assert!(grants.contains(&"authorization_code".to_string()));
    assert!(grants.contains(&"client_credentials".to_string()));
    assert!(grants.contains(&"refresh_token".to_string()));
    assert!(
        w.sandbox
            .utilityapi_token_log()
            .iter()
            .all(|t| t.error.is_none()),
        "{:?}",
        w.sandbox.utilityapi_token_log()
    );
    onramp.close().await;
    assert_no_tokens_in_store(w.dir.path(), &w.sandbox);
}

#[tokio::test]
async fn utilityapi_declines_and_bad_choices_store_nothing() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ben Okafor").await;
    let e = onramp
        .begin_sign_in(
            &id,
            ProviderId::Utilityapi,
            Redirect::DeepLink,
            &opts(Some("atlantis"), None, None),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert!(e.hint.unwrap().contains("demo"));
    let e = onramp
        .begin_sign_in(
            &id,
            ProviderId::Utilityapi,
            Redirect::DeepLink,
            &opts(Some("demo"), Some("all of it please"), None),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);

    w.sandbox.set_utilityapi_decline(true);
    let start = onramp
        .begin_sign_in(
            &id,
            ProviderId::Utilityapi,
            Redirect::DeepLink,
            &opts(Some("demo_gas"), None, None),
        )
        .await
        .unwrap();
    let back = follow(&start.authorize_url).await;
    assert!(back.contains("error=access_denied"), "{back}");
    let e = onramp.complete_oauth(&back, None).await.unwrap_err();
    assert_eq!(e.code, Code::Declined);
    assert!(e.message.contains("declined"), "{}", e.message);
    assert_eq!(row_count(&onramp, "connections").await, 0);
    assert_eq!(row_count(&onramp, "usage_series").await, 0);
    assert!(
        w.sandbox.utilityapi_token_log().is_empty(),
        "no token request after a decline"
    );
}

#[tokio::test]
async fn metry_exchanges_at_once_and_lists_meters_with_monthly_consumption() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Astrid Lund").await;
    let start = onramp
        .begin_sign_in(
            &id,
            ProviderId::Metry,
            Redirect::DeepLink,
            &SignInOptions::default(),
        )
        .await
        .unwrap();
    assert!(start.authorize_url.contains("/id/oauth/authorize"));
    assert!(start.authorize_url.contains("scope=basic"));
    assert!(start
        .authorize_url
        .contains("grant_type=authorization_code"));
    let back = follow(&start.authorize_url).await;
    let conn = onramp
        .complete_oauth(&back, Some(ProviderId::Metry))
        .await
        .unwrap();
    assert_eq!(conn.state, ConnectionState::Active);
    assert_eq!(conn.sites.len(), 2);
    assert_eq!(conn.details.account.as_deref(), Some("Sandbox Household"));
    let usage = onramp.usage(&id).await.unwrap();
    for (meter, months) in w.sandbox.metry_expected_2025() {
        let s = usage
            .iter()
            .find(|s| {
                conn.sites
                    .iter()
                    .any(|site| site.external_id == meter && site.name == s.title)
            })
            .unwrap_or_else(|| panic!("no usage for meter {meter}: {usage:?}"));
        for (i, kwh) in months.iter().enumerate() {
            let m = s
                .months
                .iter()
                .find(|m| m.month == format!("2025-{:02}", i + 1))
                .unwrap();
            assert_eq!(m.energy_milli, (kwh * 1000.0).round() as i64);
        }
    }
    let refreshed = onramp.refresh_connection(&conn.id).await.unwrap();
    assert_eq!(refreshed.state, ConnectionState::Active);
    onramp.fetch_usage(&conn.id).await.unwrap();

    // A code that waited too long is refused, plainly; nothing is stored.
    let w2 = World::with(onramp_sandbox::SandboxConfig {
        oauth_code_ttl: std::time::Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let o2 = w2.open().await;
    let id2 = customer(&o2, "Late Larsson").await;
    let start = o2
        .begin_sign_in(
            &id2,
            ProviderId::Metry,
            Redirect::DeepLink,
            &SignInOptions::default(),
        )
        .await
        .unwrap();
    let back = follow(&start.authorize_url).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let e = o2.complete_oauth(&back, None).await.unwrap_err();
    assert_eq!(e.code, Code::ReauthRequired, "{e:?}");
    assert_eq!(row_count(&o2, "connections").await, 0);
}

#[tokio::test]
async fn metry_decline_reads_as_the_customers_choice() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Nils").await;
    w.sandbox.set_metry_decline(true);
    let start = onramp
        .begin_sign_in(
            &id,
            ProviderId::Metry,
            Redirect::DeepLink,
            &SignInOptions::default(),
        )
        .await
        .unwrap();
    let back = follow(&start.authorize_url).await;
    let e = onramp.complete_oauth(&back, None).await.unwrap_err();
    assert_eq!(e.code, Code::Declined);
    assert_eq!(row_count(&onramp, "connections").await, 0);
}

#[tokio::test]
async fn pelm_connect_creates_then_updates_the_same_connection() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Carla Nguyen").await;
    let start = onramp
        .begin_sign_in(
            &id,
            ProviderId::Pelm,
            Redirect::DeepLink,
            &SignInOptions::default(),
        )
        .await
        .unwrap();
    let u = url::Url::parse(&start.authorize_url).unwrap();
    let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
    assert_eq!(q["redirect_uri"], "onramp://oauth/callback");
    assert_eq!(q["state"], start.state);
    assert!(!q["connect_token"].is_empty());
    let back = submit_form(&start.authorize_url, "allow", &[])
        .await
        .unwrap();
    let conn = onramp
        .complete_oauth(&back, Some(ProviderId::Pelm))
        .await
        .unwrap();
    assert_eq!(conn.state, ConnectionState::Active);
    assert_eq!(conn.sites.len(), 2, "{:?}", conn.sites);
    assert_eq!(conn.details.user_id.as_deref().unwrap(), id);
    assert_eq!(conn.details.mode.as_deref().unwrap(), "create");
    assert_eq!(w.sandbox.pelm_users(), vec![id.clone()]);
    assert!(onramp.check_connection(&conn.id).await.unwrap().state == ConnectionState::Active);

    // Connect again for the same customer: Pelm's update mode, the same connection renewed.
    let start = onramp
        .begin_sign_in(
            &id,
            ProviderId::Pelm,
            Redirect::DeepLink,
            &SignInOptions::default(),
        )
        .await
        .unwrap();
    let page = reqwest::get(&start.authorize_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Update your utility connection"), "{page}");
    let back = submit_form(&start.authorize_url, "allow", &[])
        .await
        .unwrap();
    let again = onramp
        .complete_oauth(&back, Some(ProviderId::Pelm))
        .await
        .unwrap();
    assert_eq!(again.id, conn.id);
    assert_eq!(again.details.mode.as_deref().unwrap(), "update");
    assert_eq!(row_count(&onramp, "connections").await, 1);
    assert!(onramp
        .events(Some(&id))
        .await
        .unwrap()
        .iter()
        .any(|e| e.kind == "reauthorized"));

    // The customer closes Connect: declined, nothing changes.
    let start = onramp
        .begin_sign_in(
            &id,
            ProviderId::Pelm,
            Redirect::DeepLink,
            &SignInOptions::default(),
        )
        .await
        .unwrap();
    let back = submit_form(&start.authorize_url, "deny", &[])
        .await
        .unwrap();
    let e = onramp.complete_oauth(&back, None).await.unwrap_err();
    assert_eq!(e.code, Code::Declined);
    assert_eq!(row_count(&onramp, "connections").await, 1);
    onramp.close().await;
    assert_no_tokens_in_store(w.dir.path(), &w.sandbox);
}

#[tokio::test]
async fn derapi_join_flow_enrolls_enphase_grid_services_and_lists_sites() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Dana Ortiz").await;
    let e = onramp
        .begin_sign_in(
            &id,
            ProviderId::Derapi,
            Redirect::DeepLink,
            &SignInOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation, "the vendor must be picked");
    let start = onramp
        .begin_sign_in(
            &id,
            ProviderId::Derapi,
            Redirect::DeepLink,
            &opts(None, None, Some("enphasevpp")),
        )
        .await
        .unwrap();
    assert!(
        start.authorize_url.contains("/join/flows/"),
        "{}",
        start.authorize_url
    );
    assert!(start.authorize_url.contains("vendor=enphasevpp"));
    let back = submit_form(&start.authorize_url, "allow", &[])
        .await
        .unwrap();
    let conn = onramp
        .complete_oauth(&back, Some(ProviderId::Derapi))
        .await
        .unwrap();
    assert_eq!(conn.state, ConnectionState::Active);
    assert_eq!(conn.sites.len(), 2, "{:?}", conn.sites);
    assert_eq!(conn.details.vendor.as_deref().unwrap(), "enphasevpp");
    assert!(conn
        .credential_hint
        .as_deref()
        .unwrap()
        .contains("Enphase Grid Services"));
    assert_eq!(
        onramp.check_connection(&conn.id).await.unwrap().state,
        ConnectionState::Active
    );

    // The customer declines the second vendor: nothing more stored.
    let start = onramp
        .begin_sign_in(
            &id,
            ProviderId::Derapi,
            Redirect::DeepLink,
            &opts(None, None, Some("tesla")),
        )
        .await
        .unwrap();
    let back = submit_form(&start.authorize_url, "deny", &[])
        .await
        .unwrap();
    assert_eq!(
        onramp.complete_oauth(&back, None).await.unwrap_err().code,
        Code::Declined
    );
    assert_eq!(row_count(&onramp, "connections").await, 1);

    // Derapi's upstream fails: a plain error, the connection is kept as it was.
    w.sandbox.set_derapi_fault(Some(502));
    let e = onramp.check_connection(&conn.id).await.unwrap_err();
    assert_eq!(e.code, Code::VendorError);
    assert!(e.message.contains("device vendor"), "{}", e.message);

    // Derapi answers the list but names the vendor in `errors`: that is what is said, and the
    // connection is kept as it was (not "no sites").
    w.sandbox
        .set_derapi_unreachable("enphasevpp", Some("Enphase VPP API timed out"));
    let e = onramp.check_connection(&conn.id).await.unwrap_err();
    assert_eq!(e.code, Code::VendorError);
    assert!(
        e.message.contains("Enphase Grid Services") && e.message.contains("timed out"),
        "{}",
        e.message
    );
    w.sandbox.set_derapi_unreachable("enphasevpp", None);
    let again = onramp.check_connection(&conn.id).await.unwrap();
    assert_eq!(again.state, ConnectionState::Active);
    assert_eq!(again.sites.len(), 2);
}

/// A Join for a vendor that needs credentials stored at Derapi, with none configured: said
/// before anything is sent, with where to put the id.
#[tokio::test]
async fn derapi_join_without_the_vendors_stored_credentials_says_where_to_add_them() {
    let w = World::new().await;
    let mut cfg = w.config();
    cfg.oauth
        .get_mut("derapi")
        .unwrap()
        .vendor_credentials
        .remove("tesla");
    let onramp = w.open_with(cfg).await;
    let id = customer(&onramp, "Gil Moss").await;
    let e = onramp
        .begin_sign_in(
            &id,
            ProviderId::Derapi,
            Redirect::DeepLink,
            &opts(None, None, Some("tesla")),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::NotConfigured);
    assert!(
        e.hint.as_deref().unwrap().contains("vendor_credentials"),
        "{e:?}"
    );
    let e = onramp
        .begin_session(&id, ProviderId::Derapi, &opts(None, None, Some("tesla")))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::NotConfigured);
    // SolarEdge needs none.
    onramp
        .begin_session(
            &id,
            ProviderId::Derapi,
            &opts(None, None, Some("solaredge")),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn derapi_join_session_waits_for_the_customer_then_enrolls() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Eli Park").await;
    let session = onramp
        .begin_session(
            &id,
            ProviderId::Derapi,
            &opts(None, None, Some("solaredge")),
        )
        .await
        .unwrap();
    assert!(
        onramp.poll_session(&session).await.unwrap().is_none(),
        "pending until the customer is done"
    );
    submit_form(&session.page_url, "allow", &[])
        .await
        .unwrap_or_default();
    let conn = onramp.poll_session(&session).await.unwrap().expect("done");
    assert_eq!(conn.sites.len(), 2);
    assert_eq!(conn.details.vendor.as_deref().unwrap(), "solaredge");
    assert!(
        conn.sites.iter().all(|s| !s.name.starts_with("Site ")),
        "named from GET /sites/{{id}}"
    );

    let session = onramp
        .begin_session(&id, ProviderId::Derapi, &opts(None, None, Some("sma")))
        .await
        .unwrap();
    submit_form(&session.page_url, "deny", &[])
        .await
        .unwrap_or_default();
    let e = onramp.poll_session(&session).await.unwrap_err();
    assert_eq!(e.code, Code::Declined);
    assert_eq!(row_count(&onramp, "connections").await, 1);
}
