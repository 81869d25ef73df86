//! Installer accounts in the store: their masked hint and sealed credential in one
//! `provider_apps` row, and for an account that is a sign-in kept alive (Enphase's partner plan)
//! the same custody as a connection's grant: a lease for the one holder that may spend the
//! refresh token, the rotation's write fenced by the generation and the lease, the in-flight
//! mark a crash leaves behind, and the state the installer sees.

use sqlx::Row;

use super::custody::{lease_lost, rfc3339_micros};
use super::{app_aad_at, app_row, NewEvent, Store};
use crate::error::{Error, Result};
use crate::model::{ErrorInfo, ProviderId};
use crate::seal::Secrets;
use crate::vault::Vault;

/// An installer account as stored.
#[derive(Clone, Debug)]
pub struct AccountRow {
    pub credential_hint: Option<String>,
    pub sealed: Option<String>,
    pub updated_at: String,
    /// The partner application's client id (not secret), for a signed-in account.
    pub client_id: Option<String>,
    pub generation: i64,
    /// The account is a sign-in kept alive (None: a key that does not lapse).
    pub state: Option<AccountState>,
    pub access_expires_at: Option<String>,
    pub refresh_expires_at: Option<String>,
    pub last_error: Option<ErrorInfo>,
}

/// A signed-in installer account's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountState {
    Active,
    /// Its refresh was refused (or it was saved the earlier way): the installer signs in again.
    NeedsSignIn,
}

impl AccountState {
    fn parse(s: &str) -> Option<AccountState> {
        match s {
            "active" => Some(AccountState::Active),
            "needs_sign_in" => Some(AccountState::NeedsSignIn),
            _ => None,
        }
    }
}

/// The renewal lease of a signed-in account, held by this process.
#[derive(Clone, Debug)]
pub struct AccountLease {
    pub provider: ProviderId,
    pub lease_id: String,
    pub generation: i64,
    pub sealed: Option<String>,
    pub client_id: Option<String>,
    /// An earlier renewal started then and never finished: its refresh token may be spent.
    pub in_doubt_since: Option<String>,
}

/// A signed-in account's new tokens, to be written.
pub struct AccountTokens<'a> {
    pub secrets: &'a Secrets,
    pub access_expires_at: Option<String>,
    pub refresh_expires_at: Option<String>,
}

const ROW: &str = "installer_account";

