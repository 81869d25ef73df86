//! Refreshing signed-in connections: one connection now (single flight), or every connection
//! that is due (the sweep the app runs in the background and at start-up, and `onramp refresh`).
//! The rules are in [`crate::lifecycle`].

use futures_util::future::Either;
use futures_util::StreamExt;

use super::tokens::Grant;
use super::Onramp;
use crate::error::{Code, Error, Result};
use crate::lifecycle::{self, SweepReport};
use crate::model::*;
use crate::providers::{self, oauth as vendor_oauth};
use crate::store::{rfc3339, RefreshRecord};

/// Which connections a sweep refreshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    /// Those due (tokens close to expiry), unless held back.
    Due,
    /// Every signed-in connection that still works, now (`onramp refresh --all`).
    All,
}

impl Onramp {
    /// Refreshes an OAuth connection's tokens. Concurrent calls for one connection make one
    /// token request: whoever asked before it finished gets its outcome. The new access and
    /// refresh token replace the old pair in one keyring write; an answer without a refresh
    /// token keeps the old one; a refused refresh (`invalid_grant`) marks the connection as
    /// needing the customer again.
    pub async fn refresh_connection(&self, connection_id: &str) -> Result<Connection> {
        self.refresh_deferred(connection_id, None).await?.await?;
        self.store.connection(connection_id).await
    }

