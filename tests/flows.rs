//! Whole enrollment flows through `service`, against the sandbox, with a real SQLite file and
//! the real Secret Service (run inside scripts/with-keyring.sh).

mod common;

use common::*;
use onramp_core::model::{ConnectAccountSites, ConnectionState, CredentialKind, ProviderId};
use onramp_core::Code;
use onramp_sandbox::{Faults, SandboxConfig, Vendor};

/// SolarEdge Monitoring API V2 has no per-site key: the homeowner signs in (Site Access) or the
/// installer picks the site from the company's fleet key. Onramp offers exactly those two, in
/// V2's words, and refuses a "customer key" before anything is sent.
#[tokio::test]
async fn solaredge_enrolls_by_site_access_or_the_fleet_key_never_a_customer_key() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ada Garcia").await;
    let fleet_key = w.sandbox.demo().solaredge_account_key.clone();

    let e = onramp
        .connect_customer_key(&id, solaredge_key(&fleet_key))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert!(e.message.contains("no customer key"), "{}", e.message);
    assert_eq!(w.sandbox.requests(Vendor::SolarEdge), 0, "nothing was sent");
    assert_eq!(row_count(&onramp, "connections").await, 0);

    let info = onramp
        .providers()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.id == ProviderId::Solaredge)
        .unwrap();
    assert!(info.fields.is_empty(), "no customer key fields");
    assert!(info.customer_key_help.is_empty());
    assert_eq!(info.account_fields.len(), 1);
    assert_eq!(info.account_fields[0].label, "Fleet API key");
    assert!(info.account_key_help.contains("developer console"));
    let sign_in = info.sign_in.as_ref().expect("Site Access sign-in");
    for help in [&info.account_key_help, &sign_in.help] {
        for v1 in ["Admin → Site Access", "Company Details", "API Access"] {
            assert!(!help.contains(v1), "V1 portal words in {help:?}");
        }
    }

    // The fleet key lists the account's sites (V2's `sites.site`); the installer picks one.
    onramp
        .save_installer_account(solaredge_key(&fleet_key))
        .await
        .unwrap();
    let found = onramp
        .search_account_sites(ProviderId::Solaredge, "")
        .await
        .unwrap();
    assert_eq!(found.total, 320);
    assert!(found
        .sites
        .iter()
        .all(|s| matches!(s.status.as_deref(), Some("Active" | "Pending"))));
    let picked = found.sites[0].clone();
    let conn = onramp
        .connect_account_sites(ConnectAccountSites {
            customer_id: id.clone(),
            provider: ProviderId::Solaredge,
            site_ids: vec![picked.external_id.clone()],
        })
        .await
        .unwrap();
    assert_eq!(conn.kind, CredentialKind::InstallerAccount);
    onramp.close().await;

    let again = w.open().await;
    let checked = again.check_connection(&conn.id).await.unwrap();
    assert_eq!(checked.state, ConnectionState::Active);
    assert_eq!(checked.sites[0].external_id, picked.external_id);
    again.close().await;
    let bytes = store_bytes(w.dir.path());
    assert!(
        !contains(&bytes, &fleet_key),
        "the fleet key leaked into SQLite"
    );
    assert!(
        contains(&bytes, &picked.name),
        "scan sanity: the site name is stored"
    );
}

