//! Sign-ins in flight (pending authorizations): a state's hash and a sealed verifier.

use sqlx::Row;

use super::*;

#[derive(Clone, Debug, PartialEq)]
pub struct PendingRow {
    pub provider: ProviderId,
    pub customer_id: String,
    pub connection_id: Option<String>,
    pub redirect_uri: String,
    pub expires_at: time::OffsetDateTime,
    /// What the installer picked before the sign-in (JSON of [`SignInOptions`] and flow facts).
    pub details: Option<String>,
}

/// What consuming a state found.
#[derive(Debug)]
pub enum Consumed {
    /// The row, and its sealed verifier (removed from the row as it was consumed).
    Fresh(PendingRow, Option<String>),
    AlreadyUsed,
    Unknown,
}

impl Store {
    /// Records a sign-in in flight with its sealed PKCE verifier (one statement: both or neither).
    pub async fn insert_pending(
        &self,
        state_hash: &str,
        row: &PendingRow,
        vault: &Vault,
        secrets: &Secrets,
        now: time::OffsetDateTime,
    ) -> Result<()> {
        let sealed = vault.seal(&pending_aad(state_hash), secrets)?;
        sqlx::query(
            "INSERT INTO pending_authorizations
                (state_hash, provider, customer_id, connection_id, redirect_uri, created_at, expires_at, details, sealed)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(state_hash)
        .bind(row.provider.as_str())
        .bind(&row.customer_id)
        .bind(&row.connection_id)
        .bind(&row.redirect_uri)
        .bind(rfc3339(now))
        .bind(rfc3339(row.expires_at))
        .bind(&row.details)
        .bind(&sealed)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Removes sign-ins that expired (with their sealed verifiers): nobody can finish them.
    /// Returns how many went.
    pub async fn purge_pending(&self, now: time::OffsetDateTime) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM pending_authorizations WHERE julianday(expires_at) < julianday(?)",
        )
        .bind(rfc3339(now))
        .execute(&self.writer)
        .await?
        .rows_affected())
    }

    /// Marks the pending authorization used, atomically: of two processes racing with the same
    /// state, exactly one gets `Fresh`.
    /// The provider of an unconsumed pending authorization, without consuming it.
    pub async fn pending_provider(&self, state_hash: &str) -> Result<Option<ProviderId>> {
        let p: Option<String> = sqlx::query_scalar(
            "SELECT provider FROM pending_authorizations WHERE state_hash = ? AND consumed_at IS NULL",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        p.as_deref().map(provider_of).transpose()
    }

    pub async fn consume_pending(
        &self,
        state_hash: &str,
        now: time::OffsetDateTime,
    ) -> Result<Consumed> {
        // The verifier leaves the row as it is consumed: it is needed once, by this caller.
        // One transaction on the one writer: of two processes racing, one sees it unconsumed.
        let mut tx = self.write_tx().await?;
        let sealed: Option<String> = sqlx::query_scalar(
            "SELECT sealed FROM pending_authorizations WHERE state_hash = ? AND consumed_at IS NULL",
        )
        .bind(state_hash)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        let row = sqlx::query(
            "UPDATE pending_authorizations SET consumed_at = ?, sealed = NULL
             WHERE state_hash = ? AND consumed_at IS NULL
             RETURNING provider, customer_id, connection_id, redirect_uri, expires_at, details",
        )
        .bind(rfc3339(now))
        .bind(state_hash)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(r) = row {
            let expires: String = r.get("expires_at");
            return Ok(Consumed::Fresh(
                PendingRow {
                    provider: provider_of(r.get("provider"))?,
                    customer_id: r.get("customer_id"),
                    connection_id: r.get("connection_id"),
                    redirect_uri: r.get("redirect_uri"),
                    details: r.get("details"),
                    expires_at: time::OffsetDateTime::parse(
                        &expires,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map_err(Error::storage)?,
                },
                sealed,
            ));
        }
        let known: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM pending_authorizations WHERE state_hash = ?")
                .bind(state_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(if known.is_some() {
            Consumed::AlreadyUsed
        } else {
            Consumed::Unknown
        })
    }

    /// Opens a consumed sign-in again, its verifier sealed back, when the vendor refused the
    /// code the installer pasted (the vendor's real code is still unused, so the installer may
    /// paste again). Only a sign-in that was consumed and has not expired is opened: `false`
    /// when there is none.
    pub async fn reopen_pending(
        &self,
        state_hash: &str,
        vault: &Vault,
        secrets: &Secrets,
        now: time::OffsetDateTime,
    ) -> Result<bool> {
        let sealed = vault.seal(&pending_aad(state_hash), secrets)?;
        Ok(sqlx::query(
            "UPDATE pending_authorizations SET consumed_at = NULL, sealed = ?
             WHERE state_hash = ? AND consumed_at IS NOT NULL
               AND julianday(expires_at) > julianday(?)",
        )
        .bind(&sealed)
        .bind(state_hash)
        .bind(rfc3339(now))
        .execute(&self.writer)
        .await?
        .rows_affected()
            == 1)
    }
}
