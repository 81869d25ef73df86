//! Keeping OAuth connections alive: what is due for a refresh, one refresh at a time per
//! connection, and a sweep that refreshes everything due with bounded concurrency, per-vendor
//! budgets and backoff.
//!
//! The rules, in the order a refresh meets them:
//! - a connection is due when its access token expires within [`Policy::access_lead`] or its
//!   refresh token within [`Policy::refresh_lead`] (an unused refresh token dies: Enphase's and
//!   SolarEdge's within a month);
//! - single flight: concurrent refreshes of one connection make one token request; everyone who
//!   asked before it finished gets its outcome (a second request would present a refresh token
//!   the vendor has already rotated, and Tesla revokes the grant for that);
//! - the new refresh token is written to the keyring before the new access token, and an answer
//!   without a refresh token keeps the old one (see `Onramp::refresh_connection`);
//! - 429 holds the whole vendor back for its `Retry-After`; 5xx and network failures back the
//!   connection off exponentially with jitter; `invalid_grant` moves it to needs-reauth.
//!
//! Time comes from an injected [`Clock`] so tests can move weeks ahead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use crate::error::{Code, Error, Result};
use crate::model::{
    Connection, ConnectionState, CredentialKind, ErrorInfo, HealthItem, LostGrant, ProviderId,
    Urgency, Who,
};

pub use crate::clock::{Clock, ManualClock, SystemClock};

/// How eagerly and how hard Onramp refreshes.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Refresh when the access token expires within this.
    pub access_lead: Duration,
    /// Refresh when the refresh token expires within this (it is replaced by the refresh).
    pub refresh_lead: Duration,
    /// Refreshes in flight at once, over all vendors.
    pub max_concurrency: usize,
    /// Refreshes in flight at once per vendor.
    pub per_vendor: usize,
    /// Rotations a sweep lets wait for their durable write, counted from the token request
    /// (the vendor may rotate as soon as it is sent) to the commit: when the disk falls behind,
    /// the sweep asks no vendor for more, so no rotated token waits long in memory (a crash
    /// in that window loses a strictly single-use token).
    pub max_uncommitted: usize,
    /// First backoff after a 5xx or network failure; doubled each time, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A 429 without `Retry-After` holds the vendor back this long.
    pub rate_limit_default: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            access_lead: Duration::from_secs(5 * 60),
            refresh_lead: Duration::from_secs(2 * 86_400),
            max_concurrency: 8,
            per_vendor: 4,
            max_uncommitted: 128,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            rate_limit_default: Duration::from_secs(60),
        }
    }
}

/// Why a connection is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// The access token expires soon (or has).
    Access,
    /// The refresh token would expire unused.
    RefreshToken,
}

