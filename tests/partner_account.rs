//! Enphase's partner plan as an installer account: the partner application signs in as the
//! installer company's Enlighten user (the password grant), the account lists the company's
//! systems, and Onramp keeps the day-long sign-in alive like a customer's grant (one holder,
//! the rotated refresh token durable before use, a refusal shown in Settings and on the health
//! board). Against the sandbox's Enphase, with a real SQLite file and the real keyring.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use onramp_core::lifecycle::{Clock, ManualClock, Policy};
use onramp_core::model::{
    ConnectAccountSites, ConnectionState, CredentialKind, ProviderId, Urgency, Who,
};
use onramp_core::service::Sweep;
use onramp_core::{Code, Onramp};
use onramp_sandbox::{EnphasePartner, LostAnswer, OAuthVendor};

async fn with_clock(w: &World) -> (Onramp, Arc<ManualClock>) {
    let mut onramp = w.open().await;
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    onramp.set_lifecycle(clock.clone(), Policy::default());
    (onramp, clock)
}

/// What most tests start from: a world, an Onramp on a clock of its own, and the partner
/// application signed in as the installer company's Enlighten user.
struct SignedIn {
    w: World,
    onramp: Onramp,
    clock: Arc<ManualClock>,
    p: EnphasePartner,
}

async fn signed_in() -> SignedIn {
    let w = World::new().await;
    let (onramp, clock) = with_clock(&w).await;
    let p = w.sandbox.enphase_partner();
    onramp
        .save_installer_account(enphase_partner_input(&p, &p.password))
        .await
        .unwrap();
    SignedIn {
        w,
        onramp,
        clock,
        p,
    }
}

async fn account(onramp: &Onramp) -> onramp_core::model::InstallerAccount {
    onramp
        .installer_accounts()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.provider == ProviderId::Enphase)
        .unwrap()
}

fn hours_until(at: &Option<String>, now: time::OffsetDateTime) -> i64 {
    let t = time::OffsetDateTime::parse(
        at.as_deref().expect("an expiry"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    (t - now).whole_hours()
}

#[tokio::test]
async fn wrong_sign_ins_say_what_is_wrong_and_save_nothing() {
    let w = World::new().await;
    let onramp = w.open().await;
    let p = w.sandbox.enphase_partner();
    let requests = w.sandbox.token_requests(OAuthVendor::Enphase);

    let e = onramp
        .save_installer_account(enphase_partner_input(&p, "not-the-password"))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::VendorRejected, "{e:?}");
    assert!(e.message.contains("Enlighten user or password"), "{e:?}");

    let mut wrong_secret = enphase_partner_input(&p, &p.password);
    wrong_secret.client_secret = Some("0000000000000000".into());
    let e = onramp
        .save_installer_account(wrong_secret)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::NotConfigured, "{e:?}");

    // The app customers sign in to is not a partner application: Enphase refuses it the
    // password grant.
    let customer_app = w.sandbox.oauth_client(OAuthVendor::Enphase);
    let mut not_partner = enphase_partner_input(&p, &p.password);
    not_partner.client_id = Some(customer_app.client_id.clone());
    not_partner.client_secret = Some(customer_app.client_secret.clone());
    let e = onramp
        .save_installer_account(not_partner)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::NotConfigured, "{e:?}");
    assert!(e.message.contains("partner-plan application"), "{e:?}");

    let mut wrong_key = enphase_partner_input(&p, &p.password);
    wrong_key.api_key = Some("ffffffffffffffffffffffffffffffff".into());
    let e = onramp.save_installer_account(wrong_key).await.unwrap_err();
    assert_eq!(e.code, Code::VendorRejected, "{e:?}");
    assert!(e.message.contains("API key"), "{e:?}");

    let mut empty = enphase_partner_input(&p, "");
    empty.password = None;
    let e = onramp.save_installer_account(empty).await.unwrap_err();
    assert_eq!(e.code, Code::Validation, "{e:?}");

    assert_eq!(
        w.sandbox.token_requests(OAuthVendor::Enphase) - requests,
        4,
        "the empty password never reached Enphase"
    );
    assert!(!account(&onramp).await.configured, "nothing was saved");
    assert_eq!(row_count(&onramp, "provider_apps").await, 0);
}

