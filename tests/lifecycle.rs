//! Keeping signed-in connections alive, against the sandbox's strict OAuth servers (rotating,
//! single-use refresh tokens: presenting a used one revokes the grant), with the real keyring
//! and SQLite, and Onramp's clock moved by hand.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use onramp_core::lifecycle::{ManualClock, Policy};
use onramp_core::model::{ConnectionState, ProviderId, Who};
use onramp_core::service::{ExportFormat, Redirect, Sweep};
use onramp_core::vault::{Sensitive, Vault};
use onramp_core::{Code, Onramp};
use onramp_sandbox::{LostAnswer, OAuthVendor};

/// Onramp on a hand-moved clock starting now.
async fn open_with_clock(w: &World, policy: Policy) -> (Onramp, Arc<ManualClock>) {
    let mut onramp = w.open().await;
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    onramp.set_lifecycle(clock.clone(), policy);
    (onramp, clock)
}

#[tokio::test]
async fn a_hundred_concurrent_refreshes_make_one_token_request() {
    let w = World::new().await;
    let onramp = w.open().await;
    let c = customer(&onramp, "Ada").await;
    let id = sign_in(&onramp, &c, ProviderId::Tesla).await;
    let before = w.sandbox.token_requests(OAuthVendor::Tesla);

    let all =
        futures_util::future::join_all((0..100).map(|_| onramp.refresh_connection(&id))).await;
    for r in &all {
        let conn = r
            .as_ref()
            .expect("every caller gets the one refresh's outcome");
        assert_eq!(conn.state, ConnectionState::Active);
    }
    assert_eq!(
        w.sandbox.token_requests(OAuthVendor::Tesla),
        before + 1,
        "one token request for a hundred callers"
    );
    // The refresh token kept is the one Tesla issued last: the grant still refreshes, and is
    // not revoked (presenting a used one would revoke it).
    onramp.refresh_connection(&id).await.unwrap();
    let checked = onramp.check_connection(&id).await.unwrap();
    assert_eq!(checked.state, ConnectionState::Active);
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Tesla), before + 2);
    onramp.close().await;
}

/// The sweep hands each refresh's outcome to the store and moves on; the store writes them in
/// batches. Every refresh must still end up written once, and a refresh asked for meanwhile
/// must not reuse a token the sweep already rotated (Tesla would revoke the grant).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_writes_every_refresh_in_batches_and_a_refresh_meanwhile_waits_its_turn() {
    let w = World::new().await;
    let onramp = w.open().await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let c = customer(&onramp, &format!("Customer {i}")).await;
        for _ in 0..3 {
            ids.push(sign_in(&onramp, &c, ProviderId::Tesla).await);
        }
    }
    let before: Vec<_> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(
                onramp
                    .store()
                    .connection(id)
                    .await
                    .unwrap()
                    .tokens_issued_at,
            );
        }
        v
    };
    let events_before = row_count(&onramp, "events").await;
    let requests_before = w.sandbox.token_requests(OAuthVendor::Tesla);
    // A second after the sign-ins, so a refreshed connection's issue time moves.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let (report, single) = tokio::join!(onramp.refresh_sweep(Sweep::All), async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        onramp.refresh_connection(&ids[5]).await
    });
    let report = report.unwrap();
    assert_eq!(report.refreshed.len(), ids.len(), "{report:?}");
    assert_eq!(single.unwrap().state, ConnectionState::Active);
    let requests = (w.sandbox.token_requests(OAuthVendor::Tesla) - requests_before) as usize;
    assert!(
        requests == ids.len() || requests == ids.len() + 1,
        "{requests} token requests"
    );
    // Every refresh is in the store: a new issue time and one event each.
    for (id, was) in ids.iter().zip(&before) {
        let conn = onramp.store().connection(id).await.unwrap();
        assert_ne!(&conn.tokens_issued_at, was, "{id} was not written");
        assert_eq!(conn.state, ConnectionState::Active);
    }
    assert_eq!(
        row_count(&onramp, "events").await - events_before,
        requests as i64,
        "one event per token request"
    );
    // And every grant still works with the token Onramp kept.
    let after = onramp.refresh_sweep(Sweep::All).await.unwrap();
    assert_eq!(after.refreshed.len(), ids.len(), "{after:?}");
    onramp.close().await;
}

