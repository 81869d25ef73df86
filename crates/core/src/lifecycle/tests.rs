//! Due, states and the health board by the clock; backoff and a vendor's 429.

use super::*;
use crate::error::Code;
use crate::model::{ErrorInfo, ProviderId, Urgency, Who};
use time::macros::datetime;

fn conn(access: Option<&str>, refresh: Option<&str>) -> Connection {
    Connection {
        id: "k1".into(),
        customer_id: "c1".into(),
        provider: ProviderId::Tesla,
        kind: CredentialKind::Oauth,
        state: ConnectionState::Active,
        credential_hint: None,
        last_error: None,
        created_at: String::new(),
        last_checked_at: None,
        sites: vec![],
        scopes: None,
        details: Default::default(),
        access_expires_at: access.map(Into::into),
        refresh_expires_at: refresh.map(Into::into),
        tokens_issued_at: None,
    }
}

#[test]
fn due_when_either_token_is_close_to_expiry() {
    let p = Policy::default();
    let now = datetime!(2026-06-01 12:00 UTC);
    let c = conn(Some("2026-06-01T12:10:00Z"), Some("2026-07-01T00:00:00Z"));
    assert_eq!(due(&c, now, &p), None, "10 minutes left, 5 minutes lead");
    assert_eq!(
        due(&c, now + Duration::from_secs(301), &p),
        Some(Due::Access)
    );
    let c = conn(None, Some("2026-06-02T18:00:00Z"));
    assert_eq!(
        due(&c, now, &p),
        Some(Due::RefreshToken),
        "a refresh token with 30 hours left is renewed (2 days lead)"
    );
    let c = conn(None, Some("2026-06-05T00:00:00Z"));
    assert_eq!(due(&c, now, &p), None, "4 days left");
    assert_eq!(due(&conn(None, None), now, &p), None, "nothing expires");
    assert_eq!(
        due_at(&conn(Some("2026-06-01T12:10:00Z"), None), &p),
        Some(datetime!(2026-06-01 12:05 UTC))
    );
}

#[test]
fn short_lived_tokens_are_refreshed_a_fraction_of_their_life_ahead() {
    let p = Policy::default();
    // SMA: a five-minute access token, a thirty-minute refresh token.
    let mut c = conn(Some("2026-06-01T12:05:00Z"), Some("2026-06-01T12:30:00Z"));
    c.tokens_issued_at = Some("2026-06-01T12:00:00Z".into());
    assert_eq!(due(&c, datetime!(2026-06-01 12:03 UTC), &p), None);
    assert_eq!(
        due(&c, datetime!(2026-06-01 12:04 UTC), &p),
        Some(Due::Access),
        "a fifth of its life ahead"
    );
    assert_eq!(due_at(&c, &p), Some(datetime!(2026-06-01 12:04 UTC)));
    // Enphase: a one-week refresh token, refreshed 1.75 days ahead rather than 2.
    let mut c = conn(None, Some("2026-06-08T12:00:00Z"));
    c.tokens_issued_at = Some("2026-06-01T12:00:00Z".into());
    assert_eq!(due_at(&c, &p), Some(datetime!(2026-06-06 18:00 UTC)));
}

#[test]
fn the_health_board_puts_what_needs_the_customer_first() {
    let now = datetime!(2026-06-01 12:00 UTC);
    let fine = conn(Some("2026-06-01T20:00:00Z"), Some("2026-08-30T00:00:00Z"));
    assert_eq!(
        health(&fine, "Ada", now, &Policy::default()),
        None,
        "three months left"
    );

    let soon = conn(None, Some("2026-06-03T12:00:00Z"));
    let h = health(&soon, "Ada", now, &Policy::default()).unwrap();
    assert_eq!((h.urgency, h.who), (Urgency::Later, Who::Onramp));
    assert_eq!(h.state, ConnectionState::Expiring);
    assert_eq!(
        h.title,
        "Tesla's refresh token expires in 2 days unless Onramp runs."
    );
    assert!(!h.can_reauthorize);

    let lapsed = conn(None, Some("2026-05-30T00:00:00Z"));
    let h = health(&lapsed, "Ada", now, &Policy::default()).unwrap();
    assert_eq!((h.urgency, h.who), (Urgency::Now, Who::Customer));
    assert_eq!(h.state, ConnectionState::NeedsReauth);
    assert!(h.can_reauthorize);

    let mut revoked = conn(None, None);
    revoked.state = ConnectionState::NeedsReauth;
    revoked.last_error = Some(ErrorInfo {
        details: None,
        code: Code::ReauthRequired,
        message: "Tesla no longer accepts this sign-in.".into(),
        hint: None,
    });
    let h = health(&revoked, "Ada", now, &Policy::default()).unwrap();
    assert_eq!(h.title, "Tesla no longer accepts this sign-in.");
    assert!(h.can_reauthorize && h.urgency == Urgency::Now && h.customer_name == "Ada");

    // A sign-in whose refresh the vendor refused for the company's app: the company acts.
    let mut app = conn(Some("2026-06-01T11:00:00Z"), None);
    app.state = ConnectionState::Error;
    app.last_error = Some(ErrorInfo {
        details: None,
        code: Code::NotConfigured,
        message:
            "This connection cannot renew its sign-in: Tesla refused your company's Tesla app."
                .into(),
        hint: Some("Fix it in Settings → Vendor apps.".into()),
    });
    let h = health(&app, "Ada", now, &Policy::default()).unwrap();
    assert_eq!(
        (h.urgency, h.who, h.can_reauthorize),
        (Urgency::Soon, Who::Company, false)
    );
    assert_eq!(h.action, "Fix it in Settings → Vendor apps.");

    let mut key = conn(None, None);
    key.kind = CredentialKind::CustomerKey;
    key.state = ConnectionState::Error;
    let h = health(&key, "Ada", now, &Policy::default()).unwrap();
    assert_eq!(
        (h.urgency, h.who, h.can_reauthorize),
        (Urgency::Soon, Who::Installer, false)
    );
}

