//! A vendor that is slow, hangs, fails, throttles or answers garbage, on its token endpoint or
//! its data API: Onramp says what happened (by code, naming the vendor, with what to do), marks
//! nothing broken that is not, stores nothing half-done, and works again once the vendor does.
//! Token-endpoint 429/5xx/revocation and lost answers are in `lifecycle.rs`.

mod common;

use std::time::Duration;

use common::*;
use onramp_core::model::{ConnectionState, CustomerDetail, ProviderId};
use onramp_core::service::Sweep;
use onramp_core::Code;
use onramp_sandbox::{Faults, LostAnswer, OAuthVendor};

/// What the installer sees of a customer's connections, minus the moment of the last check.
fn visible(detail: &CustomerDetail) -> serde_json::Value {
    let mut v = serde_json::to_value(&detail.connections).unwrap();
    for c in v.as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("last_checked_at");
    }
    v
}

#[tokio::test]
async fn a_failing_data_api_reads_plainly_and_changes_nothing() {
    let w = World::new().await;
    let mut onramp = w.open().await;
    onramp.set_http_timeout(Duration::from_secs(1)).unwrap();
    let ada = customer(&onramp, "Ada").await;
    let vendors = [
        (ProviderId::Tesla, OAuthVendor::Tesla, "Tesla"),
        (ProviderId::Enphase, OAuthVendor::Enphase, "Enphase"),
        (ProviderId::Sma, OAuthVendor::Sma, "SMA"),
    ];
    let mut ids = Vec::new();
    for (provider, _, _) in vendors {
        ids.push(sign_in(&onramp, &ada, provider).await);
    }
    let before = visible(&onramp.customer(&ada).await.unwrap());
    let events_before = row_count(&onramp, "events").await;

    for ((_, vendor, name), id) in vendors.iter().zip(&ids) {
        let cases = [
            (
                "5xx",
                Faults {
                    fail_next_5xx: 1,
                    ..Default::default()
                },
                Code::VendorError,
            ),
            (
                "429",
                Faults {
                    rate_limit_next: 1,
                    ..Default::default()
                },
                Code::RateLimited,
            ),
            (
                "truncated JSON",
                Faults {
                    malformed_next: 1,
                    ..Default::default()
                },
                Code::VendorError,
            ),
            (
                "no answer within the timeout",
                Faults {
                    latency: Duration::from_secs(3),
                    ..Default::default()
                },
                Code::Network,
            ),
        ];
        for (what, faults, code) in cases {
            let asked = w.sandbox.api_requests(*vendor);
            w.sandbox.set_api_faults(*vendor, faults);
            let e = onramp.check_connection(id).await.unwrap_err();
            w.sandbox.set_api_faults(*vendor, Faults::default());
            assert!(
                w.sandbox.api_requests(*vendor) > asked,
                "{name} {what}: asked"
            );
            assert_eq!(e.code, code, "{name} {what}: {e:?}");
            assert!(e.message.contains(name), "{name} {what}: {}", e.message);
            assert!(e.hint.is_some(), "{name} {what}: no hint");
            if code == Code::RateLimited {
                assert!(e.retry_after.is_some(), "{name}: when to retry");
            }
        }
        // The vendor is well again: the same connection works.
        let conn = onramp.check_connection(id).await.unwrap();
        assert_eq!(conn.state, ConnectionState::Active, "{name}");
    }
    // None of it marked a connection broken, lost a site, or logged a failure as a change.
    assert_eq!(visible(&onramp.customer(&ada).await.unwrap()), before);
    assert_eq!(
        row_count(&onramp, "events").await,
        events_before,
        "transient failures change nothing"
    );
    onramp.close().await;
}

#[tokio::test]
async fn a_hanging_token_endpoint_times_out_and_the_grant_survives() {
    let w = World::new().await;
    let mut onramp = w.open().await;
    onramp.set_http_timeout(Duration::from_secs(1)).unwrap();
    let ada = customer(&onramp, "Ada").await;
    let tesla = sign_in(&onramp, &ada, ProviderId::Tesla).await;
    let enphase = sign_in(&onramp, &ada, ProviderId::Enphase).await;

    // Tesla's token endpoint hangs past the timeout: the refresh says so and keeps the old
    // tokens; whether or not Tesla made the exchange, the next refresh works (its rotation
    // allows a retry of an answer never used).
    w.sandbox
        .set_token_latency(OAuthVendor::Tesla, Duration::from_secs(3));
    let e = onramp.refresh_connection(&tesla).await.unwrap_err();
    assert_eq!(e.code, Code::Network, "{e:?}");
    assert!(
        e.message.contains("Tesla did not answer in time"),
        "{}",
        e.message
    );
    assert!(e.message.contains("Nothing was saved"), "{}", e.message);
    assert!(e.hint.is_some());

    // A sweep meanwhile: Tesla fails for now, Enphase is not held up by it.
    let report = onramp.refresh_sweep(Sweep::All).await.unwrap();
    assert_eq!(report.refreshed, vec![enphase.clone()], "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, tesla);
    assert_eq!(report.failed[0].1.code, Code::Network);
    assert!(report.needs_reauth.is_empty());

    // Slow but within the timeout: it just takes longer.
    w.sandbox
        .set_token_latency(OAuthVendor::Tesla, Duration::from_millis(300));
    let conn = onramp.refresh_connection(&tesla).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Active);
    w.sandbox
        .set_token_latency(OAuthVendor::Tesla, Duration::ZERO);
    let conn = onramp.check_connection(&tesla).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Active);
    onramp.refresh_connection(&tesla).await.unwrap();
    onramp.close().await;
}

#[tokio::test]
async fn garbage_from_the_token_endpoint_is_reported_and_the_next_refresh_works() {
    let w = World::new().await;
    // A vendor with a retry window for an answer that never arrived.
    w.sandbox
        .set_reuse_window(OAuthVendor::Sma, Duration::from_secs(5));
    let onramp = w.open().await;
    let ada = customer(&onramp, "Ada").await;
    let sma = sign_in(&onramp, &ada, ProviderId::Sma).await;
    for how in [LostAnswer::Truncated, LostAnswer::Reset] {
        w.sandbox.set_lost_token_answers(OAuthVendor::Sma, how, 1);
        let e = onramp.refresh_connection(&sma).await.unwrap_err();
        assert!(
            matches!(e.code, Code::VendorError | Code::Network),
            "{how:?}: {e:?}"
        );
        assert!(e.message.contains("SMA"), "{how:?}: {}", e.message);
        assert!(
            e.message.contains("Nothing was saved"),
            "{how:?}: {}",
            e.message
        );
    }
    // Several vendor 5xx in a row, then it recovers: the grant is intact throughout.
    w.sandbox.set_token_fault(OAuthVendor::Sma, 502, 3);
    for _ in 0..3 {
        let e = onramp.refresh_connection(&sma).await.unwrap_err();
        assert_eq!(e.code, Code::VendorError, "{e:?}");
    }
    let conn = onramp.refresh_connection(&sma).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Active);
    let conn = onramp.check_connection(&sma).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Active);
    onramp.close().await;
}
