//! What the refresh machinery remembers between calls: one refresh in flight per connection
//! (its slot and tickets), per-vendor slots, a vendor held back by a 429, a connection backed off
//! after a transient failure.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use super::{Clock, Policy};
use crate::error::{Code, Error};
use crate::model::{Connection, ProviderId};

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