#[tokio::test]
async fn signs_in_lists_systems_and_keeps_no_password() {
    let w = World::new().await;
    let (onramp, clock) = with_clock(&w).await;
    let id = customer(&onramp, "Fay Moreau").await;
    let p = w.sandbox.enphase_partner();
    let saved = onramp
        .save_installer_account(enphase_partner_input(&p, &p.password))
        .await
        .unwrap();
    assert!(saved.configured && saved.renews && saved.needs_sign_in.is_none());
    assert!(saved.credential_hint.unwrap().contains(&p.username));
    // Enphase's access token lasts about a day, its refresh token a week or more.
    assert_eq!(hours_until(&saved.access_expires_at, clock.now()), 23);
    assert!(hours_until(&saved.refresh_expires_at, clock.now()) >= 7 * 24 - 1);

    let found = onramp
        .search_account_sites(ProviderId::Enphase, "")
        .await
        .unwrap();
    assert_eq!(found.total, 30, "every partner system, across pages");
    let pick = found.sites[3].external_id.clone();
    let conn = onramp
        .connect_account_sites(ConnectAccountSites {
            customer_id: id.clone(),
            provider: ProviderId::Enphase,
            site_ids: vec![pick.clone()],
        })
        .await
        .unwrap();
    assert_eq!(conn.kind, CredentialKind::InstallerAccount);
    assert_eq!(conn.sites[0].external_id, pick);
    assert_eq!(
        onramp.check_connection(&conn.id).await.unwrap().state,
        ConnectionState::Active
    );
    // The customer's own sign-in stays available beside it.
    let info = onramp.providers().await.unwrap();
    let enphase = info.iter().find(|p| p.id == ProviderId::Enphase).unwrap();
    assert!(enphase.installer_account_configured && enphase.sign_in.is_some());
    // The health board shows when the sign-in lapses if Onramp does not run, and says Onramp
    // renews it.
    let health = onramp.health().await.unwrap();
    let row = health
        .iter()
        .find(|h| h.in_settings)
        .expect("the account on the board");
    assert_eq!((row.who, row.provider), (Who::Onramp, ProviderId::Enphase));
    onramp.close().await;

    let bytes = store_bytes(w.dir.path());
    assert!(
        !contains(&bytes, &p.password),
        "the Enlighten password is in SQLite"
    );
    assert!(
        !contains(&bytes, &p.client_secret) && !contains(&bytes, &p.api_key),
        "the partner application's secret or key is in SQLite"
    );
    for secret in w.sandbox.issued_secrets() {
        assert!(!contains(&bytes, &secret), "an issued token is in SQLite");
    }
}

#[tokio::test]
async fn the_day_long_sign_in_is_renewed_before_it_lapses_and_on_use() {
    let SignedIn {
        w, onramp, clock, ..
    } = signed_in().await;
    let before = w.sandbox.refresh_stats(OAuthVendor::Enphase);

    // Not due yet: a sweep leaves it.
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert!(
        r.accounts_renewed.is_empty() && r.accounts_failed.is_empty(),
        "{r:?}"
    );
    assert!(
        r.next_due_at.is_some(),
        "the account's renewal is scheduled"
    );

    // 22 hours on: inside the renewal lead, the sweep renews it once.
    clock.advance(Duration::from_secs(22 * 3600));
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.accounts_renewed, vec![ProviderId::Enphase], "{r:?}");
    let after = w.sandbox.refresh_stats(OAuthVendor::Enphase);
    assert_eq!(after.rotations - before.rotations, 1);
    assert_eq!(
        hours_until(&account(&onramp).await.access_expires_at, clock.now()),
        23
    );
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert!(
        r.accounts_renewed.is_empty(),
        "renewed once, not twice: {r:?}"
    );

    // Onramp did not run for two days: the first use (checking a customer's system) renews it
    // before asking Enphase.
    let customer_id = customer(&onramp, "Gil Park").await;
    let list = onramp
        .search_account_sites(ProviderId::Enphase, "")
        .await
        .unwrap();
    let conn = onramp
        .connect_account_sites(ConnectAccountSites {
            customer_id,
            provider: ProviderId::Enphase,
            site_ids: vec![list.sites[0].external_id.clone()],
        })
        .await
        .unwrap();
    clock.advance(Duration::from_secs(48 * 3600));
    w.sandbox.expire_access_tokens(OAuthVendor::Enphase);
    let checked = onramp.check_connection(&conn.id).await.unwrap();
    assert_eq!(checked.state, ConnectionState::Active, "{checked:?}");
    let last = w.sandbox.refresh_stats(OAuthVendor::Enphase);
    assert_eq!(last.rotations - after.rotations, 1, "renewed on use, once");
    assert_eq!(last.replays, 0, "no refresh token was presented twice");
}