#[tokio::test]
async fn a_wrong_solaredge_key_is_refused_in_solaredges_words_and_stores_nothing() {
    let w = World::new().await;
    let onramp = w.open().await;
    let before = row_count(&onramp, "events").await;

    let e = onramp
        .save_installer_account(solaredge_key("ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::VendorRejected);
    assert!(
        e.message.starts_with("SolarEdge rejected this key"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("Authentication Failed"),
        "the vendor's reason is shown: {}",
        e.message
    );
    assert!(e.hint.as_deref().unwrap().contains("developer console"));
    assert_eq!(row_count(&onramp, "provider_apps").await, 0);
    assert_eq!(row_count(&onramp, "events").await, before);

    let e = onramp
        .save_installer_account(solaredge_key("has spaces in it"))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
}

#[tokio::test]
async fn solis_customer_key_signs_requests_and_finds_the_stations() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Chen Wei").await;
    let demo = w.sandbox.demo().solis_customer_keys[0].clone();

    let conn = onramp
        .connect_customer_key(&id, solis_key(&demo.key_id, &demo.key_secret))
        .await
        .unwrap();
    let mut got: Vec<String> = conn.sites.iter().map(|s| s.external_id.clone()).collect();
    let mut want = demo.station_ids.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(conn.provider, ProviderId::Solis);

    let bad = onramp
        .connect_customer_key(
            &id,
            solis_key(&demo.key_id, "0123456789abcdef0123456789abcdef"),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code, Code::VendorRejected);
    assert!(bad.message.starts_with("Solis rejected"), "{}", bad.message);
    onramp.close().await;
    assert!(!contains(&store_bytes(w.dir.path()), &demo.key_secret));
}

#[tokio::test]
async fn installer_account_lists_searches_and_assigns_sites_once() {
    let w = World::new().await;
    let onramp = w.open().await;
    let demo = w.sandbox.demo().clone();

    let none = onramp
        .search_account_sites(ProviderId::Solaredge, "")
        .await
        .unwrap_err();
    assert_eq!(none.code, Code::NotConfigured);

    let account = onramp
        .save_installer_account(solaredge_key(&demo.solaredge_account_key))
        .await
        .unwrap();
    assert!(account.configured);
    let all = onramp
        .search_account_sites(ProviderId::Solaredge, "")
        .await
        .unwrap();
    assert_eq!(
        all.total as usize,
        onramp_sandbox::SandboxConfig::default().solaredge_sites
    );

    // Search by words of the name and address of a real site of the fleet.
    let target = all.sites[7].clone();
    let word = target.name.split_whitespace().next().unwrap().to_string();
    let hits = onramp
        .search_account_sites(ProviderId::Solaredge, &word)
        .await
        .unwrap();
    assert!(hits
        .sites
        .iter()
        .any(|s| s.external_id == target.external_id));
    assert!(hits.sites.len() < all.sites.len());

    let ada = customer(&onramp, "Ada").await;
    let conn = onramp
        .connect_account_sites(ConnectAccountSites {
            customer_id: ada.clone(),
            provider: ProviderId::Solaredge,
            site_ids: vec![target.external_id.clone()],
        })
        .await
        .unwrap();
    assert_eq!(conn.kind, CredentialKind::InstallerAccount);
    assert_eq!(conn.sites.len(), 1);

    let again = onramp
        .search_account_sites(ProviderId::Solaredge, &target.external_id)
        .await
        .unwrap();
    assert_eq!(again.sites[0].connected_to.as_deref(), Some("Ada"));

    let ben = customer(&onramp, "Ben").await;
    let taken = onramp
        .connect_account_sites(ConnectAccountSites {
            customer_id: ben,
            provider: ProviderId::Solaredge,
            site_ids: vec![target.external_id.clone()],
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code, Code::Validation);
    assert!(
        taken.message.contains("already connected to Ada"),
        "{}",
        taken.message
    );

    let unknown = onramp
        .connect_account_sites(ConnectAccountSites {
            customer_id: ada,
            provider: ProviderId::Solaredge,
            site_ids: vec!["999".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code, Code::Validation);
    onramp.close().await;
    assert!(!contains(
        &store_bytes(w.dir.path()),
        &demo.solaredge_account_key
    ));
}

#[tokio::test]
async fn solis_installer_account_pages_through_every_station() {
    let w = World::new().await;
    let onramp = w.open().await;
    let demo = w.sandbox.demo().solis_account.clone();
    onramp
        .save_installer_account(solis_key(&demo.key_id, &demo.key_secret))
        .await
        .unwrap();
    let all = onramp
        .search_account_sites(ProviderId::Solis, "")
        .await
        .unwrap();
    assert_eq!(all.total as usize, SandboxConfig::default().solis_stations);
    let id = customer(&onramp, "Dana").await;
    let picked: Vec<String> = all.sites[..2]
        .iter()
        .map(|s| s.external_id.clone())
        .collect();
    let conn = onramp
        .connect_account_sites(ConnectAccountSites {
            customer_id: id,
            provider: ProviderId::Solis,
            site_ids: picked,
        })
        .await
        .unwrap();
    assert_eq!(conn.sites.len(), 2);
}

#[tokio::test]
async fn rate_limits_report_when_to_retry_and_store_nothing() {
    let w = World::new().await;
    let onramp = w.open().await;
    let key = w.sandbox.demo().solaredge_account_key.clone();
    w.sandbox.set_faults(
        Vendor::SolarEdge,
        Faults {
            rate_limit_next: 1,
            ..Faults::default()
        },
    );
    let e = onramp
        .save_installer_account(solaredge_key(&key))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::RateLimited);
    assert!(e.retry_after.is_some());
    assert!(e.message.contains("try again in"), "{}", e.message);
    assert_eq!(row_count(&onramp, "provider_apps").await, 0);
    // The fault was one request: the next attempt goes through.
    onramp
        .save_installer_account(solaredge_key(&key))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_vendors_own_rate_limit_is_respected() {
    // SolarEdge allows 2 calls a minute for this key: the third is refused with Retry-After.
    let w = World::with(SandboxConfig {
        solaredge_per_minute: 2,
        ..SandboxConfig::default()
    })
    .await;
    let onramp = w.open().await;
    let key = w.sandbox.demo().solaredge_account_key.clone();
    for _ in 0..2 {
        onramp
            .save_installer_account(solaredge_key(&key))
            .await
            .unwrap();
    }
    let e = onramp
        .save_installer_account(solaredge_key(&key))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::RateLimited);
    assert!(e.retry_after.unwrap() <= 60);
}

#[tokio::test]
async fn solis_calls_are_paced_under_three_per_five_seconds() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Gus").await;
    let keys = w.sandbox.demo().solis_customer_keys.clone();
    // Four enrollments back to back: the fourth call would be refused without pacing.
    for k in keys.iter().take(4) {
        onramp
            .connect_customer_key(&id, solis_key(&k.key_id, &k.key_secret))
            .await
            .unwrap();
    }
    assert_eq!(row_count(&onramp, "connections").await, 4);
}

#[tokio::test]
async fn vendor_failures_and_network_failures_read_plainly() {
    let w = World::new().await;
    let onramp = w.open().await;
    let key = w.sandbox.demo().solaredge_account_key.clone();

    w.sandbox.set_faults(
        Vendor::SolarEdge,
        Faults {
            fail_next_5xx: 1,
            ..Faults::default()
        },
    );
    let e = onramp
        .save_installer_account(solaredge_key(&key))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::VendorError);
    assert!(
        e.message.starts_with("SolarEdge answered with an error"),
        "{}",
        e.message
    );

    w.sandbox.set_faults(
        Vendor::SolarEdge,
        Faults {
            malformed_next: 1,
            ..Faults::default()
        },
    );
    let e = onramp
        .save_installer_account(solaredge_key(&key))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::VendorError);

    // Nothing listens on this port: a network failure.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut cfg = w.config();
    cfg.set_base_url(ProviderId::Solaredge, format!("http://127.0.0.1:{port}"));
    onramp.close().await;
    let offline = w.open_with(cfg).await;
    let e = offline
        .save_installer_account(solaredge_key(&key))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Network);
    assert!(e.message.contains("could not be reached"), "{}", e.message);
    assert_eq!(row_count(&offline, "provider_apps").await, 0);
}