/// When the disk falls behind, a sweep stops asking vendors for rotations it cannot make
/// durable yet: at most `max_uncommitted` token requests run ahead of their commits, so no
/// rotated token waits long in memory (a crash would lose a single-use one). Here nothing can
/// commit for a while (another connection holds SQLite's write lock): the sweep sends at most
/// that many token requests meanwhile, then finishes once the disk is back, every rotation
/// written and timed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_asks_for_no_more_rotations_than_it_can_make_durable() {
    use sqlx::Connection as _;
    let w = World::new().await;
    let cap = 8;
    let (onramp, _clock) = open_with_clock(
        &w,
        Policy {
            max_concurrency: 4,
            per_vendor: 4,
            max_uncommitted: cap,
            ..Policy::default()
        },
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..50 {
        let c = customer(&onramp, &format!("Customer {i}")).await;
        for _ in 0..3 {
            ids.push(sign_in(&onramp, &c, ProviderId::Tesla).await);
        }
    }
    let before = w.sandbox.token_requests(OAuthVendor::Tesla);
    let stall = async {
        while w.sandbox.token_requests(OAuthVendor::Tesla) == before {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let url = format!("sqlite://{}", w.db_path().display());
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut db)
            .await
            .unwrap();
        let held = w.sandbox.token_requests(OAuthVendor::Tesla);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let meanwhile = w.sandbox.token_requests(OAuthVendor::Tesla) - held;
        sqlx::query("ROLLBACK").execute(&mut db).await.unwrap();
        db.close().await.unwrap();
        meanwhile
    };
    let (report, meanwhile) = tokio::join!(onramp.refresh_sweep(Sweep::All), stall);
    let report = report.unwrap();
    assert!(
        meanwhile <= cap as u64,
        "{meanwhile} token requests while nothing could be made durable (at most {cap})"
    );
    assert_eq!(report.refreshed.len(), ids.len(), "{report:?}");
    assert_eq!(report.durable_ms.len(), ids.len(), "every rotation timed");
    assert_eq!(
        w.sandbox.token_requests(OAuthVendor::Tesla) - before,
        ids.len() as u64
    );
    let after = onramp.refresh_sweep(Sweep::All).await.unwrap();
    assert_eq!(after.refreshed.len(), ids.len(), "{after:?}");
    onramp.close().await;
}

#[tokio::test]
async fn the_sweep_refreshes_only_what_is_due_and_keeps_connections_alive_for_three_weeks() {
    let w = World::new().await;
    let (onramp, clock) = open_with_clock(&w, Policy::default()).await;
    let c = customer(&onramp, "Ada").await;
    let tesla = sign_in(&onramp, &c, ProviderId::Tesla).await;
    let enphase = sign_in(&onramp, &c, ProviderId::Enphase).await;

    // Fresh tokens: nothing is due (Tesla's access lives 8 h, Enphase's a day).
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.checked, 2);
    assert!(r.refreshed.is_empty(), "{r:?}");
    let next = r.next_due.expect("the next refresh is known");
    let tesla_conn = onramp.store().connection(&tesla).await.unwrap();
    assert!(
        next < tesla_conn.access_expires_at.clone().unwrap(),
        "due ahead of expiry"
    );

    // Eight hours on: Tesla's access token is about to expire, Enphase's is not.
    clock.advance(Duration::from_secs(8 * 3600));
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.refreshed, vec![tesla.clone()]);

    // Left alone for three weeks with the app open (a sweep every four hours): both stay active,
    // and Enphase's one-week refresh token is always replaced before it dies.
    let (t0, e0) = (
        w.sandbox.token_requests(OAuthVendor::Tesla),
        w.sandbox.token_requests(OAuthVendor::Enphase),
    );
    for _ in 0..(3 * 7 * 6) {
        clock.advance(Duration::from_secs(4 * 3600));
        let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
        assert!(r.failed.is_empty() && r.needs_reauth.is_empty(), "{r:?}");
        let e = onramp.store().connection(&enphase).await.unwrap();
        let rt_expiry = time::OffsetDateTime::parse(
            e.refresh_expires_at.as_deref().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!(
            rt_expiry > clock_now(&onramp),
            "Enphase's refresh token lapsed"
        );
    }
    let tesla_refreshes = w.sandbox.token_requests(OAuthVendor::Tesla) - t0;
    let enphase_refreshes = w.sandbox.token_requests(OAuthVendor::Enphase) - e0;
    // Tesla every ~8 h, Enphase every ~day: about 63 and 21 in three weeks.
    assert!(
        (55..=75).contains(&tesla_refreshes),
        "Tesla refreshed {tesla_refreshes} times"
    );
    assert!(
        (18..=25).contains(&enphase_refreshes),
        "Enphase refreshed {enphase_refreshes} times"
    );
    for id in [&tesla, &enphase] {
        let conn = onramp.check_connection(id).await.unwrap();
        assert_eq!(conn.state, ConnectionState::Active, "{id}");
    }
    onramp.close().await;
}

