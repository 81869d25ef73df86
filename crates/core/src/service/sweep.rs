//! The sweep: every signed-in connection that is due (or all of them) refreshed at once, as the
//! app's keep-alive and `onramp refresh` run it. Leases are taken a chunk at a time, token
//! requests run within the policy's bounds, and the store writes the rotations in batches; each
//! connection's refresh itself is [`super::refresh`]'s.

use futures_util::StreamExt;

use super::Onramp;
use crate::error::{Code, Error, Result};
use crate::lifecycle::{self, SweepReport};
use crate::model::*;
use crate::store::{rfc3339, Leased};

/// Leases are taken for this many connections of a sweep at once (one short transaction).
const LEASE_CHUNK: usize = 64;

/// Which connections a sweep refreshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    /// Those due (tokens close to expiry), unless held back.
    Due,
    /// Every signed-in connection that still works, now (`onramp refresh --all`).
    All,
}

impl Onramp {
    /// Names a connection whose token was lost, for the installer (the sweep's report): its
    /// vendor and customer as the sweep read them, the customer's name from the store.
    async fn lost_grant(
        &self,
        connection_id: String,
        provider: ProviderId,
        customer_id: &str,
        message: String,
    ) -> LostGrant {
        let customer_name = match self.store.customer(customer_id).await {
            Ok(c) => c.name,
            Err(e) => {
                tracing::warn!(error = %e, "a lost grant's customer could not be read");
                String::new()
            }
        };
        LostGrant {
            connection_id,
            customer_id: customer_id.to_string(),
            customer_name,
            provider,
            message,
        }
    }

    /// Takes the leases of a sweep's chunk of connections in one transaction.
    async fn lease_chunk(&self, chunk: Vec<Connection>) -> Vec<Item> {
        let ids: Vec<String> = chunk.iter().map(|c| c.id.clone()).collect();
        let mut leases: std::collections::HashMap<String, Leased> =
            match self.store.take_leases(&ids).await {
                Ok(l) => l
                    .into_iter()
                    .map(|l| (l.connection_id.clone(), l))
                    .collect(),
                Err(e) => return vec![Item::Failed(e)],
            };
        let busy = chunk.len() - leases.len();
        let mut out: Vec<Item> = chunk
            .into_iter()
            .filter_map(|c| leases.remove(&c.id).map(|l| Item::Leased(Box::new((c, l)))))
            .collect();
        if busy > 0 {
            out.push(Item::Busy(busy));
        }
        out
    }