#[tokio::test]
async fn removing_a_connection_removes_its_key() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ida").await;
    let conn = onramp
        .connect_customer_key(&id, customer_key(&w, 4))
        .await
        .unwrap();
    onramp.remove_connection(&conn.id).await.unwrap();
    assert_eq!(row_count(&onramp, "connections").await, 0);
    assert_eq!(row_count(&onramp, "sites").await, 0);
    let e = onramp.check_connection(&conn.id).await.unwrap_err();
    assert_eq!(e.code, Code::NotFound);
}

#[tokio::test]
async fn a_tesla_code_that_waited_too_long_asks_for_the_sign_in_again_and_stores_nothing() {
    // Tesla answers an expired code `invalid_auth_code` (its own code, not RFC 6749's
    // invalid_grant): Onramp reads it from Tesla's refusal table as a sign-in to start again.
    let w = World::with(SandboxConfig {
        oauth_code_ttl: std::time::Duration::from_millis(300),
        ..SandboxConfig::default()
    })
    .await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Late Lindqvist").await;
    let start = onramp
        .begin_oauth(
            &id,
            ProviderId::Tesla,
            onramp_core::service::Redirect::DeepLink,
        )
        .await
        .unwrap();
    let back = consent(&start.authorize_url).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let e = onramp
        .complete_oauth(&back, Some(ProviderId::Tesla))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::ReauthRequired, "{e:?}");
    assert!(onramp.customer(&id).await.unwrap().connections.is_empty());
}