fn clock_now(onramp: &Onramp) -> time::OffsetDateTime {
    onramp.lifecycle().now()
}

#[tokio::test]
async fn a_429_holds_the_vendor_back_for_its_retry_after_and_loses_nothing() {
    let w = World::new().await;
    let (onramp, clock) = open_with_clock(&w, Policy::default()).await;
    let (ada, ben) = (
        customer(&onramp, "Ada").await,
        customer(&onramp, "Ben").await,
    );
    let a = sign_in(&onramp, &ada, ProviderId::Tesla).await;
    let b = sign_in(&onramp, &ben, ProviderId::Tesla).await;
    clock.advance(Duration::from_secs(8 * 3600));

    w.sandbox.set_token_fault(OAuthVendor::Tesla, 429, 1);
    let before = w.sandbox.token_requests(OAuthVendor::Tesla);
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert_eq!(r.failed[0].1.code, Code::RateLimited);
    // The 429 stopped Tesla: the other refresh waited instead of asking (it may have been the
    // first to ask, then the other waited).
    assert_eq!(r.refreshed.len() + r.held, 1, "{r:?}");
    let asked = w.sandbox.token_requests(OAuthVendor::Tesla) - before;
    assert!(asked <= 2, "{asked} token requests");

    // Within the Retry-After (30 s) nothing is asked.
    let before = w.sandbox.token_requests(OAuthVendor::Tesla);
    clock.advance(Duration::from_secs(10));
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert!(r.refreshed.is_empty() && r.held >= 1, "{r:?}");
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Tesla), before);

    // After it, everything due is refreshed and both grants still work.
    clock.advance(Duration::from_secs(25));
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert!(r.failed.is_empty(), "{r:?}");
    for id in [&a, &b] {
        let conn = onramp.check_connection(id).await.unwrap();
        assert_eq!(conn.state, ConnectionState::Active);
    }
    onramp.close().await;
}

#[tokio::test]
async fn a_5xx_backs_off_and_a_revoked_grant_needs_the_customer() {
    let w = World::new().await;
    let (onramp, clock) = open_with_clock(&w, Policy::default()).await;
    let c = customer(&onramp, "Ada").await;
    let tesla = sign_in(&onramp, &c, ProviderId::Tesla).await;
    clock.advance(Duration::from_secs(8 * 3600));

    w.sandbox.set_token_fault(OAuthVendor::Tesla, 503, 1);
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.failed.len(), 1, "{r:?}");
    let conn = onramp.store().connection(&tesla).await.unwrap();
    assert_eq!(
        conn.state,
        ConnectionState::Active,
        "a vendor outage is not the customer's problem"
    );
    // Backed off (15–30 s after the first failure): the next sweep right away does not ask.
    let before = w.sandbox.token_requests(OAuthVendor::Tesla);
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.held, 1, "{r:?}");
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Tesla), before);
    clock.advance(Duration::from_secs(31));
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.refreshed, vec![tesla.clone()], "{r:?}");

    // The customer revoked Onramp at Tesla: the next refresh is refused, and the connection
    // says so (the customer must sign in again).
    clock.advance(Duration::from_secs(8 * 3600));
    w.sandbox.set_token_fault(OAuthVendor::Tesla, 400, 1);
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.needs_reauth, vec![tesla.clone()], "{r:?}");
    let conn = onramp.store().connection(&tesla).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Revoked);
    // It is no longer swept.
    clock.advance(Duration::from_secs(8 * 3600));
    let before = w.sandbox.token_requests(OAuthVendor::Tesla);
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert!(r.refreshed.is_empty() && r.failed.is_empty(), "{r:?}");
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Tesla), before);
    onramp.close().await;
}