    /// Refreshes the signed-in connections `which` asks for: at most
    /// [`lifecycle::Policy::max_concurrency`] at once and [`lifecycle::Policy::per_vendor`] per
    /// vendor, skipping vendors and connections that are held back. A locked keyring stops the
    /// sweep at once (every refresh would fail the same way).
    pub async fn refresh_sweep(&self, which: Sweep) -> Result<SweepReport> {
        let policy = self.lifecycle.policy().clone();
        let now = self.now();
        // Without the data key no token can be opened or sealed: ask no vendor anything.
        self.vault.require_ready()?;
        // The company's installer accounts that are sign-ins (Enphase's partner plan) first.
        let (accounts_renewed, accounts_failed, mut next) =
            self.renew_installer_accounts(which == Sweep::All).await;
        let all = self.store.oauth_grants().await?;
        let mut report = SweepReport {
            checked: all.len(),
            accounts_renewed,
            accounts_failed,
            ..Default::default()
        };
        let mut todo = Vec::new();
        for c in all {
            let wanted = match which {
                Sweep::Due => lifecycle::due(&c, now, &policy).is_some(),
                Sweep::All => lifecycle::refreshable(&c),
            };
            if !wanted {
                if let Some(t) = lifecycle::due_at(&c, &policy) {
                    if matches!(c.state, ConnectionState::Active | ConnectionState::Expiring) {
                        next = Some(next.map_or(t, |n| n.min(t)));
                    }
                }
                continue;
            }
            if which == Sweep::Due && self.lifecycle.held_until(&c).is_some() {
                report.held += 1;
                continue;
            }
            todo.push(c);
        }
        // Whose each connection is, to name those whose token is lost in the report.
        let known: std::collections::HashMap<String, (ProviderId, String)> = todo
            .iter()
            .map(|c| (c.id.clone(), (c.provider, c.customer_id.clone())))
            .collect();
        // Leases are taken a chunk at a time, the next chunk's while this one's token requests
        // run (so the sweep never waits for them); those another holder has (a second Onramp
        // refreshing them now) are left to it. Each refresh waits for its vendor's budget
        // inside the overall bound, and for a place among the rotations not yet durable: it
        // takes one before its token request and gives it back once its write is committed,
        // so when the disk falls behind no vendor is asked for more and no rotated token waits
        // long in memory. A refresh frees its place in the overall bound once the vendor
        // answered; the store writes the outcomes in batches meanwhile, and a refresh counts as
        // done when its write is durable.
        let mut writes = futures_util::stream::FuturesUnordered::new();
        let mut locked = None;
        let mut lost = Vec::new();
        let uncommitted =
            std::sync::Arc::new(tokio::sync::Semaphore::new(policy.max_uncommitted.max(1)));
        // Leases taken whose refresh has not started: given back if the sweep stops.
        let waiting = std::sync::Mutex::new(std::collections::HashMap::<String, Leased>::new());
        {
            let (waiting, uncommitted) = (&waiting, &uncommitted);
            let (feed, fed) = tokio::sync::mpsc::channel::<Item>(LEASE_CHUNK);
            let producer = async move {
                for chunk in todo.chunks(LEASE_CHUNK) {
                    let items = self.lease_chunk(chunk.to_vec()).await;
                    let failed = items.iter().any(|i| matches!(i, Item::Failed(_)));
                    {
                        let mut w = waiting.lock().unwrap_or_else(|p| p.into_inner());
                        for i in &items {
                            if let Item::Leased(x) = i {
                                w.insert(x.0.id.clone(), x.1.clone());
                            }
                        }
                    }
                    for i in items {
                        if feed.send(i).await.is_err() {
                            return;
                        }
                    }
                    if failed {
                        return;
                    }
                }
            };
            let mut producer = std::pin::pin!(futures_util::FutureExt::fuse(producer));
            let items = futures_util::stream::unfold(fed, |mut fed| async move {
                fed.recv().await.map(|i| (i, fed))
            });
            let mut running = std::pin::pin!(items
                .map(|item| async move {
                    let (c, lease) = match item {
                        Item::Leased(x) => *x,
                        Item::Busy(n) => return Step::Busy(n),
                        Item::Failed(e) => return Step::Failed(e),
                    };
                    let Ok(place) = uncommitted.clone().acquire_owned().await else {
                        return Step::Held;
                    };
                    let vendor = self.lifecycle.vendor_slot(c.provider);
                    let _turn = vendor.acquire().await;
                    waiting
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&c.id);
                    // A 429 met by another refresh of this vendor while this one waited.
                    if which == Sweep::Due && self.lifecycle.held_until(&c).is_some() {
                        let _ = self
                            .store
                            .release_lease(&lease, lease.in_doubt_since.is_none())
                            .await;
                        return Step::Held;
                    }
                    let id = c.id.clone();
                    let r = self.refresh_deferred(&id, Some((c, lease))).await;
                    Step::Done(id, r, place)
                })
                .buffer_unordered(policy.max_concurrency.max(1)));
            loop {
                tokio::select! {
                    () = &mut producer => {}
                    step = running.next() => match step {
                        None => break,
                        Some(step @ (Step::Held | Step::Busy(_))) => report.held += step.count(),
                        Some(Step::Failed(e)) => {
                            locked = Some(e);
                            break;
                        }
                        Some(Step::Done(id, Ok(written), place)) => writes.push(async move {
                            let outcome = written.await;
                            drop(place);
                            (id, outcome)
                        }),
                        Some(Step::Done(id, Err(e), _)) => {
                            if let Some(e) = tally(&mut report, &mut lost, id, Err(e)) {
                                locked = Some(e);
                                break;
                            }
                        }
                    },
                    Some((id, outcome)) = writes.next() => {
                        tally(&mut report, &mut lost, id, outcome);
                    }
                }
            }
        }
        // A stop leaves leases taken for refreshes that never started: they go back as taken.
        let unstarted: Vec<Leased> = waiting
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_values()
            .collect();
        for lease in unstarted {
            let _ = self
                .store
                .release_lease(&lease, lease.in_doubt_since.is_none())
                .await;
        }
        // What was refreshed before a stop is still written and counted.
        while let Some((id, outcome)) = writes.next().await {
            tally(&mut report, &mut lost, id, outcome);
        }
        for (id, message, was_lost) in lost {
            if let Some((provider, customer_id)) = known.get(&id) {
                let named = self.lost_grant(id, *provider, customer_id, message).await;
                if was_lost {
                    report.lost.push(named);
                } else {
                    report.refused.push(named);
                }
            }
        }
        if let Some(e) = locked {
            return Err(e);
        }
        report.next_due = next.map(rfc3339);
        report.next_due_at = next;
        if !report.refreshed.is_empty() || !report.needs_reauth.is_empty() {
            tracing::info!(summary = %report.summary(), "refresh sweep");
        }
        Ok(report)
    }
}

/// A sweep's connection after its chunk's leases were taken.
enum Item {
    Leased(Box<(Connection, Leased)>),
    /// This many of the chunk are leased by another holder.
    Busy(usize),
    Failed(Error),
}

/// What one connection of a sweep came to before its write.
enum Step<F> {
    /// Held back (a vendor's Retry-After met while it waited).
    Held,
    /// This many connections are being refreshed by another holder.
    Busy(usize),
    /// The leases could not be taken (the store failed): the sweep stops.
    Failed(Error),
    /// Refreshed (or not), holding its place among the rotations not yet durable.
    Done(String, Result<F>, tokio::sync::OwnedSemaphorePermit),
}

impl<F> Step<F> {
    fn count(&self) -> usize {
        match self {
            Step::Busy(n) => *n,
            _ => 1,
        }
    }
}

/// Counts a refresh's outcome in the sweep's report; a locked keyring comes back (it stops the
/// sweep: every refresh would fail the same way).
///
/// A connection that needs its customer (a token lost in an interrupted refresh, a grant the
/// vendor refused) is counted so and kept in `named` (the connection, what happened, whether
/// it was lost) for the sweep to name.
fn tally(
    report: &mut SweepReport,
    lost: &mut Vec<(String, String, bool)>,
    id: String,
    outcome: Result<Option<std::time::Duration>>,
) -> Option<Error> {
    match outcome {
        Ok(durable) => {
            if let Some(d) = durable {
                report.durable_ms.push(d.as_secs_f64() * 1000.0);
            }
            report.refreshed.push(id)
        }
        Err(e) if e.code == Code::TokenLost => {
            lost.push((id.clone(), e.message, true));
            report.needs_reauth.push(id);
        }
        Err(e) if e.code == Code::ReauthRequired => {
            lost.push((id.clone(), e.message, false));
            report.needs_reauth.push(id);
        }
        Err(e) if e.code == Code::Busy => report.held += 1,
        Err(e) => {
            report.failed.push((id, e.info()));
            return (e.code == Code::KeychainUnavailable).then_some(e);
        }
    }
    None
}
