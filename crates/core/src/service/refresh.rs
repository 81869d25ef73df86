//! Refreshing signed-in connections: one connection now, or every connection that is due (the
//! sweep the app runs in the background and at start-up, and `onramp refresh`). The rules are
//! in [`crate::lifecycle`]; who may spend a refresh token is in [`crate::store`]'s custody:
//! a refresh holds the connection's lease (across processes), its rotated tokens are written
//! fenced by the generation it started from, and that write is durable before the refresh
//! counts as done.

use futures_util::future::Either;

use super::tokens::Grant;
use super::Onramp;
use crate::error::{Code, Error, Result, TokenError};
use crate::lifecycle;
use crate::model::*;
use crate::providers::{self, oauth as vendor_oauth};
use crate::store::{
    connection_aad, rfc3339, GrantRefused, Leased, RefreshRecord, SealedRow, LEASE,
};

/// How often a refresh waiting for another holder's lease looks again.
const LEASE_POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// What waiting for a connection's lease ended in.
enum Turn {
    /// This process holds it now.
    Leased(Leased),
    /// Another holder refreshed the connection meanwhile: its outcome stands for this call.
    DoneElsewhere,
}

impl Onramp {
    /// Refreshes an OAuth connection's tokens. Concurrent calls for one connection, in this
    /// process or any other on the data folder, make one token request: whoever asked before it
    /// finished gets its outcome. An answer without a refresh token keeps the old one; a
    /// refused refresh (`invalid_grant`) marks the connection as needing the customer again.
    pub async fn refresh_connection(&self, connection_id: &str) -> Result<Connection> {
        self.refresh_deferred(connection_id, None).await?.await?;
        self.store.connection(connection_id).await
    }