#[tokio::test]
async fn re_authorizing_renews_the_same_connection_and_keeps_its_sites() {
    let w = World::new().await;
    let onramp = w.open().await;
    let c = customer(&onramp, "Ada").await;
    let id = sign_in(&onramp, &c, ProviderId::Tesla).await;
    let sites = onramp.store().connection(&id).await.unwrap().sites;
    w.sandbox.set_token_fault(OAuthVendor::Tesla, 400, 1);
    let e = onramp.refresh_connection(&id).await.unwrap_err();
    assert_eq!(e.code, Code::ReauthRequired);
    assert_eq!(
        onramp.store().connection(&id).await.unwrap().state,
        ConnectionState::Revoked
    );

    let start = onramp
        .begin_reauthorize(&id, Redirect::DeepLink)
        .await
        .unwrap();
    let back = consent(&start.authorize_url).await;
    let conn = onramp.complete_oauth(&back, None).await.unwrap();
    assert_eq!(conn.id, id, "the same connection, not a new one");
    assert_eq!(conn.state, ConnectionState::Active);
    assert_eq!(conn.sites, sites);
    assert_eq!(row_count(&onramp, "connections").await, 1);
    let events = onramp.events(Some(&c)).await.unwrap();
    assert!(
        events.iter().any(|e| e.kind == "reauthorized"),
        "{events:?}"
    );
    // The renewed grant refreshes.
    onramp.refresh_connection(&id).await.unwrap();

    // The consent record: every step, in order, with no token in it.
    let csv = onramp
        .export_activity(Some(&c), ExportFormat::Csv)
        .await
        .unwrap();
    let kinds: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "customer_created",
            "connected",
            "revoked",
            "reauthorized",
            "refreshed"
        ],
        "{csv}"
    );
    assert!(
        csv.starts_with("at,customer,provider,kind,summary,actor"),
        "{csv}"
    );
    assert!(csv.contains(",Ada,Tesla,"), "{csv}");
    for token in ["rt_", "eyJ", "code_"] {
        assert!(!csv.contains(token), "{token} in the export");
    }
    let json: serde_json::Value = serde_json::from_str(
        &onramp
            .export_activity(Some(&c), ExportFormat::Json)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 5);
    let folder = w.dir.path().join("Downloads");
    let first = onramp
        .export_activity_to(
            &onramp_core::model::ActivityFilter {
                customer_id: Some(c.clone()),
                ..Default::default()
            },
            ExportFormat::Csv,
            &folder,
        )
        .await
        .unwrap();
    let second = onramp
        .export_activity_to(
            &onramp_core::model::ActivityFilter {
                customer_id: Some(c.clone()),
                ..Default::default()
            },
            ExportFormat::Csv,
            &folder,
        )
        .await
        .unwrap();
    assert!(first
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("onramp-activity-ada-"));
    assert_ne!(first, second, "an earlier export is never overwritten");
    assert_eq!(std::fs::read_to_string(&first).unwrap(), csv);

    // A key connection cannot be re-authorized by signing in.
    let key = onramp
        .connect_customer_key(&c, customer_key(&w, 0))
        .await
        .unwrap();
    let e = onramp
        .begin_reauthorize(&key.id, Redirect::DeepLink)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    onramp.close().await;
}

/// The vendor made the exchange but its answer never arrived whole: Onramp reports it plainly,
/// changes nothing, and, with a vendor that offers a retry window for an unused answer, the next
/// refresh works.
#[tokio::test]
async fn a_lost_or_garbled_token_answer_loses_nothing() {
    let w = World::new().await;
    w.sandbox
        .set_reuse_window(OAuthVendor::Tesla, Duration::from_secs(5));
    let onramp = w.open().await;
    let c = customer(&onramp, "Ada").await;
    let id = sign_in(&onramp, &c, ProviderId::Tesla).await;
    for (how, code) in [
        (LostAnswer::Truncated, Code::VendorError),
        (LostAnswer::Reset, Code::Network),
    ] {
        let before = onramp.store().connection(&id).await.unwrap();
        w.sandbox.set_lost_token_answers(OAuthVendor::Tesla, how, 1);
        let e = onramp.refresh_connection(&id).await.unwrap_err();
        assert_eq!(e.code, code, "{how:?}: {}", e.message);
        assert!(e.message.contains("Tesla"), "{}", e.message);
        let after = onramp.store().connection(&id).await.unwrap();
        assert_eq!(after.state, ConnectionState::Active, "{how:?}");
        assert_eq!(
            after.access_expires_at, before.access_expires_at,
            "{how:?}: nothing changed"
        );
        // The access token Onramp holds still works, and the next refresh succeeds.
        onramp.check_connection(&id).await.unwrap();
        onramp.refresh_connection(&id).await.unwrap();
    }
    let conn = onramp.check_connection(&id).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Active);
    onramp.close().await;
}