fn parse(t: &Option<String>) -> Option<OffsetDateTime> {
    t.as_deref()
        .and_then(|s| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
}

/// The leads for one connection: the policy's, or a fraction of each token's life when that is
/// shorter (a five-minute token is refreshed a minute ahead, not five).
fn leads(conn: &Connection, policy: &Policy) -> (time::Duration, time::Duration) {
    let issued = parse(&conn.tokens_issued_at);
    let lead = |expires: &Option<String>, max: Duration, fraction: i32| {
        let max = time::Duration::try_from(max).unwrap_or(time::Duration::MAX);
        match (issued, parse(expires)) {
            (Some(i), Some(e)) if e > i => max.min((e - i) / fraction),
            _ => max,
        }
    };
    (
        lead(&conn.access_expires_at, policy.access_lead, 5),
        lead(&conn.refresh_expires_at, policy.refresh_lead, 4),
    )
}

/// Whether refreshing can help a connection: a signed-in one that still works (active,
/// expiring, error) and whose tokens expire.
pub fn refreshable(conn: &Connection) -> bool {
    conn.kind == CredentialKind::Oauth
        && matches!(
            conn.state,
            ConnectionState::Active | ConnectionState::Expiring | ConnectionState::Error
        )
        && (conn.access_expires_at.is_some() || conn.refresh_expires_at.is_some())
}

/// Whether a connection is due for a refresh at `now`, and why. Only [`refreshable`]
/// connections are ever due.
pub fn due(conn: &Connection, now: OffsetDateTime, policy: &Policy) -> Option<Due> {
    if !refreshable(conn) {
        return None;
    }
    let (access_lead, refresh_lead) = leads(conn, policy);
    if parse(&conn.access_expires_at).is_some_and(|e| e <= now + access_lead) {
        return Some(Due::Access);
    }
    if parse(&conn.refresh_expires_at).is_some_and(|e| e <= now + refresh_lead) {
        return Some(Due::RefreshToken);
    }
    None
}

/// The earliest moment a connection becomes due (for sleeping until then).
pub fn due_at(conn: &Connection, policy: &Policy) -> Option<OffsetDateTime> {
    let (access_lead, refresh_lead) = leads(conn, policy);
    let access = parse(&conn.access_expires_at).map(|e| e - access_lead);
    let refresh = parse(&conn.refresh_expires_at).map(|e| e - refresh_lead);
    match (access, refresh) {
        (Some(a), Some(r)) => Some(a.min(r)),
        (a, r) => a.or(r),
    }
}

/// What a refused grant makes of a connection. OAuth has one error for a grant that lapsed and
/// one that was withdrawn (`invalid_grant`); vendors tell them apart in `error_description`
/// ([`Error::grant_revoked`]). Either way the customer signs in again.
pub fn refused_state(e: &Error) -> ConnectionState {
    if e.grant_revoked() {
        ConnectionState::Revoked
    } else {
        ConnectionState::NeedsReauth
    }
}

/// A connection's state now: the stored one, unless time has moved it. A signed-in connection
/// whose refresh token is due for renewal and not yet renewed is `expiring` (Onramp renews it
/// if it runs in time); one whose refresh token already lapsed `needs_reauth`. Stored states
/// change on events (a refresh, a refusal, a check); these two follow from the clock, so they
/// are worked out when read rather than stored and left to go stale.
pub fn state_at(conn: &Connection, now: OffsetDateTime, policy: &Policy) -> ConnectionState {
    if conn.kind != CredentialKind::Oauth
        || !matches!(
            conn.state,
            ConnectionState::Active | ConnectionState::Expiring
        )
    {
        return conn.state;
    }
    match parse(&conn.refresh_expires_at) {
        Some(e) if e <= now => ConnectionState::NeedsReauth,
        Some(e) if e <= now + leads(conn, policy).1 => ConnectionState::Expiring,
        _ => ConnectionState::Active,
    }
}

/// How far ahead the health board lists refresh tokens that will lapse if Onramp does not run.
pub const HEALTH_HORIZON: Duration = Duration::from_secs(14 * 86_400);

fn in_words(d: time::Duration) -> String {
    let h = d.whole_hours();
    match h {
        h if h < 1 => "within the hour".into(),
        h if h < 48 => format!("in {h} hours"),
        _ => format!("in {} days", d.whole_days()),
    }
}

/// What a connection needs, if anything: the health board's row for it.
pub fn health(
    conn: &Connection,
    customer_name: &str,
    now: OffsetDateTime,
    policy: &Policy,
) -> Option<HealthItem> {
    let name = crate::providers::spec(conn.provider).name;
    let state = state_at(conn, now, policy);
    let oauth = conn.kind == CredentialKind::Oauth;
    let item = |urgency: Urgency, who: Who, title: String, action: String, due: Option<String>| {
        Some(HealthItem {
            connection_id: conn.id.clone(),
            customer_id: conn.customer_id.clone(),
            customer_name: customer_name.to_string(),
            provider: conn.provider,
            state,
            title,
            action,
            who,
            urgency,
            due_at: due,
            can_reauthorize: oauth && who == Who::Customer,
            in_settings: false,
        })
    };
    let sign_in_again = format!(
        "Re-authorize with the customer: they sign in at {name} and approve Onramp again; the connection and its sites are kept."
    );
    match conn.state {
        ConnectionState::NeedsReauth | ConnectionState::Revoked => {
            let why = conn
                .last_error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_else(|| format!("{name} no longer accepts Onramp's access."));
            return item(
                Urgency::Now,
                if oauth { Who::Customer } else { Who::Installer },
                why,
                if oauth {
                    sign_in_again
                } else {
                    "Ask the customer for a new key and connect again.".into()
                },
                None,
            );
        }
        ConnectionState::Error => {
            let e = conn.last_error.clone().unwrap_or(ErrorInfo {
                code: Code::Internal,
                message: format!("{name} failed the last check."),
                hint: None,
            });
            let who = match e.code {
                Code::ReauthRequired | Code::TokenLost if oauth => Who::Customer,
                // A signed-in connection that fails for want of a setting: the company's vendor
                // app (a refused client id or secret, a missing API key). Neither the customer
                // nor a key fixes it; whoever manages the company's app does.
                Code::NotConfigured if oauth => Who::Company,
                _ => Who::Installer,
            };
            return item(
                Urgency::Soon,
                who,
                e.message,
                e.hint
                    .unwrap_or_else(|| "Check the connection again.".into()),
                None,
            );
        }
        ConnectionState::Pending => {
            return item(
                Urgency::Waiting,
                Who::Customer,
                format!("Waiting for the customer to finish at {name}."),
                "Ask the customer to finish the sign-in, or start it again.".into(),
                None,
            )
        }
        ConnectionState::Active | ConnectionState::Expiring => {}
    }
    let expires = parse(&conn.refresh_expires_at)?;
    if expires <= now {
        return item(
            Urgency::Now,
            Who::Customer,
            format!("{name}'s refresh token lapsed while Onramp was not running."),
            sign_in_again,
            conn.refresh_expires_at.clone(),
        );
    }
    if expires - now > HEALTH_HORIZON {
        return None;
    }
    item(
        if expires - now < time::Duration::days(1) {
            Urgency::Soon
        } else {
            Urgency::Later
        },
        Who::Onramp,
        format!(
            "{name}'s refresh token expires {} unless Onramp runs.",
            in_words(expires - now)
        ),
        "Nothing to do while Onramp is open (it refreshes ahead of time); otherwise open it, or run `onramp refresh --due`, before then.".into(),
        conn.refresh_expires_at.clone(),
    )
}

/// One connection's refresh slot: who holds it and what the last refresh through it gave.
#[derive(Default)]
pub(crate) struct Slot {
    /// The ticket taken when the last refresh finished, and its outcome.
    pub(crate) last: Option<(u64, std::result::Result<(), Error>)>,
}

/// Everything the refresh machinery remembers between calls (in memory: a restart forgets
/// backoffs, and the catch-up sweep at start-up simply tries again).
pub struct Lifecycle {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: Policy,
    tickets: AtomicU64,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
    /// Per connection: failures in a row, and not before when.
    backoff: Mutex<HashMap<String, (u32, OffsetDateTime)>>,
    /// Per vendor: not before when (a 429's Retry-After).
    held: Mutex<HashMap<ProviderId, OffsetDateTime>>,
    vendor_slots: Mutex<HashMap<ProviderId, Arc<tokio::sync::Semaphore>>>,
}

impl Lifecycle {
    pub fn new(clock: Arc<dyn Clock>, policy: Policy) -> Self {
        Lifecycle {
            clock,
            policy,
            tickets: AtomicU64::new(1),
            slots: Mutex::default(),
            backoff: Mutex::default(),
            held: Mutex::default(),
            vendor_slots: Mutex::default(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// A number larger than every ticket taken before.
    pub(crate) fn ticket(&self) -> u64 {
        self.tickets.fetch_add(1, Ordering::SeqCst)
    }

    pub(crate) fn slot(&self, connection_id: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(connection_id.to_string())
            .or_default()
            .clone()
    }

    pub(crate) fn vendor_slot(&self, provider: ProviderId) -> Arc<tokio::sync::Semaphore> {
        self.vendor_slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(provider)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.policy.per_vendor.max(1))))
            .clone()
    }

    /// When the sweep may try this connection again, if it is held back.
    pub fn held_until(&self, conn: &Connection) -> Option<OffsetDateTime> {
        let now = self.now();
        let vendor = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&conn.provider)
            .copied()
            .filter(|t| *t > now);
        let own = self
            .backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&conn.id)
            .map(|(_, t)| *t)
            .filter(|t| *t > now);
        match (vendor, own) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Forgets what it learnt about connections (backoffs): the store's connections were
    /// replaced (a restored backup).
    pub(crate) fn forget_connections(&self) {
        self.backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Learns from a refresh's outcome: clears the backoff on success, holds the vendor back on
    /// a 429, backs the connection off on a transient failure.
    pub(crate) fn record(&self, conn: &Connection, outcome: &std::result::Result<(), Error>) {
        let now = self.now();
        let mut backoff = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(()) => {
                backoff.remove(&conn.id);
            }
            Err(e) if e.code == Code::RateLimited => {
                let wait = e
                    .retry_after
                    .map(Duration::from_secs)
                    .unwrap_or(self.policy.rate_limit_default);
                let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
                let until = now + wait;
                let t = held.entry(conn.provider).or_insert(until);
                *t = (*t).max(until);
            }
            Err(e)
                if matches!(e.code, Code::Network | Code::VendorError | Code::Storage)
                    || e.token_error
                        .is_some_and(crate::error::TokenError::app_refused) =>
            {
                // A refused app is retried as gently: it works again once the company fixes it
                // (saving the app forgets the backoff).
                let failures = backoff.get(&conn.id).map_or(0, |(n, _)| *n) + 1;
                let wait = backoff_delay(&self.policy, failures, rand::random::<f64>());
                backoff.insert(conn.id.clone(), (failures, now + wait));
            }
            Err(_) => {
                backoff.remove(&conn.id);
            }
        }
    }
}

