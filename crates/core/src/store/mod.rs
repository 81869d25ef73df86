//! SQLite through sqlx: the only place that writes SQL. Secrets come here only sealed
//! ([`crate::seal`]): each row keeps its own in a `sealed` column, written in the same
//! transaction as the row's state.

mod accounts;
mod backup;
mod custody;

pub use accounts::{AccountLease, AccountRow, AccountState, AccountTokens};
pub use backup::{
    would_replace, ConnectionRow, CustomerRow, EventRow, KeyChange, ProviderAppRow, SiteRow,
    Snapshot, UsageMonthRow, UsageSeriesRow,
};
pub(crate) use custody::lease_lost;
pub use custody::{LeaseHolder, Leased, LegacyRow, SealedRow, LEASE};

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlitePool};

use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::providers::VendorSite;
use crate::seal::{Aad, Secrets};
use crate::vault::Vault;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations");

pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[derive(Clone)]
pub struct Store {
    /// Reads, several at once (the write-ahead log lets them run beside a write).
    pool: SqlitePool,
    /// Every write, one at a time, on a connection of its own: writers of one process queue
    /// here instead of meeting SQLite's write lock, whose busy handler sleeps for milliseconds
    /// (a sweep's refreshes were spending most of their time asleep).
    writer: SqlitePool,
    /// Refreshes waiting to be written (group commit, see [`Store::queue_refresh`]).
    refreshes: std::sync::Arc<RefreshQueue>,
    store_id: String,
    /// This process as a holder of refresh leases ([`custody`]).
    holder: std::sync::Arc<LeaseHolder>,
    /// The last rotations' answer-to-durable-commit times ([`Store::rotation_windows`]).
    windows: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<std::time::Duration>>>,
}

/// Refreshes' writes waiting for the writer, and the turn to write them.
#[derive(Default)]
struct RefreshQueue {
    #[allow(clippy::type_complexity)]
    waiting: std::sync::Mutex<
        Vec<(
            RefreshRecord,
            tokio::sync::oneshot::Sender<Result<std::time::Duration>>,
        )>,
    >,
    /// A task is writing them.
    flushing: std::sync::atomic::AtomicBool,
}

/// What a refresh changes in the store: the grant's new facts (as [`Store::update_grant`]
/// writes them) and a `refreshed` event.
#[derive(Clone, Debug)]
pub struct RefreshRecord {
    pub connection_id: String,
    /// The generation the refresh started from; the write lands only if it is still current
    /// and the lease is still this refresh's (a fenced write).
    pub generation: i64,
    pub lease_id: String,
    /// The new tokens, sealed for `generation + 1`.
    pub sealed: String,
    /// When the vendor's answer arrived (the durability window is measured from here).
    pub answered: std::time::Instant,
    pub customer_id: String,
    pub provider: ProviderId,
    pub scopes: Option<String>,
    pub access_expires_at: Option<String>,
    /// `None` keeps the stored expiry.
    pub refresh_expires_at: Option<String>,
    pub tokens_issued_at: String,
    /// Details the token answer told (merged into the stored ones, which stay otherwise).
    pub learned: std::collections::BTreeMap<String, String>,
    pub summary: String,
    pub actor: String,
}

/// What a new connection is made of; written with its sites and event in one transaction.
pub struct NewConnection<'a> {
    /// Made by the caller ([`new_id`]): the connection's secrets are sealed for it.
    pub id: String,
    pub customer_id: &'a str,
    pub provider: ProviderId,
    pub kind: CredentialKind,
    pub credential_hint: Option<String>,
    /// The connection's secrets (tokens or key), sealed into its row.
    pub secrets: Option<Secrets>,
    pub sites: &'a [VendorSite],
    /// OAuth: the scope the vendor granted and when the tokens expire (RFC 3339).
    pub scopes: Option<String>,
    pub access_expires_at: Option<String>,
    pub refresh_expires_at: Option<String>,
    /// When these tokens were issued (Onramp's clock).
    pub tokens_issued_at: Option<String>,
    /// Non-secret facts of the grant (see [`Connection::details`]).
    pub details: std::collections::BTreeMap<String, String>,
}

/// A meter's usage summary as it is written.
pub struct NewSeries {
    pub source_key: String,
    pub title: String,
    pub commodity: String,
    pub flow: String,
    pub unit: String,
    pub currency: Option<String>,
    pub readings: i64,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    pub months: Vec<UsageMonth>,
}

pub struct NewEvent<'a> {
    pub customer_id: Option<&'a str>,
    pub connection_id: Option<&'a str>,
    pub provider: Option<ProviderId>,
    pub kind: &'a str,
    pub summary: String,
    pub actor: &'a str,
}

/// A new row id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Where a connection's sealed secrets belong (its row and generation).
pub fn connection_aad(id: &str, generation: i64) -> Aad<'_> {
    Aad {
        table: "connections",
        row: id,
        generation,
    }
}

/// Where a vendor app's or installer account's sealed secrets belong (`{provider}/{kind}`).
pub fn app_aad(row: &str) -> Aad<'_> {
    app_aad_at(row, 0)
}

/// The same at a generation: an installer account that renews its sign-in (Enphase's partner
/// plan) bumps it at every rotation, as a connection does.
pub fn app_aad_at(row: &str, generation: i64) -> Aad<'_> {
    Aad {
        table: "provider_apps",
        row,
        generation,
    }
}

/// Where a pending authorization's verifier belongs (its state's hash).
pub fn pending_aad(state_hash: &str) -> Aad<'_> {
    Aad {
        table: "pending_authorizations",
        row: state_hash,
        generation: 0,
    }
}