/// Strictly single use, no retry window: a lost answer loses the grant, and Onramp says so in
/// plain words with its own event (the refresh was in flight when the answer was lost), never a
/// silent "needs sign-in".
#[tokio::test]
async fn a_lost_answer_of_a_strict_vendor_is_reported_as_a_lost_token() {
    let w = World::new().await;
    w.sandbox
        .set_reuse_window(OAuthVendor::Tesla, Duration::ZERO);
    let onramp = w.open().await;
    let c = customer(&onramp, "Ada").await;
    let id = sign_in(&onramp, &c, ProviderId::Tesla).await;
    w.sandbox
        .set_lost_token_answers(OAuthVendor::Tesla, LostAnswer::Reset, 1);
    let e = onramp.refresh_connection(&id).await.unwrap_err();
    assert_eq!(e.code, Code::Network, "{}", e.message);
    assert_eq!(
        onramp.store().grant(&id).await.unwrap().state,
        ConnectionState::Active,
        "nothing is decided on a lost answer"
    );
    // The next sweep presents the old token once, is refused, and names the customer.
    let report = onramp.refresh_sweep(Sweep::All).await.unwrap();
    assert_eq!(report.needs_reauth, vec![id.clone()], "{report:?}");
    assert_eq!(report.lost.len(), 1, "{report:?}");
    let lost = &report.lost[0];
    assert_eq!(
        (
            lost.connection_id.as_str(),
            lost.customer_id.as_str(),
            lost.customer_name.as_str(),
            lost.provider
        ),
        (id.as_str(), c.as_str(), "Ada", ProviderId::Tesla)
    );
    assert!(lost.message.contains("was interrupted"), "{}", lost.message);
    assert!(
        report.summary().contains("lost in an interrupted refresh"),
        "{}",
        report.summary()
    );
    let conn = onramp.store().grant(&id).await.unwrap();
    assert_eq!(
        conn.last_error.as_ref().map(|e| e.code),
        Some(Code::TokenLost),
        "the connection says how it was lost: {:?}",
        conn.last_error
    );
    // Another refresh meets a connection that needs the customer, no vendor call.
    let e = onramp.refresh_connection(&id).await.unwrap_err();
    assert!(e.code.needs_customer(), "{e:?}");
    assert!(
        matches!(
            conn.state,
            ConnectionState::NeedsReauth | ConnectionState::Revoked
        ),
        "{:?}",
        conn.state
    );
    let events = onramp.events(Some(&c)).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "token_lost" && e.connection_id.as_deref() == Some(id.as_str())),
        "{events:?}"
    );
    onramp.close().await;
}