/// Exponential backoff with "equal jitter": half the step fixed, half random (`unit` in 0..1),
/// so a fleet of connections that failed together does not retry together.
pub fn backoff_delay(policy: &Policy, failures: u32, unit: f64) -> Duration {
    let step = policy
        .backoff_base
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
        .min(policy.backoff_max);
    step / 2 + step.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
}

/// What a sweep did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SweepReport {
    /// OAuth connections looked at.
    pub checked: usize,
    /// Refreshed now.
    pub refreshed: Vec<String>,
    /// The vendor no longer accepts the grant: the customer must sign in again.
    pub needs_reauth: Vec<String>,
    /// Of those, the ones whose refresh token was lost in an interrupted refresh (each has its
    /// `token_lost` event), named for the installer.
    pub lost: Vec<LostGrant>,
    /// Failed for now (kept, retried later), with the reason.
    pub failed: Vec<(String, ErrorInfo)>,
    /// Due but held back (a vendor's Retry-After, a connection's backoff).
    pub held: usize,
    /// The company's installer accounts whose sign-in was renewed (Enphase's partner plan).
    pub accounts_renewed: Vec<ProviderId>,
    /// Installer accounts whose renewal failed, with the reason (a refusal: sign in again in
    /// Settings).
    pub accounts_failed: Vec<(ProviderId, ErrorInfo)>,
    /// When the next connection becomes due, if any (RFC 3339).
    pub next_due: Option<String>,
    /// For each rotation written now, how long it waited between the vendor's answer and its
    /// durable commit, in milliseconds: the window in which a crash loses a strictly
    /// single-use refresh token.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub durable_ms: Vec<f64>,
    /// The same instant, for a scheduler.
    #[serde(skip)]
    pub next_due_at: Option<time::OffsetDateTime>,
}