#[tokio::test]
async fn two_onramps_renew_the_account_once() {
    let SignedIn {
        w,
        onramp: a,
        clock: clock_a,
        ..
    } = signed_in().await;
    let (b, clock_b) = with_clock(&w).await;
    // Each answer takes a while, so the two overlap.
    w.sandbox
        .set_token_latency(OAuthVendor::Enphase, Duration::from_millis(300));
    let before = w.sandbox.refresh_stats(OAuthVendor::Enphase);
    for round in 0..5 {
        clock_a.advance(Duration::from_secs(22 * 3600));
        clock_b.advance(Duration::from_secs(22 * 3600));
        let (ra, rb) = tokio::join!(a.refresh_sweep(Sweep::Due), b.refresh_sweep(Sweep::Due));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(
            ra.accounts_renewed.len() + rb.accounts_renewed.len(),
            1,
            "round {round}: exactly one renewal ({ra:?} / {rb:?})"
        );
        assert!(ra.accounts_failed.is_empty() && rb.accounts_failed.is_empty());
    }
    let after = w.sandbox.refresh_stats(OAuthVendor::Enphase);
    assert_eq!(
        after.requests - before.requests,
        5,
        "one token request per rotation"
    );
    assert_eq!((after.replays, after.unknown), (0, 0));
    assert!(account(&a).await.needs_sign_in.is_none());
}

#[tokio::test]
async fn a_refused_renewal_asks_the_installer_in_settings_and_a_new_sign_in_mends_it() {
    let SignedIn {
        w,
        onramp,
        clock,
        p,
    } = signed_in().await;
    // Enphase refuses the refresh token (the Enlighten password was changed, say).
    w.sandbox.set_token_fault(OAuthVendor::Enphase, 400, 1);
    clock.advance(Duration::from_secs(23 * 3600));
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.accounts_failed.len(), 1, "{r:?}");
    assert_eq!(r.accounts_failed[0].1.code, Code::ReauthRequired);
    let a = account(&onramp).await;
    let why = a
        .needs_sign_in
        .expect("the account says it needs a sign-in");
    assert!(
        why.hint.unwrap().contains("Settings"),
        "the installer is sent to Settings"
    );
    let health = onramp.health().await.unwrap();
    let row = health.iter().find(|h| h.in_settings).expect("on the board");
    assert_eq!(
        (row.who, row.urgency, row.can_reauthorize),
        (Who::Installer, Urgency::Now, false)
    );
    assert!(row.customer_id.is_empty());
    let e = onramp
        .search_account_sites(ProviderId::Enphase, "")
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::ReauthRequired, "{e:?}");
    // A later sweep asks Enphase nothing more for it.
    let n = w.sandbox.token_requests(OAuthVendor::Enphase);
    onramp.refresh_sweep(Sweep::All).await.unwrap();
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Enphase), n);

    onramp
        .save_installer_account(enphase_partner_input(&p, &p.password))
        .await
        .unwrap();
    let a = account(&onramp).await;
    assert!(a.needs_sign_in.is_none());
    assert!(onramp
        .health()
        .await
        .unwrap()
        .iter()
        .all(|h| h.who == Who::Onramp || !h.in_settings));
    assert_eq!(
        onramp
            .search_account_sites(ProviderId::Enphase, "")
            .await
            .unwrap()
            .total,
        30
    );
}

#[tokio::test]
async fn a_renewal_whose_answer_was_lost_is_told_apart_from_a_refusal() {
    let SignedIn {
        w, onramp, clock, ..
    } = signed_in().await;
    // Enphase rotates the token, and its answer breaks on the way: the new token is lost.
    // Enphase is strict (single use), as the sandbox is by default.
    w.sandbox
        .set_lost_token_answers(OAuthVendor::Enphase, LostAnswer::Reset, 1);
    clock.advance(Duration::from_secs(23 * 3600));
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.accounts_failed.len(), 1, "{r:?}");
    assert_eq!(r.accounts_failed[0].1.code, Code::Network);
    assert!(
        account(&onramp).await.needs_sign_in.is_none(),
        "not yet known lost"
    );
    // Failed for now: the next sweeps leave it for a few minutes.
    let n = w.sandbox.token_requests(OAuthVendor::Enphase);
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert!(
        r.accounts_failed.is_empty() && r.accounts_renewed.is_empty(),
        "{r:?}"
    );
    assert_eq!(
        w.sandbox.token_requests(OAuthVendor::Enphase),
        n,
        "held back"
    );
    clock.advance(Duration::from_secs(6 * 60));
    // The next renewal presents the old token once more: Enphase refuses it, and the account
    // says its sign-in was lost in an interrupted renewal, not just "refused".
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.accounts_failed[0].1.code, Code::TokenLost, "{r:?}");
    let why = account(&onramp).await.needs_sign_in.unwrap();
    assert!(why.message.contains("interrupted"), "{why:?}");
}