/// A data folder made the earlier way (every secret its own keyring entry, no data key) moves
/// over at first start: each secret is read, sealed into its row, committed, and only then
/// removed from the keyring; the connections keep working with the same grants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_folder_of_the_earlier_layout_moves_into_the_store() {
    use onramp_core::store::connection_aad;
    let w = World::new().await;
    let onramp = w.open().await;
    let c = customer(&onramp, "Ada").await;
    let tesla = sign_in(&onramp, &c, ProviderId::Tesla).await;
    let sma = sign_in(&onramp, &c, ProviderId::Sma).await;
    // The grants as the vendor issued them.
    let mut grants = Vec::new();
    for id in [&tesla, &sma] {
        let row = onramp
            .store()
            .connection_secrets(id)
            .await
            .unwrap()
            .unwrap();
        let s = onramp
            .vault()
            .open(&connection_aad(id, row.generation), &row.sealed)
            .await
            .unwrap();
        grants.push((
            s.get("access_token").unwrap().expose().clone(),
            s.get("refresh_token").unwrap().expose().clone(),
        ));
    }
    let key_id = onramp.vault().current_key_id().unwrap();
    let store_id = onramp.store_id().to_string();
    onramp.close().await;
    drop(onramp);

    // Rewrite the folder the earlier way: secrets out of the rows and into keyring entries
    // (Tesla's pair in the one `tokens` entry, SMA's in two), no data key.
    let legacy = Vault::new(&store_id);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", w.db_path().display()))
        .await
        .unwrap();
    for (i, id) in [&tesla, &sma].into_iter().enumerate() {
        let r = format!("connection/legacy-{i}");
        sqlx::query(
            "UPDATE connections SET sealed = NULL, generation = 0, secret_ref = ? WHERE id = ?",
        )
        .bind(&r)
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
        let (access, refresh) = &grants[i];
        if i == 0 {
            let pair = serde_json::json!({"access_token": access, "refresh_token": refresh});
            legacy
                .legacy_put(&format!("{r}/tokens"), &Sensitive::new(pair.to_string()))
                .await
                .unwrap();
        } else {
            for (name, v) in [("access_token", access), ("refresh_token", refresh)] {
                legacy
                    .legacy_put(&format!("{r}/{name}"), &Sensitive::new(v.clone()))
                    .await
                    .unwrap();
            }
        }
    }
    sqlx::query("DELETE FROM meta WHERE key IN ('data_key', 'data_key_check')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    legacy.forget_key(&key_id).await.unwrap();

    let onramp = w.open().await;
    assert!(
        onramp.status().vault.available,
        "{:?}",
        onramp.status().vault
    );
    assert_ne!(
        onramp.vault().current_key_id().unwrap(),
        key_id,
        "a new data key"
    );
    for (i, id) in [&tesla, &sma].into_iter().enumerate() {
        let r = format!("connection/legacy-{i}");
        for name in ["tokens", "access_token", "refresh_token"] {
            assert!(
                legacy
                    .legacy_get(&format!("{r}/{name}"))
                    .await
                    .unwrap()
                    .is_none(),
                "{r}/{name} left the keyring"
            );
        }
        // The same grant: the access token works and the refresh presents the right refresh
        // token (the sandbox revokes a grant shown a wrong or used one).
        assert_eq!(
            onramp.check_connection(id).await.unwrap().state,
            ConnectionState::Active
        );
        onramp.refresh_connection(id).await.unwrap();
        assert_eq!(
            onramp.store().grant(id).await.unwrap().state,
            ConnectionState::Active
        );
    }
    onramp.close().await;
}

/// The health board reads only the connections that may need someone from the store; what it
/// shows must be what the rules say for every connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_board_shows_what_needs_someone_and_nothing_that_is_fine() {
    let w = World::new().await;
    let (onramp, clock) = open_with_clock(&w, Policy::default()).await;
    let c = customer(&onramp, "Ada").await;
    // Tesla's refresh token lives three months, Enphase's a week, SolarEdge's keys forever.
    let tesla = sign_in(&onramp, &c, ProviderId::Tesla).await;
    let enphase = sign_in(&onramp, &c, ProviderId::Enphase).await;
    let refused = sign_in(&onramp, &c, ProviderId::Tesla).await;
    onramp
        .store()
        .set_grant_refused(
            &onramp_core::store::GrantRefused {
                connection_id: &refused,
                state: ConnectionState::NeedsReauth,
                why: &onramp_core::model::ErrorInfo {
                    details: None,
                    code: Code::ReauthRequired,
                    message: "Tesla no longer accepts this grant.".into(),
                    hint: None,
                },
                kind: onramp_core::model::EventKind::NeedsReauth,
            },
            "test",
        )
        .await
        .unwrap();
    onramp
        .connect_customer_key(&c, customer_key(&w, 0))
        .await
        .unwrap();
    fn sorted(mut v: Vec<(String, Who)>) -> Vec<(String, Who)> {
        v.sort();
        v
    }
    let board = |items: Vec<onramp_core::model::HealthItem>| {
        sorted(
            items
                .into_iter()
                .map(|i| (i.connection_id, i.who))
                .collect(),
        )
    };
    assert_eq!(
        board(onramp.health().await.unwrap()),
        sorted(vec![
            (enphase.clone(), Who::Onramp),
            (refused.clone(), Who::Customer),
        ])
    );

    // Eight days with Onramp closed: Enphase's refresh token lapsed; Tesla's is still far off.
    clock.advance(Duration::from_secs(8 * 86_400));
    assert_eq!(
        board(onramp.health().await.unwrap()),
        sorted(vec![
            (enphase.clone(), Who::Customer),
            (refused.clone(), Who::Customer),
        ])
    );

    // Eighty days on, Tesla's comes within the board's two weeks.
    clock.advance(Duration::from_secs(80 * 86_400));
    let items = board(onramp.health().await.unwrap());
    assert!(items.contains(&(tesla.clone(), Who::Onramp)), "{items:?}");
    assert_eq!(items.len(), 3, "{items:?}");
    onramp.close().await;
}