#[test]
fn states_follow_the_clock_and_the_vendor() {
    let p = Policy::default();
    let t0 = datetime!(2026-06-01 12:00 UTC);
    // A Tesla sign-in: a 90-day refresh token, renewed two days ahead.
    let mut c = conn(Some("2026-06-01T20:00:00Z"), Some("2026-08-30T12:00:00Z"));
    c.tokens_issued_at = Some("2026-06-01T12:00:00Z".into());
    let at = |d: i64| t0 + time::Duration::days(d);
    assert_eq!(state_at(&c, at(0), &p), ConnectionState::Active);
    assert_eq!(state_at(&c, at(87), &p), ConnectionState::Active);
    assert_eq!(
        state_at(&c, at(88) + time::Duration::hours(1), &p),
        ConnectionState::Expiring
    );
    assert_eq!(
        state_at(&c, at(91), &p),
        ConnectionState::NeedsReauth,
        "lapsed"
    );
    // Renewed (a refresh moved the expiry): active again.
    c.refresh_expires_at = Some("2026-11-28T12:00:00Z".into());
    assert_eq!(state_at(&c, at(91), &p), ConnectionState::Active);
    // Event-made states stand whatever the clock says.
    for stored in [
        ConnectionState::Error,
        ConnectionState::NeedsReauth,
        ConnectionState::Revoked,
        ConnectionState::Pending,
    ] {
        c.state = stored;
        assert_eq!(state_at(&c, at(500), &p), stored);
    }
    // Keys have no clock.
    let mut key = conn(None, Some("2026-06-02T00:00:00Z"));
    key.kind = CredentialKind::CustomerKey;
    assert_eq!(state_at(&key, at(30), &p), ConnectionState::Active);
    // A refused grant: revoked when the vendor's refusal table reads it so, otherwise lapsed.
    // (The vendor's answer as `providers::oauth` reads it: its code and description, through
    // the vendor's table.)
    use crate::providers::{enphase, refusal, tesla};
    let refused = |table: &[refusal::Refusal], error: &str, d: &str| Error {
        token_error: refusal::read(table, error, Some(d)),
        vendor_description: Some(d.into()),
        ..Error::new(Code::ReauthRequired, format!("refused: {error} ({d})."))
    };
    assert_eq!(
        refused_state(&refused(
            tesla::OAUTH.refusals,
            "login_required",
            "The refresh token has already been used"
        )),
        ConnectionState::Revoked
    );
    assert_eq!(
        refused_state(&refused(
            refusal::RFC6749,
            "invalid_grant",
            "The refresh token was revoked"
        )),
        ConnectionState::Revoked
    );
    assert_eq!(
        refused_state(&refused(
            enphase::OAUTH.refusals,
            "invalid_grant",
            "expired"
        )),
        ConnectionState::NeedsReauth
    );
    // Onramp's own words decide nothing.
    assert_eq!(
        refused_state(&Error::new(Code::ReauthRequired, "the grant was revoked")),
        ConnectionState::NeedsReauth
    );
}

#[test]
fn broken_and_key_connections_are_never_due() {
    let p = Policy::default();
    let now = datetime!(2026-06-01 12:00 UTC);
    let mut c = conn(Some("2026-06-01T11:00:00Z"), None);
    assert_eq!(due(&c, now, &p), Some(Due::Access));
    for state in [
        ConnectionState::NeedsReauth,
        ConnectionState::Revoked,
        ConnectionState::Pending,
    ] {
        c.state = state;
        assert_eq!(due(&c, now, &p), None, "{state:?}");
    }
    c.state = ConnectionState::Active;
    c.kind = CredentialKind::CustomerKey;
    assert_eq!(due(&c, now, &p), None);
}

#[test]
fn backoff_doubles_with_jitter_and_is_capped() {
    let p = Policy::default();
    assert_eq!(backoff_delay(&p, 1, 0.0), Duration::from_secs(15));
    assert_eq!(backoff_delay(&p, 1, 1.0), Duration::from_secs(30));
    assert_eq!(backoff_delay(&p, 3, 0.0), Duration::from_secs(60));
    assert_eq!(backoff_delay(&p, 3, 1.0), Duration::from_secs(120));
    assert_eq!(backoff_delay(&p, 40, 1.0), p.backoff_max);
}

#[test]
fn a_429_holds_the_vendor_back_and_a_5xx_the_connection() {
    let clock = ManualClock::new(datetime!(2026-06-01 12:00 UTC));
    let l = Lifecycle::new(clock.clone(), Policy::default());
    let a = conn(None, None);
    let mut b = conn(None, None);
    b.id = "k2".into();
    l.record(&a, &Err(Error::rate_limited("Tesla", Some(120))));
    assert_eq!(
        l.held_until(&b),
        Some(datetime!(2026-06-01 12:02 UTC)),
        "every Tesla connection waits for the Retry-After"
    );
    clock.advance(Duration::from_secs(121));
    assert_eq!(l.held_until(&b), None);
    l.record(&a, &Err(Error::new(Code::VendorError, "503")));
    let until = l.held_until(&a).expect("backed off");
    assert!(until > l.now() && until <= l.now() + Duration::from_secs(30));
    assert_eq!(l.held_until(&b), None, "only the failing connection");
    l.record(&a, &Ok(()));
    assert_eq!(l.held_until(&a), None);
}