    /// Waits until this process holds the connection's lease, or another holder has finished a
    /// refresh of it (its generation moved on). The in-process slot is not held meanwhile, so a
    /// sweep of this process that holds the lease can finish.
    async fn wait_for_lease(&self, conn: &Connection, asked: u64) -> Result<Turn> {
        let start = self.store.generation(&conn.id).await?;
        loop {
            if let Some((done, _)) = &self.lifecycle.slot(&conn.id).lock().await.last {
                if *done > asked {
                    return Ok(Turn::DoneElsewhere);
                }
            }
            let held = self.store.lease_of(&conn.id).await?;
            let free = match &held {
                None => true,
                Some((holder, until)) => {
                    *until < now_ms()
                        || (holder != self.store.holder_id() && self.store.holder_is_dead(holder))
                }
            };
            if free {
                if let Some(lease) = self
                    .store
                    .take_leases(std::slice::from_ref(&conn.id))
                    .await?
                    .pop()
                {
                    if lease.generation > start {
                        // Someone refreshed it between our look and our taking: done.
                        self.store
                            .release_lease(&lease, lease.in_doubt_since.is_none())
                            .await?;
                        return Ok(Turn::DoneElsewhere);
                    }
                    return Ok(Turn::Leased(lease));
                }
                // Not taken: it cannot be refreshed (it needs the customer) or someone was quicker.
                let now = self.store.grant(&conn.id).await?;
                if matches!(
                    now.state,
                    ConnectionState::NeedsReauth | ConnectionState::Revoked
                ) {
                    return Err(Error::new(
                        Code::ReauthRequired,
                        format!(
                            "{} no longer accepts this connection.",
                            providers::spec(conn.provider).name
                        ),
                    )
                    .hint("Ask the customer to sign in again (Re-authorize)."));
                }
            }
            if self.store.generation(&conn.id).await? > start {
                return Ok(Turn::DoneElsewhere);
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    /// Refreshes a connection and returns the write of the outcome to the store, still going:
    /// the sweep moves on to the next token request while the store writes refreshes in
    /// batches. Until the write is committed the connection's slot stays taken, so another
    /// refresh of it waits and then finds this outcome.
    ///
    /// `loaded` is the connection and its lease if the caller took it (the sweep takes leases
    /// for many connections at once).
    pub(super) async fn refresh_deferred(
        &self,
        connection_id: &str,
        loaded: Option<(Connection, Leased)>,
    ) -> Result<impl std::future::Future<Output = Result<Option<std::time::Duration>>> + Send + '_>
    {
        let asked = self.lifecycle.ticket();
        let (conn, lease) = match loaded {
            Some(l) => l,
            None => {
                let conn = self.store.grant(connection_id).await?;
                if conn.kind != CredentialKind::Oauth {
                    return Err(Error::validation(format!(
                        "This {} connection has no tokens to refresh.",
                        providers::spec(conn.provider).name
                    )));
                }
                match self.wait_for_lease(&conn, asked).await? {
                    Turn::Leased(lease) => (conn, lease),
                    Turn::DoneElsewhere => {
                        return Ok(Either::Left(std::future::ready(Ok(None))));
                    }
                }
            }
        };
        let mut slot = self.lifecycle.slot(connection_id).lock_owned().await;
        if let Some((done, outcome)) = &slot.last {
            if *done > asked {
                // A refresh finished while this call waited: it stands for this one too.
                let done = outcome.clone();
                self.store
                    .release_lease(&lease, lease.in_doubt_since.is_none())
                    .await?;
                return done.map(|()| Either::Left(std::future::ready(Ok(None))));
            }
        }
        match self.refresh_once(&conn, lease).await {
            Ok(written) => Ok(Either::Right(async move {
                let result = written.await;
                let outcome = lifecycle::result_of(&result);
                self.lifecycle.record(&conn, &outcome);
                slot.last = Some((self.lifecycle.ticket(), outcome));
                result.map(Some)
            })),
            Err(e) => {
                let outcome = Err(e.clone());
                self.lifecycle.record(&conn, &outcome);
                slot.last = Some((self.lifecycle.ticket(), outcome));
                Err(e)
            }
        }
    }

    /// One token request under a lease this process holds. Returns the store's write of the
    /// rotation, queued (it ends with how long the rotation waited for its durable commit); on
    /// any failure the lease is given back (with the in-flight mark kept when the vendor may
    /// have acted on a request whose answer was lost).
    async fn refresh_once(
        &self,
        conn: &Connection,
        lease: Leased,
    ) -> Result<impl std::future::Future<Output = Result<std::time::Duration>> + Send + 'static>
    {
        let name = providers::spec(conn.provider).name;
        // A lease taken long ago (a sweep's chunk waited behind a vendor's limit) may not
        // outlast the token request: take it afresh, or leave the connection to its new holder.
        let lease = if lease.taken.elapsed() + self.http_timeout + std::time::Duration::from_secs(5)
            > LEASE
        {
            self.store
                .release_lease(&lease, lease.in_doubt_since.is_none())
                .await?;
            self.store
                .take_leases(std::slice::from_ref(&conn.id))
                .await?
                .pop()
                .filter(|l| l.generation == lease.generation)
                .ok_or_else(|| crate::store::lease_lost(conn.provider))?
        } else {
            lease
        };
        let prepared = async {
            let (spec, _) = self.oauth_spec_pub(conn.provider)?;
            let ep = self.token_endpoints(conn)?;
            let sealed = lease.sealed.clone().ok_or_else(|| {
                Error::validation(format!("This {name} connection has no tokens to refresh."))
            })?;
            let grant = self
                .open_grant(
                    &conn.id,
                    &SealedRow {
                        sealed,
                        generation: lease.generation,
                    },
                )
                .await?;
            let refresh = grant.refresh.clone().ok_or_else(|| {
                Error::validation(format!("This {name} connection has no refresh token."))
                    .hint("Its access token does not expire, or the customer must sign in again.")
            })?;
            let app = self.app_credentials(conn.provider).await?;
            Ok::<_, Error>((spec, ep, refresh, app))
        };
        let (spec, ep, refresh, app) = match prepared.await {
            Ok(p) => p,
            Err(e) => {
                // Nothing was sent: the lease goes back as it was.
                self.store
                    .release_lease(&lease, lease.in_doubt_since.is_none())
                    .await?;
                return Err(e);
            }
        };
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
        let answered = std::time::Instant::now();
        let tokens = match result {
            Ok(t) => t,
            Err(e) if e.code == Code::ReauthRequired => {
                let state = lifecycle::refused_state(&e);
                let (why, kind) = match &lease.in_doubt_since {
                    Some(since) => (lost_in_crash(name, since, &e), EventKind::TokenLost),
                    None if state == ConnectionState::Revoked => {
                        (grant_refused(name, state, e.clone()), EventKind::Revoked)
                    }
                    None => (
                        grant_refused(name, state, e.clone()),
                        EventKind::NeedsReauth,
                    ),
                };
                self.store
                    .set_grant_refused(
                        &GrantRefused {
                            connection_id: &conn.id,
                            state,
                            why: &why.info(),
                            kind,
                        },
                        self.actor,
                    )
                    .await?;
                return Err(why);
            }
            Err(e) if e.token_error.is_some_and(TokenError::app_refused) => {
                // The vendor refused the company's app (`invalid_client`, `unauthorized_client`),
                // not the grant: every refresh fails until the company fixes its app, so the
                // connection says it cannot renew, and why. The vendor did nothing with the
                // refresh token: the attempt is settled.
                let why = Error {
                    message: format!("This connection cannot renew its sign-in: {}", e.message),
                    ..e.clone()
                };
                self.store
                    .record_refresh_refused(&conn.id, &why.info(), self.actor)
                    .await?;
                self.store
                    .release_lease(&lease, lease.in_doubt_since.is_none())
                    .await?;
                return Err(why);
            }
            Err(e) => {
                // A refusal before the vendor did anything (429, a 4xx) settles the attempt; a
                // lost or unreadable answer may hide a rotation, so the mark stays.
                let settled = !matches!(e.code, Code::Network | Code::VendorError);
                self.store
                    .release_lease(&lease, settled && lease.in_doubt_since.is_none())
                    .await?;
                return Err(e);
            }
        };
        let mut learned = ConnectionDetails::default();
        if let Err(e) = grant_uris(&tokens, &ep.token_url, &mut learned) {
            learned = ConnectionDetails::default();
            tracing::warn!(error = %e, "a token answer's grant addresses were refused");
        }
        let at = |secs: Option<i64>| secs.map(|s| rfc3339(now + time::Duration::seconds(s)));
        // A new refresh token lives its full life again; without one, the old expiry stands.
        let refresh_expires = tokens
            .refresh_expires_in
            .or(tokens.refresh_token.as_ref().and(spec.refresh_lifetime));
        let secrets = Grant::secrets(
            &tokens.access_token,
            Some(tokens.refresh_token.as_ref().unwrap_or(&refresh)),
        );
        let sealed = self
            .vault
            .seal(&connection_aad(&conn.id, lease.generation + 1), &secrets)?;
        Ok(self.store.queue_refresh(RefreshRecord {
            connection_id: conn.id.clone(),
            generation: lease.generation,
            lease_id: lease.lease_id.clone(),
            sealed,
            answered,
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
    ///
    /// Without the data folder's key (a reset keyring, a folder from another laptop) nothing
    /// can be said about any connection: that is the answer, never an empty, all-well board.
    pub async fn health(&self) -> Result<Vec<HealthItem>> {
        if matches!(
            self.vault.status().state,
            VaultState::KeyMissing | VaultState::KeyMismatch
        ) {
            self.vault.require_ready()?;
        }
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
        items.extend(self.account_health().await?);
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
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The vendor refused a connection's refresh token: the customer withdrew the access, or the
/// sign-in lapsed; in the installer's words, the vendor's answer kept for Details.
fn grant_refused(vendor: &str, state: ConnectionState, refused: Error) -> Error {
    let message = if state == ConnectionState::Revoked {
        format!("{vendor} says the customer withdrew Onramp's access.")
    } else {
        format!("{vendor} no longer accepts this connection's sign-in (it lapsed or was replaced).")
    };
    let mut e = Error::new(Code::ReauthRequired, message)
        .hint(format!("Re-authorize with the customer: they sign in at {vendor} and approve Onramp again; the connection and its sites are kept."))
        .caused_by(refused.clone());
    e.token_error = refused.token_error;
    e
}

/// The vendor refused a refresh token that a refresh interrupted at `since` had presented: the
/// vendor rotated it and the new one was lost with that refresh's answer.
fn lost_in_crash(vendor: &str, since: &str, refused: &Error) -> Error {
    let when = time::OffsetDateTime::parse(since, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| since.to_string());
    let mut e = Error::new(
        Code::TokenLost,
        format!(
            "This {vendor} connection's sign-in was lost: a refresh at {when} was interrupted (Onramp was stopped, or the vendor's answer did not arrive) after {vendor} had already replaced the token."
        ),
    )
    .hint("Ask the customer to sign in again (Re-authorize); the connection and its sites are kept.")
    .caused_by(refused.clone());
    e.retry_after = refused.retry_after;
    e
}

/// ESPI's `resourceURI` and `authorizationURI` from a token answer (UtilityAPI), kept in the
/// connection's details once checked to be on the token endpoint's origin.
pub(crate) fn grant_uris(
    tokens: &vendor_oauth::Tokens,
    token_url: &str,
    details: &mut ConnectionDetails,
) -> Result<()> {
    for (v, field) in [
        (&tokens.resource_uri, &mut details.resource_uri),
        (&tokens.authorization_uri, &mut details.authorization_uri),
    ] {
        if let Some(v) = v {
            providers::utilityapi::same_origin(v, token_url)?;
            *field = Some(v.clone());
        }
    }
    Ok(())
}