/// The keep-alive's turn (what the desktop shell runs, and a hub replica will): nothing due
/// means no news and a wait until the next is due (at most a minute); a due connection is
/// refreshed and its news says so; a lost token is named in the news.
#[tokio::test]
async fn the_keep_alive_turn_refreshes_what_is_due_and_tells_what_changed() {
    use onramp_core::service::{KeepAlive, KeepAliveNews};
    let w = World::new().await;
    let (onramp, clock) = open_with_clock(&w, Policy::default()).await;
    let c = customer(&onramp, "Ada").await;
    sign_in(&onramp, &c, ProviderId::Tesla).await;
    let mut k = KeepAlive::default();
    let (news, wait) = k.turn(&onramp).await;
    assert!(news.is_empty(), "nothing due, nothing to tell: {news:?}");
    assert_eq!(wait, onramp_core::service::KEEP_ALIVE_MAX_SLEEP);
    let before = w.sandbox.token_requests(OAuthVendor::Tesla);

    // Tesla's refresh token lives 90 days; Onramp renews it two days ahead.
    clock.advance(Duration::from_secs(89 * 86_400));
    let (news, _) = k.turn(&onramp).await;
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Tesla), before + 1);
    match news.as_slice() {
        [KeepAliveNews::Connections(c)] => {
            assert!(c.summary.contains("1 refreshed"), "{c:?}");
            assert!(c.lost.is_empty());
        }
        other => panic!("one piece of news about the connections: {other:?}"),
    }
    onramp.close().await;
}

#[tokio::test]
async fn a_customer_who_withdraws_access_at_the_vendor_is_named_in_plain_words() {
    use onramp_core::service::{KeepAlive, KeepAliveNews};
    let w = World::new().await;
    let (onramp, clock) = open_with_clock(&w, Policy::default()).await;
    let c = customer(&onramp, "Ada Lovelace").await;
    let tesla = sign_in(&onramp, &c, ProviderId::Tesla).await;
    let mut k = KeepAlive::default();

    // The customer removes Onramp in their Tesla account's connected apps (a real page, a real
    // form), as a homeowner would.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = w.sandbox.oauth_url(OAuthVendor::Tesla);
    let page = http
        .get(format!("{base}/account/apps"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let grant = page
        .split("name=\"grant\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the page lists Onramp's grant")
        .to_string();
    let r = http
        .post(format!("{base}/account/apps/withdraw"))
        .form(&[("grant", grant.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    // The next keep-alive turn's refresh is refused: the news names the customer, in plain
    // words, with the one thing to do; the vendor's own answer is kept for Details.
    clock.advance(Duration::from_secs(89 * 86_400));
    let (news, _) = k.turn(&onramp).await;
    let refused = match news.as_slice() {
        [KeepAliveNews::Connections(c)] => c.refused.clone(),
        other => panic!("one piece of news about the connections: {other:?}"),
    };
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].customer_name, "Ada Lovelace");
    assert_eq!(refused[0].connection_id, tesla);
    let conn = onramp.store().connection(&tesla).await.unwrap();
    assert!(matches!(
        conn.state,
        ConnectionState::Revoked | ConnectionState::NeedsReauth
    ));
    let e = conn.last_error.expect("the connection says why");
    assert_eq!(e.code, Code::ReauthRequired);
    assert!(
        !e.message.contains("invalid_grant") && !e.message.contains("login_required"),
        "no OAuth codes in the installer's words: {}",
        e.message
    );
    assert!(
        e.hint.as_deref().unwrap_or("").contains("Re-authorize"),
        "{e:?}"
    );
    let details = e.details.expect("the vendor's answer under Details");
    assert!(
        details.contains("invalid_grant") || details.contains("login_required"),
        "{details}"
    );
    onramp.close().await;
}