#[tokio::test]
async fn with_a_retry_window_a_lost_answer_costs_nothing() {
    let SignedIn {
        w, onramp, clock, ..
    } = signed_in().await;
    w.sandbox
        .set_reuse_window(OAuthVendor::Enphase, Duration::from_secs(5));
    w.sandbox
        .set_lost_token_answers(OAuthVendor::Enphase, LostAnswer::Truncated, 1);
    clock.advance(Duration::from_secs(23 * 3600));
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.accounts_failed.len(), 1, "{r:?}");
    clock.advance(Duration::from_secs(6 * 60));
    let r = onramp.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.accounts_renewed, vec![ProviderId::Enphase], "{r:?}");
    assert_eq!(
        w.sandbox
            .refresh_stats(OAuthVendor::Enphase)
            .retries_accepted,
        1
    );
}

#[tokio::test]
async fn an_account_saved_the_earlier_way_must_sign_in_again() {
    let SignedIn { w, onramp, p, .. } = signed_in().await;
    onramp.close().await;
    // Make the folder as an Onramp before partner sign-ins left it: the account row without
    // the columns of migration 7 (a pasted partner token in its sealed secrets).
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", w.db_path().display());
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        for drop in [
            "ALTER TABLE provider_apps DROP COLUMN generation",
            "ALTER TABLE provider_apps DROP COLUMN lease_holder",
            "ALTER TABLE provider_apps DROP COLUMN lease_id",
            "ALTER TABLE provider_apps DROP COLUMN lease_until",
            "ALTER TABLE provider_apps DROP COLUMN refresh_started_at",
            "ALTER TABLE provider_apps DROP COLUMN access_expires_at",
            "ALTER TABLE provider_apps DROP COLUMN refresh_expires_at",
            "ALTER TABLE provider_apps DROP COLUMN account_state",
            "ALTER TABLE provider_apps DROP COLUMN last_error_code",
            "ALTER TABLE provider_apps DROP COLUMN last_error_message",
            "ALTER TABLE provider_apps DROP COLUMN last_error_hint",
        ] {
            sqlx::query(drop).execute(&mut db).await.unwrap();
        }
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 7")
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
    }
    let onramp = w.open().await;
    let a = account(&onramp).await;
    let why = a.needs_sign_in.expect("an old account must sign in again");
    assert!(why.message.contains("pasted"), "{why:?}");
    let health = onramp.health().await.unwrap();
    assert!(health
        .iter()
        .any(|h| h.in_settings && h.who == Who::Installer));
    let e = onramp
        .search_account_sites(ProviderId::Enphase, "")
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::ReauthRequired);
    onramp
        .save_installer_account(enphase_partner_input(&p, &p.password))
        .await
        .unwrap();
    assert!(account(&onramp).await.needs_sign_in.is_none());
}

#[tokio::test]
async fn a_backup_brings_the_signed_in_account_to_a_new_laptop() {
    let SignedIn {
        w,
        onramp: a,
        clock,
        ..
    } = signed_in().await;
    // Renewed once, so its secrets are sealed at a later generation than a fresh row's.
    clock.advance(Duration::from_secs(23 * 3600));
    let r = a.refresh_sweep(Sweep::Due).await.unwrap();
    assert_eq!(r.accounts_renewed, vec![ProviderId::Enphase]);
    let file = w.dir.path().join("office.onrampbackup");
    let passphrase = onramp_core::vault::Sensitive::new("maple ladder seven orbit".to_string());
    a.create_backup(&file, &passphrase).await.unwrap();
    a.close().await;

    let new_laptop = tempfile::tempdir().unwrap();
    let b = w.open_bare(new_laptop.path()).await;
    b.restore_backup(&file, &passphrase, false).await.unwrap();
    let restored = account(&b).await;
    assert!(restored.configured && restored.renews && restored.needs_sign_in.is_none());
    assert_eq!(restored.access_expires_at, account_after(&w).await);
    // It lists the systems, and renews with the refresh token it carried.
    assert_eq!(
        b.search_account_sites(ProviderId::Enphase, "")
            .await
            .unwrap()
            .total,
        30
    );
    let n = w.sandbox.refresh_stats(OAuthVendor::Enphase).rotations;
    b.refresh_sweep(Sweep::All).await.unwrap();
    assert_eq!(
        w.sandbox.refresh_stats(OAuthVendor::Enphase).rotations,
        n + 1
    );
    assert!(account(&b).await.needs_sign_in.is_none());
}

/// The account's access expiry as the first laptop left it.
async fn account_after(w: &World) -> Option<String> {
    let a = w.open().await;
    let e = account(&a).await.access_expires_at;
    a.close().await;
    e
}