    /// Refreshes a connection (single flight) and returns the write of the outcome to the
    /// store, still going: the sweep moves on to the next token request while the store
    /// writes refreshes in batches. Until the write is committed the connection's slot stays
    /// taken, so another refresh of it waits and then finds this outcome.
    ///
    /// `loaded` is the connection and its secrets' place if the caller has read them (the
    /// sweep reads every connection at once); a refresh uses only what a connection does not
    /// change (vendor, customer, where its secrets live) and reads its tokens fresh.
    async fn refresh_deferred(
        &self,
        connection_id: &str,
        loaded: Option<(Connection, Option<String>)>,
    ) -> Result<impl std::future::Future<Output = Result<()>> + Send + '_> {
        let asked = self.lifecycle.ticket();
        let mut slot = self.lifecycle.slot(connection_id).lock_owned().await;
        if let Some((done, outcome)) = &slot.last {
            if *done > asked {
                // A refresh finished while this call waited: it stands for this one too.
                let done = outcome.clone();
                return done.map(|()| Either::Left(std::future::ready(Ok(()))));
            }
        }
        let (conn, secret_ref) = match loaded {
            Some(grant) => grant,
            None => self.store.grant(connection_id).await?,
        };
        match self.refresh_once(&conn, secret_ref).await {
            Ok(written) => Ok(Either::Right(async move {
                let result = written.await;
                let outcome = lifecycle::result_of(&result);
                self.lifecycle.record(&conn, &outcome);
                slot.last = Some((self.lifecycle.ticket(), outcome));
                result
            })),
            Err(e) => {
                let outcome = Err(e.clone());
                self.lifecycle.record(&conn, &outcome);
                slot.last = Some((self.lifecycle.ticket(), outcome));
                Err(e)
            }
        }
    }

    /// Returns the store's write of the outcome, queued.
    async fn refresh_once(
        &self,
        conn: &Connection,
        secret_ref: Option<String>,
    ) -> Result<impl std::future::Future<Output = Result<()>> + Send + 'static> {
        let name = providers::spec(conn.provider).name;
        let (spec, _) = self.oauth_spec_pub(conn.provider)?;
        let ep = self.token_endpoints(conn)?;
        let secret_ref = secret_ref.ok_or_else(|| {
            Error::validation(format!("This {name} connection has no tokens to refresh."))
        })?;
        let grant = self.load_grant(&secret_ref).await?;
        let refresh = grant.refresh.clone().ok_or_else(|| {
            Error::validation(format!("This {name} connection has no refresh token."))
                .hint("Its access token does not expire, or the customer must sign in again.")
        })?;
        let app = self.app_credentials(conn.provider).await?;
        let now = self.now();
        let result = vendor_oauth::TokenEndpoint {
            client: &self.http,
            vendor: name,
            spec,
            endpoints: &ep,
            app: &app,
        }
        .refresh(&refresh)
        .await;
        let tokens = match result {
            Ok(t) => t,
            Err(e) if e.code == Code::ReauthRequired => {
                self.store
                    .set_grant_refused(
                        &conn.id,
                        lifecycle::refused_state(&e),
                        &e.info(),
                        self.actor,
                    )
                    .await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.replace_tokens(&secret_ref, &tokens, Some(grant))
            .await?;
        let mut learned = std::collections::BTreeMap::new();
        grant_uris(&tokens, &ep.token_url, &mut learned)?;
        let at = |secs: Option<i64>| secs.map(|s| rfc3339(now + time::Duration::seconds(s)));
        // A new refresh token lives its full life again; without one, the old expiry stands.
        let refresh_expires = tokens
            .refresh_expires_in
            .or(tokens.refresh_token.as_ref().and(spec.refresh_lifetime));
        Ok(self.store.queue_refresh(RefreshRecord {
            connection_id: conn.id.clone(),
            customer_id: conn.customer_id.clone(),
            provider: conn.provider,
            scopes: tokens.scope.clone(),
            access_expires_at: at(tokens.expires_in),
            refresh_expires_at: at(refresh_expires),
            tokens_issued_at: rfc3339(now),
            learned,
            summary: format!("{name} tokens refreshed"),
            actor: self.actor.to_string(),
        }))
    }

    /// The health board: every connection that needs someone (the customer to sign in again, the
    /// installer to fix a key) or will (a refresh token that lapses unless Onramp runs), most
    /// urgent first, then soonest.
    pub async fn health(&self) -> Result<Vec<HealthItem>> {
        let now = self.now();
        let policy = self.lifecycle.policy();
        // A day past the board's horizon: the board itself draws the line.
        let horizon = now + lifecycle::HEALTH_HORIZON + time::Duration::days(1);
        let mut items: Vec<HealthItem> = self
            .store
            .connections_for_health(horizon)
            .await?
            .iter()
            .filter_map(|(c, name)| lifecycle::health(c, name, now, policy))
            .collect();
        items.sort_by(|a, b| {
            (a.urgency, a.due_at.is_none(), &a.due_at, &a.customer_name).cmp(&(
                b.urgency,
                b.due_at.is_none(),
                &b.due_at,
                &b.customer_name,
            ))
        });
        Ok(items)
    }

    /// Replaces a connection's tokens in the keyring after a rotation or a new grant: the new
    /// pair in one write. An answer without a refresh token keeps the old one. `before` is the
    /// pair as read, if the caller has it.
    pub(crate) async fn replace_tokens(
        &self,
        secret_ref: &str,
        tokens: &vendor_oauth::Tokens,
        before: Option<Grant>,
    ) -> Result<()> {
        let before = match before {
            Some(b) => b,
            None => self.load_grant(secret_ref).await?,
        };
        let refresh = tokens.refresh_token.as_ref().or(before.refresh.as_ref());
        self.save_grant(secret_ref, &tokens.access_token, refresh, Some(&before))
            .await
    }

    /// Refreshes the signed-in connections `which` asks for: at most
    /// [`lifecycle::Policy::max_concurrency`] at once and [`lifecycle::Policy::per_vendor`] per
    /// vendor, skipping vendors and connections that are held back. A locked keyring stops the
    /// sweep at once (every refresh would fail the same way).
    pub async fn refresh_sweep(&self, which: Sweep) -> Result<SweepReport> {
        let policy = self.lifecycle.policy().clone();
        let now = self.now();
        let all = self.store.oauth_grants().await?;
        let mut report = SweepReport {
            checked: all.len(),
            ..Default::default()
        };
        let mut todo = Vec::new();
        let mut next: Option<time::OffsetDateTime> = None;
        for (c, secret_ref) in all {
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
            todo.push((c, secret_ref));
        }
        // Each refresh waits for its vendor's budget inside the stream's overall bound. A
        // refresh frees its place once the vault holds the new tokens; the store writes the
        // outcomes in batches meanwhile, and a refresh counts as done when its write is.
        let mut running = futures_util::stream::iter(todo)
            .map(|(c, secret_ref)| async move {
                let vendor = self.lifecycle.vendor_slot(c.provider);
                let _turn = vendor.acquire().await;
                // A 429 met by another refresh of this vendor while this one waited.
                if which == Sweep::Due && self.lifecycle.held_until(&c).is_some() {
                    return (c.id, None);
                }
                let id = c.id.clone();
                let r = self.refresh_deferred(&id, Some((c, secret_ref))).await;
                (id, Some(r))
            })
            .buffer_unordered(policy.max_concurrency.max(1));
        let mut writes = futures_util::stream::FuturesUnordered::new();
        let mut locked = None;
        loop {
            tokio::select! {
                Some((id, outcome)) = running.next() => match outcome {
                    None => report.held += 1,
                    Some(Ok(written)) => writes.push(async move { (id, written.await) }),
                    Some(Err(e)) => {
                        if let Some(e) = tally(&mut report, id, Err(e)) {
                            locked = Some(e);
                            break;
                        }
                    }
                },
                Some((id, outcome)) = writes.next() => {
                    tally(&mut report, id, outcome);
                }
                else => break,
            }
        }
        drop(running);
        // What was refreshed before a stop is still written and counted.
        while let Some((id, outcome)) = writes.next().await {
            tally(&mut report, id, outcome);
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

/// Counts a refresh's outcome in the sweep's report; a locked keyring comes back (it stops the
/// sweep: every refresh would fail the same way).
fn tally(report: &mut SweepReport, id: String, outcome: Result<()>) -> Option<Error> {
    match outcome {
        Ok(()) => report.refreshed.push(id),
        Err(e) if e.code == Code::ReauthRequired => report.needs_reauth.push(id),
        Err(e) => {
            report.failed.push((id, e.info()));
            return (e.code == Code::KeychainUnavailable).then_some(e);
        }
    }
    None
}

/// ESPI's `resourceURI` and `authorizationURI` from a token answer (UtilityAPI), kept in the
/// connection's details once checked to be on the token endpoint's origin.
pub(crate) fn grant_uris(
    tokens: &vendor_oauth::Tokens,
    token_url: &str,
    details: &mut std::collections::BTreeMap<String, String>,
) -> Result<()> {
    for (k, v) in [
        ("resource_uri", &tokens.resource_uri),
        ("authorization_uri", &tokens.authorization_uri),
    ] {
        if let Some(v) = v {
            providers::utilityapi::same_origin(v, token_url)?;
            details.insert(k.into(), v.clone());
        }
    }
    Ok(())
}
