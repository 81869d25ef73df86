//! The sandbox's own SQLite file (persistent mode, the Sandbox environment): each vendor's books
//! (grants, codes, access and refresh tokens with their rotation links, sessions, enrollments),
//! the ports the vendors listen on, the seed their keys come from, and the directory (endpoints,
//! demo apps and keys) that other processes on the same data folder wire themselves to.
//!
//! It is not Onramp's store: it is the vendors' side of the Sandbox, kept apart from it
//! (`sandbox-vendors.sqlite` beside `sandbox.sqlite`), 0600 from its creation like every file of
//! the data folder. Every answer a vendor gives is durable here before it goes out
//! ([`durable`]): a rotation the sandbox answered survives the sandbox being killed, as at a real
//! vendor. The tokens in it are the sandbox's own: they open simulated data on loopback only.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// The file name, in the data folder.
pub const FILE: &str = "sandbox-vendors.sqlite";

/// What this version writes; a file from a later version is refused rather than misread.
const FORMAT: i64 = 1;

fn io_err(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

/// The vendors' SQLite file.
pub(crate) struct VendorStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl VendorStore {
    /// Opens the file, creating it (0600) and its tables on first use.
    pub(crate) async fn open(path: &Path) -> io::Result<VendorStore> {
        create_private(path)?;
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| io_err("sandbox store", e))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A commit reaches the disk before the vendor answers.
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| io_err(&format!("cannot open {}", path.display()), e))?;
        let store = VendorStore {
            pool,
            path: path.to_path_buf(),
        };
        store.create_tables().await?;
        Ok(store)
    }

    async fn create_tables(&self) -> io::Result<()> {
        for sql in [
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS ports (server TEXT PRIMARY KEY, port INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS vendor_books (vendor TEXT PRIMARY KEY, books TEXT NOT NULL, saved_at INTEGER NOT NULL)",
        ] {
            sqlx::query(sql)
                .execute(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        }
        match self.meta("format").await? {
            None => self.set_meta("format", &FORMAT.to_string()).await,
            Some(f) if f.parse::<i64>().is_ok_and(|f| f <= FORMAT) => Ok(()),
            Some(f) => Err(io::Error::other(format!(
                "{} was written by a later Onramp (format {f}); this one reads format {FORMAT}",
                self.path.display()
            ))),
        }
    }

    fn err(&self, e: sqlx::Error) -> io::Error {
        io_err(&self.path.display().to_string(), e)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) async fn meta(&self, key: &str) -> io::Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    pub(crate) async fn set_meta(&self, key: &str, value: &str) -> io::Result<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The seed the vendors' keys and fleets come from: the one recorded at the file's creation
    /// (`seed` is recorded if none is yet), so the demo keys stay the same.
    pub(crate) async fn seed(&self, seed: u64) -> io::Result<u64> {
        if let Some(s) = self.meta("seed").await?.and_then(|s| s.parse().ok()) {
            return Ok(s);
        }
        self.set_meta("seed", &seed.to_string()).await?;
        Ok(seed)
    }

    /// The port each server listened on last.
    pub(crate) async fn ports(&self) -> io::Result<HashMap<String, u16>> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT server, port FROM ports")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, p)| u16::try_from(p).ok().map(|p| (s, p)))
            .collect())
    }

    pub(crate) async fn save_ports(&self, ports: &HashMap<String, u16>) -> io::Result<()> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        for (server, port) in ports {
            sqlx::query("INSERT INTO ports (server, port) VALUES (?, ?) ON CONFLICT(server) DO UPDATE SET port = excluded.port")
                .bind(server)
                .bind(i64::from(*port))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    /// A vendor's books as last saved.
    pub(crate) async fn books(&self, vendor: &str) -> io::Result<Option<String>> {
        sqlx::query_scalar("SELECT books FROM vendor_books WHERE vendor = ?")
            .bind(vendor)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    async fn save_books(&self, vendor: &str, books: &str) -> io::Result<()> {
        sqlx::query("INSERT INTO vendor_books (vendor, books, saved_at) VALUES (?, ?, ?) ON CONFLICT(vendor) DO UPDATE SET books = excluded.books, saved_at = excluded.saved_at")
            .bind(vendor)
            .bind(books)
            .bind(unix_ms(Instant::now()))
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the file if missing and makes it 0600, leaving its content (SQLite gives its -wal
/// and -shm files the same permissions).
pub(crate) fn create_private(path: &Path) -> io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let f = o.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// A moment as wall-clock milliseconds since the epoch (how the books are saved).
pub(crate) fn unix_ms(at: Instant) -> i64 {
    let (now, wall) = (Instant::now(), SystemTime::now());
    let wall_at = if at >= now {
        wall + (at - now)
    } else {
        wall - (now - at)
    };
    match wall_at.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// The moment saved as [`unix_ms`]. A moment too far back for this machine's monotonic clock
/// (before it booted) comes back as the earliest one it has: long past either way.
pub(crate) fn instant(ms: i64) -> Instant {
    let (now, wall) = (Instant::now(), SystemTime::now());
    let wall_at = if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    };
    match wall_at.duration_since(wall) {
        Ok(ahead) => now + ahead,
        Err(e) => {
            let mut back = e.duration();
            loop {
                if let Some(t) = now.checked_sub(back) {
                    return t;
                }
                back /= 2;
            }
        }
    }
}

/// One vendor's books, saved after every request that changed them.
pub(crate) struct Durable {
    pub(crate) vendor: String,
    pub(crate) store: Arc<VendorStore>,
    /// The books as JSON, the same text for the same books.
    pub(crate) save: Box<dyn Fn() -> String + Send + Sync>,
    /// Puts the books back as saved (after a write that failed).
    pub(crate) restore: Box<dyn Fn(&str) + Send + Sync>,
    /// What the file holds now; the lock also keeps saves in order.
    pub(crate) last: tokio::sync::Mutex<String>,
}

impl Durable {
    async fn commit(&self) -> io::Result<()> {
        let mut last = self.last.lock().await;
        let now = (self.save)();
        if now == *last {
            return Ok(());
        }
        match self.store.save_books(&self.vendor, &now).await {
            Ok(()) => {
                *last = now;
                Ok(())
            }
            Err(e) => {
                // What was not recorded did not happen: the books go back to the file's.
                (self.restore)(&last);
                Err(e)
            }
        }
    }
}

/// Middleware: the vendor's answer goes out only once what it changed is in the file. If the
/// file cannot be written the vendor answers 503 and forgets the change.
pub(crate) async fn durable(
    State(d): State<Arc<Durable>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    match d.commit().await {
        Ok(()) => response,
        Err(e) => {
            tracing::error!(vendor = %d.vendor, error = %e, "the sandbox could not record an answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"error": "temporarily_unavailable",
                    "error_description": "The sandbox could not record this request; try again"})),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_survive_the_round_trip() {
        let now = Instant::now();
        for at in [
            now,
            now + Duration::from_secs(3600),
            now - Duration::from_millis(1500),
        ] {
            let back = instant(unix_ms(at));
            let diff = if back > at { back - at } else { at - back };
            assert!(diff < Duration::from_millis(5), "{diff:?}");
        }
        // Before this machine booted: long past, still earlier than now.
        assert!(instant(0) < Instant::now());
    }
}
