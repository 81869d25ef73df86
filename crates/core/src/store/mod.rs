//! SQLite through sqlx: the only place that writes SQL. Secrets come here only sealed
//! ([`crate::seal`]): each row keeps its own in a `sealed` column, written in the same
//! transaction as the row's state.

mod accounts;
mod backup;
mod connection_state;
mod connections;
mod custody;
mod customers;
mod events;
mod provider_apps;
mod refresh;
mod settings;
mod sign_ins;
mod sites;
mod usage;

/// Shared with the parsers (`crate::usage`), which stay below the store.
pub use crate::model::NewSeries;
pub use accounts::{AccountLease, AccountRow, AccountState, AccountTokens};
pub use backup::{
    would_replace, ConnectionRow, CustomerRow, EventRow, KeyChange, ProviderAppRow, SiteRow,
    Snapshot, UsageMonthRow, UsageSeriesRow,
};
pub use connection_state::GrantRefused;
pub use connections::{NewConnection, NewGrant, NewSites};
pub(crate) use custody::lease_lost;
pub use custody::{LeaseHolder, Leased, LegacyRow, SealedRow, LEASE};
pub use events::NewEvent;
pub use provider_apps::app_row;
use refresh::RefreshQueue;
pub use refresh::RefreshRecord;
pub use sign_ins::{Consumed, PendingRow};

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;

use crate::clock::{Clock, SystemClock};
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::seal::{Aad, Secrets};
use crate::vault::Vault;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations");

/// A time as the store writes it: RFC 3339 in UTC, to the second.
pub fn stamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    rfc3339(t.replace_nanosecond(0).unwrap_or(t))
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
    /// Where the times the store writes come from: the system clock from [`Store::open`],
    /// replaced by [`Store::set_clock`] (as `Onramp::set_lifecycle` does) for every copy of
    /// this store at once. Leases are the exception: they coordinate with other processes,
    /// so they run on the system's time ([`custody`]).
    clock: std::sync::Arc<std::sync::RwLock<std::sync::Arc<dyn Clock>>>,
    /// The installer's name (Settings), written with every event ([`settings`]).
    installer: std::sync::Arc<std::sync::RwLock<Option<String>>>,
}

/// A new row id: a time-ordered UUID (version 7), so rows made together sit together in the
/// store's indexes. A sweep refreshes connections in the order they were made, and the pages its
/// commits rewrite (the rows, the activity log's index by customer) are then a few neighbours
/// rather than one page per refresh scattered over the file.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
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

pub use crate::clock::rfc3339;

fn provider_of(s: &str) -> Result<ProviderId> {
    ProviderId::parse(s).ok_or_else(|| {
        Error::unreadable("a provider's name", format_args!("unknown provider {s:?}"))
    })
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
        let store = Store {
            pool,
            writer,
            refreshes: Default::default(),
            store_id,
            holder,
            windows: Default::default(),
            clock: std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(SystemClock))),
            installer: Default::default(),
        };
        store.load_settings().await?;
        Ok(store)
    }

    /// Replaces the clock the store stamps its writes with (every copy of this store).
    pub fn set_clock(&self, clock: std::sync::Arc<dyn Clock>) {
        *self.clock.write().unwrap_or_else(|p| p.into_inner()) = clock;
    }

    /// Now, by the store's clock, as the store writes it ([`stamp`]).
    pub(crate) fn now(&self) -> String {
        stamp(self.clock.read().unwrap_or_else(|p| p.into_inner()).now())
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
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An error code as stored (`format!("{:?}", code)`).
pub(crate) fn parse_code(code: &str) -> Code {
    serde_json::from_value(serde_json::Value::String(code.to_string())).unwrap_or(Code::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::words;

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
                words::customer_created("Ada Garcia", "app"),
            )
            .await
            .unwrap();
        s.insert_customer(
            &NewCustomer {
                name: "Ben Okafor".into(),
                address: Some("12 Elm St, Fresno".into()),
                ..Default::default()
            },
            words::customer_created("Ben Okafor", "app"),
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
        let new = NewConnection {
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
        };
        s.insert_connection(&new, &vault, &words::new_connection(&new, "app"))
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
            .insert_customer(&NewCustomer::default(), words::customer_created("", "app"))
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

    #[tokio::test]
    async fn every_time_the_store_writes_comes_from_its_clock() {
        let (_d, s) = store().await;
        let start = time::macros::datetime!(2031-05-04 03:02:01.5 UTC);
        s.set_clock(crate::clock::ManualClock::new(start));
        let c = s
            .insert_customer(
                &NewCustomer {
                    name: "Ada".into(),
                    ..Default::default()
                },
                words::customer_created("Ada", "app"),
            )
            .await
            .unwrap();
        assert_eq!(c.created_at, "2031-05-04T03:02:01Z");
        let copy = s.clone();
        let events = copy.events(Some(&c.id), 10).await.unwrap();
        assert_eq!(events[0].at, "2031-05-04T03:02:01Z");
        assert_eq!(events[0].kind, EventKind::CustomerCreated);
    }

    #[tokio::test]
    async fn unreadable_details_are_an_error_not_an_empty_set() {
        let (_d, s) = store().await;
        let c = s
            .insert_customer(
                &NewCustomer {
                    name: "Ada".into(),
                    ..Default::default()
                },
                words::customer_created("Ada", "app"),
            )
            .await
            .unwrap();
        let vault = Vault::in_memory(s.store_id());
        let new = NewConnection {
            id: new_id(),
            customer_id: &c.id,
            provider: ProviderId::Solaredge,
            kind: CredentialKind::CustomerKey,
            credential_hint: None,
            secrets: None,
            sites: &[],
            scopes: None,
            access_expires_at: None,
            refresh_expires_at: None,
            tokens_issued_at: None,
            details: ConnectionDetails {
                utility: Some("pge".into()),
                ..Default::default()
            },
        };
        s.insert_connection(&new, &vault, &words::new_connection(&new, "app"))
            .await
            .unwrap();
        assert_eq!(
            s.grant(&new.id).await.unwrap().details.utility.as_deref(),
            Some("pge")
        );
        sqlx::query("UPDATE connections SET details = '{\"utility\": 7}' WHERE id = ?")
            .bind(&new.id)
            .execute(&s.writer)
            .await
            .unwrap();
        let e = s.grant(&new.id).await.unwrap_err();
        assert_eq!(e.code, Code::Storage);
        assert!(
            e.message
                .contains("cannot read the details saved for connection"),
            "{}",
            e.message
        );
        assert!(e.details.is_some_and(|d| d.contains("invalid type")));
    }
}