impl SweepReport {
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} refreshed", self.refreshed.len())];
        if !self.needs_reauth.is_empty() {
            parts.push(format!(
                "{} need the customer to sign in again",
                self.needs_reauth.len()
            ));
        }
        if !self.lost.is_empty() {
            parts.push(format!(
                "{} of them lost in an interrupted refresh",
                self.lost.len()
            ));
        }
        if !self.failed.is_empty() {
            parts.push(format!("{} failed for now", self.failed.len()));
        }
        if self.held > 0 {
            parts.push(format!("{} held back", self.held));
        }
        if !self.accounts_renewed.is_empty() {
            parts.push(format!(
                "{} installer account(s) renewed",
                self.accounts_renewed.len()
            ));
        }
        if !self.accounts_failed.is_empty() {
            parts.push(format!(
                "{} installer account(s) failed to renew",
                self.accounts_failed.len()
            ));
        }
        format!(
            "{} of {} signed-in connections: {}",
            self.refreshed.len() + self.needs_reauth.len() + self.failed.len(),
            self.checked,
            parts.join(", ")
        )
    }
}

pub(crate) fn result_of<T>(r: &Result<T>) -> std::result::Result<(), Error> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(e.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        // A refused grant: revoked when the vendor says so, otherwise lapsed.
        // (The vendor's answer, as `providers::oauth` reads it: the code and its description.)
        let refused = |m: &str| {
            let (_, d) = m.split_once('(').unwrap();
            Error {
                token_error: Some(crate::error::TokenError::InvalidGrant),
                vendor_description: Some(d.trim_end_matches(").").into()),
                ..Error::new(Code::ReauthRequired, m)
            }
        };
        assert_eq!(
            refused_state(&refused(
                "Tesla refused the authorization: invalid_grant (The refresh token was revoked)."
            )),
            ConnectionState::Revoked
        );
        assert_eq!(
            refused_state(&refused(
                "Enphase refused the authorization: invalid_grant (expired)."
            )),
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
}
