//! A connection's state as the vendor left it: the outcome of asking it again, a grant it
//! refused, a refresh it refused. Each is one UPDATE of the row and the event that records it,
//! written together by [`Store::update_with_event`] (the row says whose connection it is).

use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Row, Sqlite, Transaction};

use super::*;

/// A grant the vendor no longer accepts, as [`Store::set_grant_refused`] writes it.
#[derive(Clone, Copy)]
pub struct GrantRefused<'a> {
    pub connection_id: &'a str,
    /// `needs_reauth` or `revoked`.
    pub state: ConnectionState,
    pub why: &'a ErrorInfo,
    pub kind: EventKind,
}

/// The event of a change to one connection: the store adds the customer and the vendor from
/// the row the change touched.
struct ConnectionEvent<'a> {
    kind: EventKind,
    summary: String,
    actor: &'a str,
}

impl Store {
    /// The outcome of asking the vendor again: `error` with its reason, or `active` with the
    /// sites as the vendor now lists them (sites are updated, never dropped).
    pub async fn record_check(
        &self,
        connection_id: &str,
        error: Option<&ErrorInfo>,
        sites: &[VendorSite],
        actor: &str,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        let state = if error.is_some() { "error" } else { "active" };
        let update = sqlx::query(
            "UPDATE connections SET state = ?, last_error_code = ?, last_error_message = ?, last_error_hint = ?,
                last_error_details = ?, last_checked_at = ?, updated_at = ? WHERE id = ? RETURNING customer_id, provider",
        )
        .bind(state)
        .bind(error.map(|e| format!("{:?}", e.code)))
        .bind(error.map(|e| e.message.clone()))
        .bind(error.and_then(|e| e.hint.clone()))
        .bind(error.and_then(|e| e.details.clone()))
        .bind(&now)
        .bind(&now)
        .bind(connection_id);
        let event = error.map(|e| ConnectionEvent {
            kind: EventKind::CheckFailed,
            summary: e.message.clone(),
            actor,
        });
        let provider = self
            .update_with_event(&mut tx, connection_id, update, event)
            .await?;
        self.insert_sites(&mut tx, connection_id, provider, sites)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The vendor no longer accepts the grant: `needs_reauth` (it lapsed) or `revoked` (the
    /// customer or the vendor withdrew it). Either way the customer signs in again.
    ///
    /// The event's kind is the caller's: the state's own, or `token_lost` when the refresh
    /// token was spent by a refresh whose answer a crash lost; its summary is the reason. The
    /// lease and the in-flight mark go.
    pub async fn set_grant_refused(&self, refused: &GrantRefused<'_>, actor: &str) -> Result<()> {
        let GrantRefused {
            connection_id,
            state,
            why,
            kind,
        } = *refused;
        debug_assert!(matches!(
            state,
            ConnectionState::NeedsReauth | ConnectionState::Revoked
        ));
        let mut tx = self.write_tx().await?;
        let update = sqlx::query(
            "UPDATE connections SET state = ?, last_error_code = ?, last_error_message = ?,
                last_error_hint = ?, last_error_details = ?, updated_at = ?, lease_holder = NULL,
                lease_id = NULL, lease_until = NULL, refresh_started_at = NULL
             WHERE id = ? RETURNING customer_id, provider",
        )
        .bind(state.as_str())
        .bind(format!("{:?}", why.code))
        .bind(&why.message)
        .bind(&why.hint)
        .bind(&why.details)
        .bind(self.now())
        .bind(connection_id);
        let event = ConnectionEvent {
            kind,
            summary: why.message.clone(),
            actor,
        };
        self.update_with_event(&mut tx, connection_id, update, Some(event))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A refresh the vendor refused for a reason that is not the grant's (its app's client id
    /// or secret): the connection is `error` with the reason, so it shows that it cannot renew,
    /// and its grant is untouched (the refresh token was not spent). The event is written when
    /// the reason is new, not at every retry.
    pub async fn record_refresh_refused(
        &self,
        connection_id: &str,
        why: &ErrorInfo,
        actor: &str,
    ) -> Result<()> {
        let code = format!("{:?}", why.code);
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT state, last_error_code, last_error_message FROM connections WHERE id = ?",
        )
        .bind(connection_id)
        .fetch_one(&mut *tx)
        .await?;
        let known = row.get::<String, _>("state") == "error"
            && row.get::<Option<String>, _>("last_error_code").as_deref() == Some(code.as_str())
            && row
                .get::<Option<String>, _>("last_error_message")
                .as_deref()
                == Some(why.message.as_str());
        let update = sqlx::query(
            "UPDATE connections SET state = 'error', last_error_code = ?, last_error_message = ?,
                last_error_hint = ?, last_error_details = ?, updated_at = ? WHERE id = ?
             RETURNING customer_id, provider",
        )
        .bind(&code)
        .bind(&why.message)
        .bind(&why.hint)
        .bind(&why.details)
        .bind(self.now())
        .bind(connection_id);
        let event = (!known).then(|| ConnectionEvent {
            kind: EventKind::RefreshRefused,
            summary: why.message.clone(),
            actor,
        });
        self.update_with_event(&mut tx, connection_id, update, event)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs `update`, an UPDATE of connection `connection_id` ending in
    /// `RETURNING customer_id, provider`, in `tx`, and writes `event` (when there is one) for
    /// that connection in the same transaction; the vendor the row names. The caller adds what
    /// else belongs to the change and commits: the change and its event, both or neither.
    async fn update_with_event(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        connection_id: &str,
        update: Query<'_, Sqlite, SqliteArguments>,
        event: Option<ConnectionEvent<'_>>,
    ) -> Result<ProviderId> {
        let row = update.fetch_one(&mut **tx).await?;
        let provider = provider_of(row.get("provider"))?;
        if let Some(e) = event {
            let customer_id: String = row.get("customer_id");
            self.insert_event(
                tx,
                &NewEvent {
                    customer_id: Some(&customer_id),
                    connection_id: Some(connection_id),
                    provider: Some(provider),
                    kind: e.kind,
                    summary: e.summary,
                    actor: e.actor,
                },
            )
            .await?;
        }
        Ok(provider)
    }
}