fn unix_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Store {
    pub async fn installer_account(&self, provider: ProviderId) -> Result<Option<AccountRow>> {
        let row = sqlx::query(
            "SELECT credential_hint, sealed, updated_at, client_id, generation, account_state,
                access_expires_at, refresh_expires_at, last_error_code, last_error_message, last_error_details,
                last_error_hint
             FROM provider_apps WHERE provider = ? AND kind = 'installer_account'",
        )
        .bind(provider.as_str())
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.map(|r| {
            let code: Option<String> = r.get("last_error_code");
            AccountRow {
                credential_hint: r.get("credential_hint"),
                sealed: r.get("sealed"),
                updated_at: r.get("updated_at"),
                client_id: r.get("client_id"),
                generation: r.get("generation"),
                state: r
                    .get::<Option<String>, _>("account_state")
                    .as_deref()
                    .and_then(AccountState::parse),
                access_expires_at: r.get("access_expires_at"),
                refresh_expires_at: r.get("refresh_expires_at"),
                last_error: code.map(|c| ErrorInfo {
                    code: super::parse_code(&c),
                    message: r
                        .get::<Option<String>, _>("last_error_message")
                        .unwrap_or_default(),
                    hint: r.get("last_error_hint"),
                    details: r.get("last_error_details"),
                }),
            }
        }))
    }

    /// Saves an installer account made of keys that do not lapse: its masked hint and sealed
    /// credential in one row, with an event.
    pub async fn put_installer_account(
        &self,
        provider: ProviderId,
        credential_hint: &str,
        vault: &Vault,
        secrets: &Secrets,
        event: &NewEvent<'_>,
    ) -> Result<()> {
        let row = app_row(provider, ROW);
        let mut tx = self.write_tx().await?;
        let generation = next_generation(&mut tx, provider).await?;
        let sealed = vault.seal(&app_aad_at(&row, generation), secrets)?;
        sqlx::query(
            "INSERT INTO provider_apps (provider, kind, credential_hint, sealed, generation, updated_at)
             VALUES (?, 'installer_account', ?, ?, ?, ?)
             ON CONFLICT (provider, kind) DO UPDATE SET
                credential_hint = excluded.credential_hint, sealed = excluded.sealed,
                generation = excluded.generation, client_id = NULL, secret_ref = NULL,
                lease_holder = NULL, lease_id = NULL, lease_until = NULL,
                refresh_started_at = NULL, access_expires_at = NULL, refresh_expires_at = NULL,
                account_state = NULL, last_error_code = NULL, last_error_message = NULL,
                last_error_hint = NULL, last_error_details = NULL, updated_at = excluded.updated_at",
        )
        .bind(provider.as_str())
        .bind(credential_hint)
        .bind(&sealed)
        .bind(generation)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        self.commit_with(tx, event).await
    }

    /// Saves an installer account that is a sign-in (its tokens sealed at a new generation, so
    /// a renewal still running from the account it replaces writes nothing), with an event.
    pub async fn put_signed_in_account(
        &self,
        provider: ProviderId,
        client_id: &str,
        credential_hint: &str,
        vault: &Vault,
        tokens: &AccountTokens<'_>,
        event: &NewEvent<'_>,
    ) -> Result<()> {
        let row = app_row(provider, ROW);
        let mut tx = self.write_tx().await?;
        let generation = next_generation(&mut tx, provider).await?;
        let sealed = vault.seal(&app_aad_at(&row, generation), tokens.secrets)?;
        sqlx::query(
            "INSERT INTO provider_apps (provider, kind, client_id, credential_hint, sealed,
                generation, access_expires_at, refresh_expires_at, account_state, updated_at)
             VALUES (?, 'installer_account', ?, ?, ?, ?, ?, ?, 'active', ?)
             ON CONFLICT (provider, kind) DO UPDATE SET
                client_id = excluded.client_id, credential_hint = excluded.credential_hint,
                sealed = excluded.sealed, generation = excluded.generation, secret_ref = NULL,
                lease_holder = NULL, lease_id = NULL, lease_until = NULL,
                refresh_started_at = NULL, access_expires_at = excluded.access_expires_at,
                refresh_expires_at = excluded.refresh_expires_at, account_state = 'active',
                last_error_code = NULL, last_error_message = NULL, last_error_hint = NULL,
                last_error_details = NULL,
                updated_at = excluded.updated_at",
        )
        .bind(provider.as_str())
        .bind(client_id)
        .bind(credential_hint)
        .bind(&sealed)
        .bind(generation)
        .bind(&tokens.access_expires_at)
        .bind(&tokens.refresh_expires_at)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        self.commit_with(tx, event).await
    }

    pub async fn delete_installer_account(
        &self,
        provider: ProviderId,
        event: &NewEvent<'_>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM provider_apps WHERE provider = ? AND kind = 'installer_account'")
            .bind(provider.as_str())
            .execute(&mut *tx)
            .await?;
        self.commit_with(tx, event).await
    }

    /// Takes the renewal lease of a signed-in account, if it is active and nobody holds it
    /// (or its lease ran out, or its holder died). Marks the renewal in flight.
    pub async fn take_account_lease(&self, provider: ProviderId) -> Result<Option<AccountLease>> {
        let holder: Option<String> = sqlx::query_scalar(
            "SELECT lease_holder FROM provider_apps WHERE provider = ? AND kind = 'installer_account'",
        )
        .bind(provider.as_str())
        .fetch_optional(&self.writer)
        .await?
        .flatten();
        let dead = holder
            .filter(|h| self.holder.is_dead(h))
            .unwrap_or_default();
        let now = std::time::SystemTime::now();
        let started = rfc3339_micros(time::OffsetDateTime::from(now));
        let lease_id = uuid::Uuid::new_v4().simple().to_string();
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "UPDATE provider_apps SET lease_holder = ?, lease_id = ?, lease_until = ?,
                refresh_started_at = COALESCE(refresh_started_at, ?)
             WHERE provider = ? AND kind = 'installer_account' AND account_state = 'active'
                AND (lease_id IS NULL OR lease_until < ? OR lease_holder = ?)
             RETURNING generation, sealed, client_id, refresh_started_at",
        )
        .bind(self.holder.id())
        .bind(&lease_id)
        .bind(unix_ms(now + super::LEASE))
        .bind(&started)
        .bind(provider.as_str())
        .bind(unix_ms(now))
        .bind(&dead)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.map(|r| {
            let since: Option<String> = r.get("refresh_started_at");
            AccountLease {
                provider,
                lease_id,
                generation: r.get("generation"),
                sealed: r.get("sealed"),
                client_id: r.get("client_id"),
                in_doubt_since: since.filter(|s| s != &started),
            }
        }))
    }

    /// Whether someone holds the account's renewal lease now.
    pub async fn account_leased(&self, provider: ProviderId) -> Result<bool> {
        let until: Option<i64> = sqlx::query_scalar(
            "SELECT lease_until FROM provider_apps WHERE provider = ? AND kind = 'installer_account'",
        )
        .bind(provider.as_str())
        .fetch_optional(&self.writer)
        .await?
        .flatten();
        Ok(until.is_some_and(|u| u >= unix_ms(std::time::SystemTime::now())))
    }

    /// Writes a renewal's rotated tokens, fenced: only while this lease stands and the
    /// generation is the one it read. The commit is durable before the new access token is
    /// used (the writer syncs every commit).
    pub async fn write_account_rotation(
        &self,
        lease: &AccountLease,
        vault: &Vault,
        tokens: &AccountTokens<'_>,
        event: &NewEvent<'_>,
    ) -> Result<()> {
        let provider = lease.provider;
        let next = lease.generation + 1;
        let sealed = vault.seal(&app_aad_at(&app_row(provider, ROW), next), tokens.secrets)?;
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE provider_apps SET sealed = ?, generation = ?, access_expires_at = ?,
                refresh_expires_at = ?, lease_holder = NULL, lease_id = NULL, lease_until = NULL,
                refresh_started_at = NULL, account_state = 'active', last_error_code = NULL,
                last_error_message = NULL, last_error_hint = NULL,
                last_error_details = NULL, updated_at = ?
             WHERE provider = ? AND kind = 'installer_account' AND generation = ? AND lease_id = ?",
        )
        .bind(&sealed)
        .bind(next)
        .bind(&tokens.access_expires_at)
        .bind(&tokens.refresh_expires_at)
        .bind(self.now())
        .bind(provider.as_str())
        .bind(lease.generation)
        .bind(&lease.lease_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done != 1 {
            return Err(lease_lost(provider));
        }
        self.commit_with(tx, event).await
    }

    /// The vendor refused the account's sign-in: it needs the installer, with why; the lease
    /// and the in-flight mark go.
    pub async fn account_refused(
        &self,
        lease: &AccountLease,
        error: &Error,
        event: &NewEvent<'_>,
    ) -> Result<()> {
        let provider = lease.provider;
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE provider_apps SET account_state = 'needs_sign_in', last_error_code = ?,
                last_error_message = ?, last_error_hint = ?, last_error_details = ?,
                lease_holder = NULL, lease_id = NULL, lease_until = NULL, refresh_started_at = NULL,
                updated_at = ?
             WHERE provider = ? AND kind = 'installer_account' AND lease_id = ?",
        )
        .bind(format!("{:?}", error.code))
        .bind(&error.message)
        .bind(&error.hint)
        .bind(&error.details)
        .bind(self.now())
        .bind(provider.as_str())
        .bind(&lease.lease_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 1 {
            self.insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives the renewal lease back without a rotation. `settled`: the vendor's answer showed
    /// the refresh token was not spent, so the in-flight mark goes too. `failure`: kept as the
    /// account's last error (the account stays active and is tried again).
    pub async fn release_account_lease(
        &self,
        lease: &AccountLease,
        settled: bool,
        failure: Option<&Error>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE provider_apps SET lease_holder = NULL, lease_id = NULL, lease_until = NULL,
                refresh_started_at = CASE WHEN ? THEN NULL ELSE refresh_started_at END,
                last_error_code = COALESCE(?, last_error_code),
                last_error_message = COALESCE(?, last_error_message),
                last_error_hint = CASE WHEN ? IS NULL THEN last_error_hint ELSE ? END,
                last_error_details = CASE WHEN ? IS NULL THEN last_error_details ELSE ? END
             WHERE provider = ? AND kind = 'installer_account' AND lease_id = ?",
        )
        .bind(settled)
        .bind(failure.map(|e| format!("{:?}", e.code)))
        .bind(failure.map(|e| e.message.clone()))
        .bind(failure.map(|e| e.message.clone()))
        .bind(failure.and_then(|e| e.hint.clone()))
        .bind(failure.map(|e| e.message.clone()))
        .bind(failure.and_then(|e| e.details.clone()))
        .bind(lease.provider.as_str())
        .bind(&lease.lease_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

/// The generation a replaced account's secrets are sealed at: one past the row's.
async fn next_generation(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    provider: ProviderId,
) -> Result<i64> {
    let current: Option<i64> = sqlx::query_scalar(
        "SELECT generation FROM provider_apps WHERE provider = ? AND kind = 'installer_account'",
    )
    .bind(provider.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(current.map_or(0, |g| g + 1))
}
