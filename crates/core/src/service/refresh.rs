//! Refreshing signed-in connections: one connection now (single flight), or every connection
//! that is due (the sweep the app runs in the background and at start-up, and `onramp refresh`).
//! The rules are in [`crate::lifecycle`].

use futures_util::StreamExt;

use super::{Onramp, ACCESS_TOKEN, REFRESH_TOKEN};
use crate::error::{Code, Error, Result};
use crate::lifecycle::{self, SweepReport};
use crate::model::*;
use crate::providers::{self, oauth as vendor_oauth};
use crate::store::{rfc3339, NewEvent};

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
    /// token request: whoever asked before it finished gets its outcome. The new refresh token
    /// is in the vault before the new access token is; an answer without a refresh token keeps
    /// the old one; a refused refresh (`invalid_grant`) marks the connection as needing the
    /// customer again.
    pub async fn refresh_connection(&self, connection_id: &str) -> Result<Connection> {
        let asked = self.lifecycle.ticket();
        let slot = self.lifecycle.slot(connection_id);
        let mut slot = slot.lock().await;
        if let Some((done, outcome)) = &slot.last {
            if *done > asked {
                // A refresh finished while this call waited: it stands for this one too.
                return match outcome {
                    Ok(()) => self.store.connection(connection_id).await,
                    Err(e) => Err(e.clone()),
                };
            }
        }
        let result = self.refresh_once(connection_id).await;
        let outcome = lifecycle::result_of(&result);
        match &result {
            Ok(conn) => self.lifecycle.record(conn, &outcome),
            Err(_) => {
                if let Ok(conn) = self.store.connection(connection_id).await {
                    self.lifecycle.record(&conn, &outcome);
                }
            }
        }
        slot.last = Some((self.lifecycle.ticket(), outcome));
        result
    }

    async fn refresh_once(&self, connection_id: &str) -> Result<Connection> {
        let conn = self.store.connection(connection_id).await?;
        let name = providers::spec(conn.provider).name;
        let (spec, _) = self.oauth_spec_pub(conn.provider)?;
        let ep = self.token_endpoints(&conn)?;
        let secret_ref = self.store.secret_ref(&conn.id).await?.ok_or_else(|| {
            Error::validation(format!("This {name} connection has no tokens to refresh."))
        })?;
        let refresh = self
            .vault
            .get(&format!("{secret_ref}/{REFRESH_TOKEN}"))
            .await?
            .ok_or_else(|| {
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
        self.replace_tokens(&secret_ref, &tokens).await?;
        let mut details = conn.details.clone();
        grant_uris(&tokens, &ep.token_url, &mut details)?;
        let at = |secs: Option<i64>| secs.map(|s| rfc3339(now + time::Duration::seconds(s)));
        // A new refresh token lives its full life again; without one, the old expiry stands.
        let refresh_expires = tokens
            .refresh_expires_in
            .or(tokens.refresh_token.as_ref().and(spec.refresh_lifetime));
        self.store
            .update_grant(
                &conn.id,
                tokens.scope.as_deref(),
                at(tokens.expires_in).as_deref(),
                at(refresh_expires).as_deref(),
                Some(&rfc3339(now)),
                Some(&details),
                None,
                Some(NewEvent {
                    customer_id: Some(&conn.customer_id),
                    connection_id: Some(&conn.id),
                    provider: Some(conn.provider),
                    kind: "refreshed",
                    summary: format!("{name} tokens refreshed"),
                    actor: self.actor,
                }),
            )
            .await?;
        self.store.connection(&conn.id).await
    }

    /// The health board: every connection that needs someone (the customer to sign in again, the
    /// installer to fix a key) or will (a refresh token that lapses unless Onramp runs), most
    /// urgent first, then soonest.
    pub async fn health(&self) -> Result<Vec<HealthItem>> {
        let now = self.now();
        let policy = self.lifecycle.policy();
        let mut items: Vec<HealthItem> = self
            .store
            .connections_with_customers()
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

    /// Replaces a connection's tokens in the keyring after a rotation: the new refresh token
    /// first (if Onramp dies after it, the old access token is lost, which costs nothing; the
    /// other order would lose the grant), then the access token. An answer without a refresh
    /// token keeps the old one.
    pub(crate) async fn replace_tokens(
        &self,
        secret_ref: &str,
        tokens: &vendor_oauth::Tokens,
    ) -> Result<()> {
        if let Some(rt) = &tokens.refresh_token {
            self.vault
                .put(&format!("{secret_ref}/{REFRESH_TOKEN}"), rt)
                .await?;
        }
        self.vault
            .put(
                &format!("{secret_ref}/{ACCESS_TOKEN}"),
                &tokens.access_token,
            )
            .await
    }

    /// Refreshes the signed-in connections `which` asks for: at most
    /// [`lifecycle::Policy::max_concurrency`] at once and [`lifecycle::Policy::per_vendor`] per
    /// vendor, skipping vendors and connections that are held back. A locked keyring stops the
    /// sweep at once (every refresh would fail the same way).
    pub async fn refresh_sweep(&self, which: Sweep) -> Result<SweepReport> {
        let policy = self.lifecycle.policy().clone();
        let now = self.now();
        let all = self.store.oauth_connections().await?;
        let mut report = SweepReport {
            checked: all.len(),
            ..Default::default()
        };
        let mut todo = Vec::new();
        let mut next: Option<time::OffsetDateTime> = None;
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
        // Each refresh waits for its vendor's budget inside the stream's overall bound.
        let mut running = futures_util::stream::iter(todo)
            .map(|c| async move {
                let vendor = self.lifecycle.vendor_slot(c.provider);
                let _turn = vendor.acquire().await;
                // A 429 met by another refresh of this vendor while this one waited.
                if which == Sweep::Due && self.lifecycle.held_until(&c).is_some() {
                    return (c.id, None);
                }
                let r = self.refresh_connection(&c.id).await;
                (c.id, Some(r.map(|_| ())))
            })
            .buffer_unordered(policy.max_concurrency.max(1));
        let mut locked = None;
        while let Some((id, outcome)) = running.next().await {
            match outcome {
                None => report.held += 1,
                Some(Ok(())) => report.refreshed.push(id),
                Some(Err(e)) if e.code == Code::ReauthRequired => report.needs_reauth.push(id),
                Some(Err(e)) => {
                    report.failed.push((id, e.info()));
                    if e.code == Code::KeychainUnavailable {
                        locked = Some(e);
                        break;
                    }
                }
            }
        }
        drop(running);
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
