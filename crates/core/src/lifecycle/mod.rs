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
//!
//! This file holds the policy and what is due when; `health.rs` the health board's row for a
//! connection; `flight.rs` the [`Lifecycle`] (single flight, per-vendor slots, backoff);
//! `sweep.rs` what a sweep reports.

use std::time::Duration;

use time::OffsetDateTime;

use crate::error::Error;
use crate::model::{Connection, ConnectionState, CredentialKind};

mod flight;
mod health;
mod sweep;
#[cfg(test)]
mod tests;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use flight::{backoff_delay, Lifecycle};
pub use health::{health, Finding, Subject, HEALTH_HORIZON};
pub(crate) use sweep::result_of;
pub use sweep::SweepReport;

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

pub(super) fn parse(t: &Option<String>) -> Option<OffsetDateTime> {
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

/// What a refused grant makes of a connection: `revoked` where the vendor's refusal table read
/// the answer as a withdrawn grant (`TokenError::GrantRevoked`: `providers::refusal`),
/// `needs_reauth` otherwise. Either way the customer signs in again.
pub fn refused_state(e: &Error) -> ConnectionState {
    match e.token_error {
        Some(crate::error::TokenError::GrantRevoked) => ConnectionState::Revoked,
        _ => ConnectionState::NeedsReauth,
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