/// A pending authorization as stored (its state only as a hash, its verifier sealed).
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

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn opt_trim(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn customer_from(row: &SqliteRow) -> Customer {
    Customer {
        id: row.get("id"),
        name: row.get("name"),
        address: row.get("address"),
        email: row.get("email"),
        phone: row.get("phone"),
        job_number: row.get("job_number"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

fn provider_of(s: &str) -> Result<ProviderId> {
    ProviderId::parse(s)
        .ok_or_else(|| Error::storage(format!("unknown provider {s:?} in the store")))
}

impl Store {
    pub async fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            crate::private::create_dir(dir).map_err(|e| {
                Error::new(
                    Code::Storage,
                    format!("Cannot create the data folder {}: {e}", dir.display()),
                )
                .hint("Choose a data folder you can write to (--data-dir, or ONRAMP_DATA_DIR).")
            })?;
        }
        // The file is made private before SQLite opens it; its -wal and -shm files take the
        // same permissions from it.
        crate::private::create_file(path).map_err(|e| {
            Error::new(
                Code::Storage,
                format!("Cannot create the store {}: {e}", path.display()),
            )
            .hint("Choose a data folder you can write to (--data-dir, or ONRAMP_DATA_DIR).")
        })?;
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        // Every write goes through this one connection, and every commit of it reaches the disk
        // (FULL: the write-ahead log is synced at commit) before it is reported: a rotated
        // refresh token, which the vendor has already replaced, must survive a power cut, not
        // only a killed process. Refreshes are committed in batches, so one sync carries many.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                options
                    .clone()
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Full),
            )
            .await?;
        MIGRATOR.run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.synchronous(sqlx::sqlite::SqliteSynchronous::Normal))
            .await?;
        let candidate = uuid::Uuid::new_v4().to_string();
        sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)")
            .bind(&candidate)
            .execute(&writer)
            .await?;
        let store_id: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'store_id'")
            .fetch_one(&pool)
            .await?;
        let holder = std::sync::Arc::new(LeaseHolder::register(
            path.parent().unwrap_or_else(|| Path::new(".")),
        )?);
        Ok(Store {
            pool,
            writer,
            refreshes: Default::default(),
            store_id,
            holder,
            windows: Default::default(),
        })
    }

    /// A random id made when the store was created; names this store's keyring entries.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    pub async fn insert_customer(&self, input: &NewCustomer, actor: &str) -> Result<Customer> {
        let name = input.name.trim();
        if name.is_empty() {
            return Err(Error::validation("Enter the customer's name."));
        }
        if name.chars().count() > 200 {
            return Err(Error::validation(
                "The name is too long (200 characters at most).",
            ));
        }
        let now = now();
        let c = Customer {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            address: opt_trim(&input.address),
            email: opt_trim(&input.email),
            phone: opt_trim(&input.phone),
            job_number: opt_trim(&input.job_number),
            created_at: now.clone(),
            updated_at: now,
        };
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO customers (id, name, address, email, phone, job_number, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.address)
        .bind(&c.email)
        .bind(&c.phone)
        .bind(&c.job_number)
        .bind(&c.created_at)
        .bind(&c.updated_at)
        .execute(&mut *tx)
        .await?;
        insert_event(
            &mut tx,
            &NewEvent {
                customer_id: Some(&c.id),
                connection_id: None,
                provider: None,
                kind: "customer_created",
                summary: format!("Customer {} added", c.name),
                actor,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    pub async fn customer(&self, id: &str) -> Result<Customer> {
        let row = sqlx::query("SELECT * FROM customers WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("No such customer."))?;
        Ok(customer_from(&row))
    }

    /// Customers matching `query` (name, address, job number, email), newest activity first.
    pub async fn list_customers(&self, query: Option<&str>) -> Result<Vec<CustomerSummary>> {
        let q = query.map(str::trim).unwrap_or_default();
        let pattern = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(
            "SELECT c.id, c.name, c.address, c.job_number,
                (SELECT COUNT(*) FROM connections k WHERE k.customer_id = c.id AND k.state = 'active') AS connected,
                (SELECT COUNT(*) FROM connections k WHERE k.customer_id = c.id
                    AND k.state IN ('error', 'needs_reauth', 'expiring', 'revoked')) AS attention,
                (SELECT COUNT(*) FROM sites s JOIN connections k ON s.connection_id = k.id
                    WHERE k.customer_id = c.id) AS sites,
                COALESCE((SELECT e.at FROM events e WHERE e.customer_id = c.id ORDER BY e.id DESC LIMIT 1),
                    c.created_at) AS last_activity
             FROM customers c
             WHERE ?1 = '' OR c.name LIKE ?2 ESCAPE '\\' OR c.address LIKE ?2 ESCAPE '\\'
                OR c.job_number LIKE ?2 ESCAPE '\\' OR c.email LIKE ?2 ESCAPE '\\'
             ORDER BY last_activity DESC, c.name",
        )
        .bind(q)
        .bind(&pattern)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| CustomerSummary {
                id: r.get("id"),
                name: r.get("name"),
                address: r.get("address"),
                job_number: r.get("job_number"),
                connected: r.get::<i64, _>("connected") as u32,
                needs_attention: r.get::<i64, _>("attention") as u32,
                sites: r.get::<i64, _>("sites") as u32,
                last_activity_at: r.get("last_activity"),
            })
            .collect())
    }

    pub async fn connections_for(&self, customer_id: &str) -> Result<Vec<Connection>> {
        let rows =
            sqlx::query("SELECT * FROM connections WHERE customer_id = ? ORDER BY created_at, id")
                .bind(customer_id)
                .fetch_all(&self.pool)
                .await?;
        let site_rows = sqlx::query(
            "SELECT s.* FROM sites s JOIN connections k ON s.connection_id = k.id
             WHERE k.customer_id = ? ORDER BY s.name",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        let mut sites = sites_by_connection(&site_rows)?;
        rows.iter()
            .map(|r| {
                let id: String = r.get("id");
                connection_of(r, sites.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    /// The connections the health board may show, with their customer's name, without sites:
    /// every one not plainly active, and the active ones whose refresh token expires before
    /// `horizon` (the board decides; this leaves out the many that are fine).
    pub async fn connections_for_health(
        &self,
        horizon: time::OffsetDateTime,
    ) -> Result<Vec<(Connection, String)>> {
        let rows = sqlx::query(
            "SELECT k.*, c.name AS customer_name FROM connections k
             JOIN customers c ON c.id = k.customer_id
             WHERE k.state NOT IN ('active', 'expiring')
                OR julianday(k.refresh_expires_at) <= julianday(?)
             ORDER BY k.created_at, k.id",
        )
        .bind(rfc3339(horizon))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((connection_of(r, Vec::new())?, r.get("customer_name"))))
            .collect()
    }

    /// Every signed-in (OAuth) connection that has tokens, without sites: what the refresh
    /// sweep looks at (the secrets come with the lease).
    pub async fn oauth_grants(&self) -> Result<Vec<Connection>> {
        let rows = sqlx::query(
            "SELECT * FROM connections WHERE kind = 'oauth' AND sealed IS NOT NULL
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| connection_of(r, Vec::new())).collect()
    }

    /// One connection with its sites (two indexed lookups, whatever the customer has).
    pub async fn connection(&self, id: &str) -> Result<Connection> {
        let row = sqlx::query("SELECT * FROM connections WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("No such connection."))?;
        let site_rows = sqlx::query("SELECT * FROM sites WHERE connection_id = ? ORDER BY name")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let mut sites = sites_by_connection(&site_rows)?;
        connection_of(&row, sites.remove(id).unwrap_or_default())
    }

    /// A connection without its sites (one indexed lookup).
    pub async fn grant(&self, id: &str) -> Result<Connection> {
        let row = sqlx::query("SELECT * FROM connections WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("No such connection."))?;
        connection_of(&row, Vec::new())
    }

    /// The existing connection of this kind for a customer and provider, if any.
    pub async fn find_connection(
        &self,
        customer_id: &str,
        provider: ProviderId,
        kind: CredentialKind,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM connections WHERE customer_id = ? AND provider = ? AND kind = ? ORDER BY created_at LIMIT 1",
        )
        .bind(customer_id)
        .bind(provider.as_str())
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Writes the connection, its sealed secrets, its sites and an event in one transaction:
    /// a connection and its secrets exist together or not at all.
    pub async fn insert_connection(
        &self,
        new: &NewConnection<'_>,
        vault: &Vault,
        actor: &str,
    ) -> Result<String> {
        let id = new.id.clone();
        let sealed = match &new.secrets {
            Some(s) => Some(vault.seal(&connection_aad(&id, 0), s)?),
            None => None,
        };
        let now = now();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO connections (id, customer_id, provider, kind, state, credential_hint, sealed,
                 created_at, updated_at, last_checked_at, scopes, access_expires_at, refresh_expires_at,
                 tokens_issued_at, details)
             VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(new.customer_id)
        .bind(new.provider.as_str())
        .bind(new.kind.as_str())
        .bind(&new.credential_hint)
        .bind(&sealed)
        .bind(&now)
        .bind(&now)
        .bind(&now)
        .bind(&new.scopes)
        .bind(&new.access_expires_at)
        .bind(&new.refresh_expires_at)
        .bind(&new.tokens_issued_at)
        .bind(details_json(&new.details))
        .execute(&mut *tx)
        .await?;
        insert_sites(&mut tx, &id, new.provider, new.sites).await?;
        insert_event(
            &mut tx,
            &connected_event(new.customer_id, &id, new.provider, new.sites, actor),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Adds sites to an existing connection (installer-account picks made later).
    pub async fn add_sites(
        &self,
        connection_id: &str,
        customer_id: &str,
        provider: ProviderId,
        sites: &[VendorSite],
        actor: &str,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        insert_sites(&mut tx, connection_id, provider, sites).await?;
        sqlx::query("UPDATE connections SET updated_at = ?, last_checked_at = ? WHERE id = ?")
            .bind(now())
            .bind(now())
            .bind(connection_id)
            .execute(&mut *tx)
            .await?;
        insert_event(
            &mut tx,
            &connected_event(customer_id, connection_id, provider, sites, actor),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A connection's sealed secrets and the generation they are sealed for.
    pub async fn connection_secrets(&self, connection_id: &str) -> Result<Option<SealedRow>> {
        let row = sqlx::query("SELECT sealed, generation FROM connections WHERE id = ?")
            .bind(connection_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("No such connection."))?;
        Ok(row
            .get::<Option<String>, _>("sealed")
            .map(|sealed| SealedRow {
                sealed,
                generation: row.get("generation"),
            }))
    }

    /// The outcome of asking the vendor again: `error` with its reason, or `active` with the
    /// sites as the vendor now lists them (sites are updated, never dropped).
    pub async fn record_check(
        &self,
        connection_id: &str,
        error: Option<&ErrorInfo>,
        sites: &[VendorSite],
        actor: &str,
    ) -> Result<()> {
        let now = now();
        let mut tx = self.write_tx().await?;
        let state = if error.is_some() { "error" } else { "active" };
        sqlx::query(
            "UPDATE connections SET state = ?, last_error_code = ?, last_error_message = ?, last_error_hint = ?,
                last_checked_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(state)
        .bind(error.map(|e| format!("{:?}", e.code)))
        .bind(error.map(|e| e.message.clone()))
        .bind(error.and_then(|e| e.hint.clone()))
        .bind(&now)
        .bind(&now)
        .bind(connection_id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT customer_id, provider FROM connections WHERE id = ?")
            .bind(connection_id)
            .fetch_one(&mut *tx)
            .await?;
        let provider = provider_of(row.get("provider"))?;
        insert_sites(&mut tx, connection_id, provider, sites).await?;
        if let Some(e) = error {
            let customer_id: String = row.get("customer_id");
            insert_event(
                &mut tx,
                &NewEvent {
                    customer_id: Some(&customer_id),
                    connection_id: Some(connection_id),
                    provider: Some(provider),
                    kind: "check_failed",
                    summary: e.message.clone(),
                    actor,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The vendor refused the refresh: the customer must sign in again.
    /// The vendor no longer accepts the grant: `needs_reauth` (it lapsed) or `revoked` (the
    /// customer or the vendor withdrew it). Either way the customer signs in again.
    ///
    /// `kind` names the event: the state's own, or `token_lost` when the refresh token was
    /// spent by a refresh whose answer a crash lost. The lease and the in-flight mark go.
    pub async fn set_grant_refused(
        &self,
        connection_id: &str,
        state: ConnectionState,
        why: &ErrorInfo,
        kind: Option<&str>,
        actor: &str,
    ) -> Result<()> {
        debug_assert!(matches!(
            state,
            ConnectionState::NeedsReauth | ConnectionState::Revoked
        ));
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "UPDATE connections SET state = ?, last_error_code = ?, last_error_message = ?,
                last_error_hint = ?, updated_at = ?, lease_holder = NULL, lease_id = NULL,
                lease_until = NULL, refresh_started_at = NULL
             WHERE id = ? RETURNING customer_id, provider",
        )
        .bind(state.as_str())
        .bind(format!("{:?}", why.code))
        .bind(&why.message)
        .bind(&why.hint)
        .bind(now())
        .bind(connection_id)
        .fetch_one(&mut *tx)
        .await?;
        let customer_id: String = row.get("customer_id");
        insert_event(
            &mut tx,
            &NewEvent {
                customer_id: Some(&customer_id),
                connection_id: Some(connection_id),
                provider: Some(provider_of(row.get("provider"))?),
                kind: kind.unwrap_or(state.as_str()),
                summary: why.message.clone(),
                actor,
            },
        )
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
            "SELECT customer_id, provider, state, last_error_code, last_error_message
             FROM connections WHERE id = ?",
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
        sqlx::query(
            "UPDATE connections SET state = 'error', last_error_code = ?, last_error_message = ?,
                last_error_hint = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&code)
        .bind(&why.message)
        .bind(&why.hint)
        .bind(now())
        .bind(connection_id)
        .execute(&mut *tx)
        .await?;
        if !known {
            let customer_id: String = row.get("customer_id");
            insert_event(
                &mut tx,
                &NewEvent {
                    customer_id: Some(&customer_id),
                    connection_id: Some(connection_id),
                    provider: Some(provider_of(row.get("provider"))?),
                    kind: "refresh_refused",
                    summary: why.message.clone(),
                    actor,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a connection with its sealed secrets and its sites, with an event, in one
    /// transaction.
    pub async fn delete_connection(&self, id: &str, actor: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT customer_id, provider FROM connections WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::not_found("No such connection."))?;
        let provider = provider_of(row.get("provider"))?;
        let customer_id: String = row.get("customer_id");
        sqlx::query("DELETE FROM connections WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_event(
            &mut tx,
            &NewEvent {
                customer_id: Some(&customer_id),
                connection_id: Some(id),
                provider: Some(provider),
                kind: "connection_removed",
                summary: format!(
                    "{} connection removed",
                    crate::providers::spec(provider).name
                ),
                actor,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// For each site of a provider already connected: its external id -> the customer's name.
    pub async fn connected_sites(
        &self,
        provider: ProviderId,
    ) -> Result<HashMap<String, (String, String)>> {
        let rows = sqlx::query(
            "SELECT s.external_id, c.id AS customer_id, c.name FROM sites s
             JOIN connections k ON s.connection_id = k.id JOIN customers c ON k.customer_id = c.id
             WHERE s.provider = ?",
        )
        .bind(provider.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("external_id"), (r.get("customer_id"), r.get("name"))))
            .collect())
    }

    pub async fn events(&self, customer_id: Option<&str>, limit: u32) -> Result<Vec<Event>> {
        // Two statements, not one with "?1 IS NULL OR": SQLite plans a statement once, and that
        // form read the whole log backwards for one customer's entries.
        let rows = match customer_id {
            Some(id) => {
                sqlx::query("SELECT * FROM events WHERE customer_id = ? ORDER BY id DESC LIMIT ?")
                    .bind(id)
                    .bind(limit as i64)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM events ORDER BY id DESC LIMIT ?")
                    .bind(limit as i64)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(Event {
                    id: r.get("id"),
                    at: r.get("at"),
                    customer_id: r.get("customer_id"),
                    connection_id: r.get("connection_id"),
                    provider: r
                        .get::<Option<String>, _>("provider")
                        .map(|p| provider_of(&p))
                        .transpose()?,
                    kind: r.get("kind"),
                    summary: r.get("summary"),
                    actor: r.get("actor"),
                })
            })
            .collect()
    }

    pub async fn add_event(&self, event: &NewEvent<'_>) -> Result<()> {
        let mut tx = self.write_tx().await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

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

    /// The way back chosen in Settings for a provider's sign-in: (mode, relay URL).
    /// For every provider at once: whether an installer account is saved, and the saved way
    /// back for sign-ins (as [`Store::sign_in_return`]). One read for the providers list.
    pub async fn provider_settings(
        &self,
    ) -> Result<HashMap<ProviderId, (bool, Option<RedirectMode>, Option<String>)>> {
        let rows =
            sqlx::query("SELECT provider, kind, redirect_mode, relay_url FROM provider_apps")
                .fetch_all(&self.pool)
                .await?;
        let mut out: HashMap<ProviderId, (bool, Option<RedirectMode>, Option<String>)> =
            HashMap::new();
        for r in rows {
            let Ok(provider) = provider_of(&r.get::<String, _>("provider")) else {
                continue;
            };
            let entry = out.entry(provider).or_default();
            match r.get::<String, _>("kind").as_str() {
                "installer_account" => entry.0 = true,
                "oauth_app" => {
                    entry.1 = r
                        .get::<Option<String>, _>("redirect_mode")
                        .and_then(|m| serde_json::from_value(serde_json::Value::String(m)).ok());
                    entry.2 = r.get("relay_url");
                }
                _ => {}
            }
        }
        Ok(out)
    }

    pub async fn sign_in_return(
        &self,
        provider: ProviderId,
    ) -> Result<(Option<RedirectMode>, Option<String>)> {
        let row = sqlx::query(
            "SELECT redirect_mode, relay_url FROM provider_apps WHERE provider = ? AND kind = 'oauth_app'",
        )
        .bind(provider.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => (
                r.get::<Option<String>, _>("redirect_mode")
                    .and_then(|m| serde_json::from_value(serde_json::Value::String(m)).ok()),
                r.get("relay_url"),
            ),
            None => (None, None),
        })
    }

    pub async fn put_sign_in_return(
        &self,
        provider: ProviderId,
        mode: RedirectMode,
        relay_url: Option<&str>,
    ) -> Result<()> {
        let mode = serde_json::to_value(mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        sqlx::query(
            "INSERT INTO provider_apps (provider, kind, redirect_mode, relay_url, updated_at)
             VALUES (?, 'oauth_app', ?, ?, ?)
             ON CONFLICT (provider, kind) DO UPDATE SET redirect_mode = excluded.redirect_mode,
                relay_url = excluded.relay_url, updated_at = excluded.updated_at",
        )
        .bind(provider.as_str())
        .bind(mode)
        .bind(relay_url)
        .bind(now())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A vendor app registration's client id and its sealed secrets (client secret, API key).
    /// A row without secrets (only a way back chosen in Settings) is no app.
    pub async fn oauth_app(&self, provider: ProviderId) -> Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT client_id, sealed FROM provider_apps WHERE provider = ? AND kind = 'oauth_app'
                AND client_id IS NOT NULL",
        )
        .bind(provider.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| Some((r.get("client_id"), r.get::<Option<String>, _>("sealed")?))))
    }

    /// Saves a vendor app: its client id and sealed secrets in one row, with an event.
    pub async fn put_oauth_app(
        &self,
        provider: ProviderId,
        client_id: &str,
        vault: &Vault,
        secrets: &Secrets,
        actor: &str,
    ) -> Result<()> {
        let sealed = vault.seal(&app_aad(&app_row(provider, "oauth_app")), secrets)?;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO provider_apps (provider, kind, client_id, sealed, updated_at)
             VALUES (?, 'oauth_app', ?, ?, ?)
             ON CONFLICT (provider, kind) DO UPDATE SET client_id = excluded.client_id,
                sealed = excluded.sealed, secret_ref = NULL, updated_at = excluded.updated_at",
        )
        .bind(provider.as_str())
        .bind(client_id)
        .bind(&sealed)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        insert_event(
            &mut tx,
            &provider_event(
                provider,
                "app_saved",
                &format!("app saved (client id {client_id})"),
                actor,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A `provider_apps` row's key, which its sealed secrets are bound to.
pub fn app_row(provider: ProviderId, kind: &str) -> String {
    format!("{}/{kind}", provider.as_str())
}

fn details_json(d: &std::collections::BTreeMap<String, String>) -> Option<String> {
    (!d.is_empty()).then(|| serde_json::to_string(d).unwrap_or_default())
}

impl Store {
    /// Replaces a connection's tokens' facts after a new grant for it (re-authorization,
    /// Pelm's update mode): scope, expiries, details and sites, with an event. A refresh writes
    /// the same facts through [`Store::queue_refresh`].
    #[allow(clippy::too_many_arguments)]
    pub async fn update_grant(
        &self,
        connection_id: &str,
        scopes: Option<&str>,
        access_expires_at: Option<&str>,
        refresh_expires_at: Option<&str>,
        tokens_issued_at: Option<&str>,
        details: Option<&std::collections::BTreeMap<String, String>>,
        sites: Option<&[VendorSite]>,
        (vault, secrets): (&Vault, &Secrets),
        event: Option<NewEvent<'_>>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        // The new grant replaces the old whatever a refresh of it is doing: the generation moves
        // on, so a holder of the old lease can no longer write.
        let generation: i64 = sqlx::query_scalar("SELECT generation FROM connections WHERE id = ?")
            .bind(connection_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::not_found("No such connection."))?;
        let sealed = vault.seal(&connection_aad(connection_id, generation + 1), secrets)?;
        sqlx::query(
            "UPDATE connections SET
                sealed = ?, generation = generation + 1, lease_holder = NULL, lease_id = NULL,
                lease_until = NULL, refresh_started_at = NULL,
                scopes = COALESCE(?, scopes),
                access_expires_at = ?,
                refresh_expires_at = COALESCE(?, refresh_expires_at),
                tokens_issued_at = COALESCE(?, tokens_issued_at),
                details = COALESCE(?, details),
                state = 'active', last_error_code = NULL, last_error_message = NULL, last_error_hint = NULL,
                updated_at = ?, last_checked_at = ?
             WHERE id = ?",
        )
        .bind(&sealed)
        .bind(scopes)
        .bind(access_expires_at)
        .bind(refresh_expires_at)
        .bind(tokens_issued_at)
        .bind(details.and_then(details_json))
        .bind(now())
        .bind(now())
        .bind(connection_id)
        .execute(&mut *tx)
        .await?;
        if let Some(sites) = sites {
            let provider: String =
                sqlx::query_scalar("SELECT provider FROM connections WHERE id = ?")
                    .bind(connection_id)
                    .fetch_one(&mut *tx)
                    .await?;
            insert_sites(&mut tx, connection_id, provider_of(&provider)?, sites).await?;
        }
        if let Some(e) = event {
            insert_event(&mut tx, &e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queues a refresh's outcome for writing and returns the write, still going. Refreshes
    /// finishing close together are written together, in one transaction (group commit): a
    /// task writes everything waiting, then what came meanwhile, so a sweep pays for a few
    /// statements per batch rather than four per refresh, and its refreshes need not wait for
    /// the disk. The returned future ends when this refresh's write is committed (or failed),
    /// with how long it waited from the vendor's answer to the durable commit.
    pub fn queue_refresh(
        &self,
        record: RefreshRecord,
    ) -> impl std::future::Future<Output = Result<std::time::Duration>> + Send + 'static {
        let (done, outcome) = tokio::sync::oneshot::channel();
        lock(&self.refreshes.waiting).push((record, done));
        if !self
            .refreshes
            .flushing
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            let store = self.clone();
            tokio::spawn(async move { store.flush_refreshes().await });
        }
        async move {
            outcome.await.unwrap_or_else(|_| {
                Err(Error::new(
                    Code::Storage,
                    "Saving the refreshed tokens' expiry was interrupted.",
                ))
            })
        }
    }

    /// Writes the waiting refreshes, batch after batch, until none are left.
    async fn flush_refreshes(&self) {
        use std::sync::atomic::Ordering;
        /// At most this many refreshes in one transaction (keeps each write short).
        const BATCH: usize = 256;
        /// Lowers the flag if the task is dropped mid-write (its runtime shut down), so the
        /// next refresh starts a new one.
        struct Abandoned<'a>(Option<&'a std::sync::atomic::AtomicBool>);
        impl Drop for Abandoned<'_> {
            fn drop(&mut self) {
                if let Some(flag) = self.0 {
                    flag.store(false, Ordering::Release);
                }
            }
        }
        let mut abandoned = Abandoned(Some(&self.refreshes.flushing));
        loop {
            let batch: Vec<_> = {
                let mut waiting = lock(&self.refreshes.waiting);
                let n = waiting.len().min(BATCH);
                waiting.drain(..n).collect()
            };
            if batch.is_empty() {
                abandoned.0 = None;
                self.refreshes.flushing.store(false, Ordering::Release);
                // A refresh queued after the drain but before the flag fell found it still
                // up and spawned nobody: take its write, unless another task already has.
                if lock(&self.refreshes.waiting).is_empty()
                    || self.refreshes.flushing.swap(true, Ordering::AcqRel)
                {
                    return;
                }
                abandoned.0 = Some(&self.refreshes.flushing);
                continue;
            }
            let (records, waiters): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            match self.write_refreshes(&records).await {
                Ok(landed) => {
                    let windows = self.note_windows(records.iter().map(|r| r.answered));
                    for (((w, landed), r), window) in
                        waiters.into_iter().zip(landed).zip(&records).zip(windows)
                    {
                        let _ = w.send(if landed {
                            Ok(window)
                        } else {
                            Err(custody::lease_lost(r.provider))
                        });
                    }
                }
                Err(e) => {
                    for w in waiters {
                        let _ = w.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// Writes a batch of refreshes in one transaction, each fenced: it lands only where the
    /// connection is still at the generation the refresh started from and still leased to it.
    /// Says for each record whether it landed.
    async fn write_refreshes(&self, records: &[RefreshRecord]) -> Result<Vec<bool>> {
        let now = now();
        let updates = serde_json::Value::Array(
            records
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.connection_id,
                        "generation": r.generation,
                        "lease_id": r.lease_id,
                        "sealed": r.sealed,
                        "scopes": r.scopes,
                        "access_expires_at": r.access_expires_at,
                        "refresh_expires_at": r.refresh_expires_at,
                        "tokens_issued_at": r.tokens_issued_at,
                        "learned": details_json(&r.learned),
                    })
                })
                .collect(),
        );
        let mut tx = self.write_tx().await?;
        let landed: std::collections::HashSet<String> = sqlx::query_scalar(
            "UPDATE connections SET
                sealed = u.sealed, generation = connections.generation + 1,
                lease_holder = NULL, lease_id = NULL, lease_until = NULL, refresh_started_at = NULL,
                scopes = COALESCE(u.scopes, connections.scopes),
                access_expires_at = u.access_expires_at,
                refresh_expires_at = COALESCE(u.refresh_expires_at, connections.refresh_expires_at),
                tokens_issued_at = COALESCE(u.tokens_issued_at, connections.tokens_issued_at),
                details = CASE WHEN u.learned IS NULL THEN connections.details
                               ELSE json_patch(COALESCE(connections.details, '{}'), u.learned) END,
                state = 'active', last_error_code = NULL, last_error_message = NULL, last_error_hint = NULL,
                updated_at = ?, last_checked_at = ?
             FROM (SELECT json_extract(value, '$.id') AS id,
                          json_extract(value, '$.generation') AS generation,
                          json_extract(value, '$.lease_id') AS lease_id,
                          json_extract(value, '$.sealed') AS sealed,
                          json_extract(value, '$.scopes') AS scopes,
                          json_extract(value, '$.access_expires_at') AS access_expires_at,
                          json_extract(value, '$.refresh_expires_at') AS refresh_expires_at,
                          json_extract(value, '$.tokens_issued_at') AS tokens_issued_at,
                          json_extract(value, '$.learned') AS learned
                   FROM json_each(?)) AS u
             WHERE connections.id = u.id AND connections.generation = u.generation
                AND connections.lease_id = u.lease_id
             RETURNING connections.id",
        )
        .bind(&now)
        .bind(&now)
        .bind(updates.to_string())
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let events = serde_json::Value::Array(
            records
                .iter()
                .filter(|r| landed.contains(&r.connection_id))
                .map(|r| {
                    serde_json::json!({
                        "customer_id": r.customer_id,
                        "connection_id": r.connection_id,
                        "provider": r.provider.as_str(),
                        "summary": r.summary,
                        "actor": r.actor,
                    })
                })
                .collect(),
        );
        sqlx::query(
            "INSERT INTO events (at, customer_id, connection_id, provider, kind, summary, actor)
             SELECT ?, json_extract(value, '$.customer_id'), json_extract(value, '$.connection_id'),
                    json_extract(value, '$.provider'), 'refreshed', json_extract(value, '$.summary'),
                    json_extract(value, '$.actor')
             FROM json_each(?) ORDER BY key",
        )
        .bind(&now)
        .bind(events.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(records
            .iter()
            .map(|r| landed.contains(&r.connection_id))
            .collect())
    }

    /// When the connection's access token expires, if Onramp knows.
    pub async fn access_expires_at(&self, connection_id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT access_expires_at FROM connections WHERE id = ?")
                .bind(connection_id)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }

    /// Writes meters' usage summaries and an event in one transaction. A series already stored
    /// under the same `source_key` for this customer is replaced, months and all.
    pub async fn put_usage(
        &self,
        customer_id: &str,
        connection_id: Option<&str>,
        source: &str,
        series: &[NewSeries],
        event: &NewEvent<'_>,
    ) -> Result<Vec<String>> {
        let mut tx = self.write_tx().await?;
        let now = now();
        let mut ids = Vec::new();
        for s in series {
            let id: String = sqlx::query_scalar(
                "INSERT INTO usage_series (id, customer_id, connection_id, source_key, source, title,
                     commodity, flow, unit, currency, readings, first_at, last_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (customer_id, source_key) DO UPDATE SET
                     connection_id = excluded.connection_id, source = excluded.source,
                     title = excluded.title, commodity = excluded.commodity, flow = excluded.flow,
                     unit = excluded.unit, currency = excluded.currency, readings = excluded.readings,
                     first_at = excluded.first_at, last_at = excluded.last_at,
                     updated_at = excluded.updated_at
                 RETURNING id",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(customer_id)
            .bind(connection_id)
            .bind(&s.source_key)
            .bind(source)
            .bind(&s.title)
            .bind(&s.commodity)
            .bind(&s.flow)
            .bind(&s.unit)
            .bind(&s.currency)
            .bind(s.readings)
            .bind(&s.first_at)
            .bind(&s.last_at)
            .bind(&now)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM usage_months WHERE series_id = ?")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            for m in &s.months {
                sqlx::query(
                    "INSERT INTO usage_months (series_id, month, energy, cost) VALUES (?, ?, ?, ?)",
                )
                .bind(&id)
                .bind(&m.month)
                .bind(m.energy)
                .bind(m.cost)
                .execute(&mut *tx)
                .await?;
            }
            ids.push(id);
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// A customer's usage summaries, newest first, months ascending.
    pub async fn usage(&self, customer_id: &str) -> Result<Vec<UsageSeries>> {
        let rows = sqlx::query(
            "SELECT * FROM usage_series WHERE customer_id = ? ORDER BY updated_at DESC, source, title, id",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        let month_rows = sqlx::query(
            "SELECT m.* FROM usage_months m JOIN usage_series s ON m.series_id = s.id
             WHERE s.customer_id = ? ORDER BY m.month",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        let mut months: HashMap<String, Vec<UsageMonth>> = HashMap::new();
        for r in &month_rows {
            months
                .entry(r.get("series_id"))
                .or_default()
                .push(UsageMonth {
                    month: r.get("month"),
                    energy: r.get("energy"),
                    cost: r.get("cost"),
                });
        }
        Ok(rows
            .iter()
            .map(|r| {
                let id: String = r.get("id");
                UsageSeries {
                    months: months.remove(&id).unwrap_or_default(),
                    customer_id: r.get("customer_id"),
                    connection_id: r.get("connection_id"),
                    source: r.get("source"),
                    title: r.get("title"),
                    commodity: r.get("commodity"),
                    flow: r.get("flow"),
                    unit: r.get("unit"),
                    currency: r.get("currency"),
                    readings: r.get("readings"),
                    first_at: r.get("first_at"),
                    last_at: r.get("last_at"),
                    updated_at: r.get("updated_at"),
                    id,
                }
            })
            .collect())
    }
}

/// An event about a provider's account or app rather than a customer.
pub(crate) fn provider_event<'a>(
    provider: ProviderId,
    kind: &'a str,
    what: &str,
    actor: &'a str,
) -> NewEvent<'a> {
    NewEvent {
        customer_id: None,
        connection_id: None,
        provider: Some(provider),
        kind,
        summary: format!("{} {what}", crate::providers::spec(provider).name),
        actor,
    }
}

fn connected_event<'a>(
    customer_id: &'a str,
    connection_id: &'a str,
    provider: ProviderId,
    sites: &[VendorSite],
    actor: &'a str,
) -> NewEvent<'a> {
    let spec = crate::providers::spec(provider);
    let names: Vec<&str> = sites.iter().take(3).map(|s| s.name.as_str()).collect();
    let more = sites.len().saturating_sub(names.len());
    let noun = if sites.len() == 1 {
        spec.site_noun.to_string()
    } else {
        format!("{}s", spec.site_noun)
    };
    let mut summary = format!(
        "{} connected: {} {noun} ({}",
        spec.name,
        sites.len(),
        names.join(", ")
    );
    if more > 0 {
        summary.push_str(&format!(" and {more} more"));
    }
    summary.push(')');
    NewEvent {
        customer_id: Some(customer_id),
        connection_id: Some(connection_id),
        provider: Some(provider),
        kind: "connected",
        summary,
        actor,
    }
}

async fn insert_sites(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    connection_id: &str,
    provider: ProviderId,
    sites: &[VendorSite],
) -> Result<()> {
    let now = now();
    for s in sites {
        sqlx::query(
            "INSERT INTO sites (id, connection_id, provider, external_id, name, address, peak_power_kw, status, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (connection_id, external_id) DO UPDATE SET
                name = excluded.name, address = excluded.address,
                peak_power_kw = excluded.peak_power_kw, status = excluded.status",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(connection_id)
        .bind(provider.as_str())
        .bind(&s.external_id)
        .bind(&s.name)
        .bind(&s.address)
        .bind(s.peak_power_kw)
        .bind(&s.status)
        .bind(&now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    e: &NewEvent<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (at, customer_id, connection_id, provider, kind, summary, actor)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(now())
    .bind(e.customer_id)
    .bind(e.connection_id)
    .bind(e.provider.map(|p| p.as_str()))
    .bind(e.kind)
    .bind(&e.summary)
    .bind(e.actor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A `connections` row as a [`Connection`], with its sites.
fn sites_by_connection(rows: &[SqliteRow]) -> Result<HashMap<String, Vec<Site>>> {
    let mut sites: HashMap<String, Vec<Site>> = HashMap::new();
    for r in rows {
        let site = Site {
            id: r.get("id"),
            connection_id: r.get("connection_id"),
            provider: provider_of(r.get("provider"))?,
            external_id: r.get("external_id"),
            name: r.get("name"),
            address: r.get("address"),
            peak_power_kw: r.get("peak_power_kw"),
            status: r.get("status"),
        };
        sites
            .entry(site.connection_id.clone())
            .or_default()
            .push(site);
    }
    Ok(sites)
}

fn connection_of(r: &SqliteRow, sites: Vec<Site>) -> Result<Connection> {
    let last_error = r
        .get::<Option<String>, _>("last_error_code")
        .map(|code| ErrorInfo {
            code: parse_code(&code),
            message: r
                .get::<Option<String>, _>("last_error_message")
                .unwrap_or_default(),
            hint: r.get("last_error_hint"),
        });
    Ok(Connection {
        id: r.get("id"),
        customer_id: r.get("customer_id"),
        provider: provider_of(r.get("provider"))?,
        kind: CredentialKind::parse(r.get("kind"))
            .ok_or_else(|| Error::storage("unknown connection kind"))?,
        state: ConnectionState::parse(r.get("state"))
            .ok_or_else(|| Error::storage("unknown connection state"))?,
        credential_hint: r.get("credential_hint"),
        last_error,
        created_at: r.get("created_at"),
        last_checked_at: r.get("last_checked_at"),
        sites,
        scopes: r.get("scopes"),
        details: r
            .get::<Option<String>, _>("details")
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or_default(),
        access_expires_at: r.get("access_expires_at"),
        refresh_expires_at: r.get("refresh_expires_at"),
        tokens_issued_at: r.get("tokens_issued_at"),
    })
}

/// An error code as stored (`format!("{:?}", code)`).
pub(crate) fn parse_code(code: &str) -> Code {
    serde_json::from_value(serde_json::Value::String(code.to_string())).unwrap_or(Code::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("onramp.sqlite"))
            .await
            .unwrap();
        (dir, s)
    }

    fn site(id: &str, name: &str) -> VendorSite {
        VendorSite {
            external_id: id.into(),
            name: name.into(),
            address: Some("1 Main St".into()),
            peak_power_kw: Some(6.5),
            status: Some("Active".into()),
        }
    }

    #[tokio::test]
    async fn customers_are_searchable_and_counted() {
        let (_d, s) = store().await;
        let a = s
            .insert_customer(
                &NewCustomer {
                    name: " Ada Garcia ".into(),
                    job_number: Some("J-100".into()),
                    ..Default::default()
                },
                "app",
            )
            .await
            .unwrap();
        s.insert_customer(
            &NewCustomer {
                name: "Ben Okafor".into(),
                address: Some("12 Elm St, Fresno".into()),
                ..Default::default()
            },
            "app",
        )
        .await
        .unwrap();
        assert_eq!(a.name, "Ada Garcia");
        assert_eq!(s.list_customers(None).await.unwrap().len(), 2);
        let hits = s.list_customers(Some("fresno")).await.unwrap();
        assert_eq!(
            hits.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["Ben Okafor"]
        );
        assert_eq!(s.list_customers(Some("J-100")).await.unwrap()[0].id, a.id);
        assert!(
            s.list_customers(Some("%")).await.unwrap().is_empty(),
            "LIKE wildcards are escaped"
        );

        let vault = Vault::in_memory(s.store_id());
        assert!(vault.unlock(&s).await.available);
        s.insert_connection(
            &NewConnection {
                id: new_id(),
                customer_id: &a.id,
                provider: ProviderId::Solaredge,
                kind: CredentialKind::CustomerKey,
                credential_hint: Some("…ABCD".into()),
                secrets: Some(
                    Secrets::new().with("api_key", &crate::vault::Sensitive::new("K".into())),
                ),
                sites: &[site("1", "Garcia Residence"), site("2", "Garcia Barn")],
                scopes: None,
                access_expires_at: None,
                refresh_expires_at: None,
                tokens_issued_at: None,
                details: Default::default(),
            },
            &vault,
            "app",
        )
        .await
        .unwrap();
        let list = s.list_customers(Some("ada")).await.unwrap();
        assert_eq!((list[0].connected, list[0].sites), (1, 2));
        let conns = s.connections_for(&a.id).await.unwrap();
        assert_eq!(conns[0].sites.len(), 2);
        let events = s.events(Some(&a.id), 10).await.unwrap();
        assert_eq!(events[0].kind, "connected");
        assert!(
            events[0].summary.contains("2 sites"),
            "{}",
            events[0].summary
        );
    }

    #[tokio::test]
    async fn a_customer_needs_a_name() {
        let (_d, s) = store().await;
        let e = s
            .insert_customer(&NewCustomer::default(), "app")
            .await
            .unwrap_err();
        assert_eq!(e.code, Code::Validation);
        assert!(s.list_customers(None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_store_id_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.sqlite");
        let id = Store::open(&p).await.unwrap().store_id().to_string();
        assert_eq!(Store::open(&p).await.unwrap().store_id(), id);
    }
}
