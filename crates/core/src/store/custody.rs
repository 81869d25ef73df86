//! Custody of grants in the store: who may spend a refresh token (a lease, across processes),
//! the fence that keeps a holder who lost its lease from writing, the in-flight mark a crash
//! leaves behind, and moving secrets between keys and layouts.
//!
//! The contract, which a PostgreSQL store keeps the same way (`UPDATE ... RETURNING` and row
//! conditions are all it needs):
//! - A refresh first takes the connection's lease in a short transaction: it succeeds only if
//!   nobody holds it, the lease ran out, or its holder is known dead. Taking it sets
//!   `refresh_started_at` unless it is already set (then an earlier refresh never finished: the
//!   connection is *in doubt*).
//! - The rotated tokens are written with `WHERE generation = ? AND lease_id = ?` and bump the
//!   generation: a holder that lost its lease (it stalled past its expiry and someone else took
//!   over) writes nothing.
//! - Holders on this machine prove they are alive with a lock on a file of their own
//!   (`holders/{id}.lock` in the data folder, held for the process's life): a lease whose holder
//!   died is taken over at once, not after it runs out. A hub's replicas rely on expiry alone.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use sqlx::Row;

use super::Store;
use crate::error::{Code, Error, Result};
use crate::model::ProviderId;

/// How long a lease lasts: longer than any token request may take (30 s by default).
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(120);

/// A row's sealed secrets and the generation they are sealed for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedRow {
    pub sealed: String,
    pub generation: i64,
}

/// A connection whose lease this process now holds.
#[derive(Clone, Debug)]
pub struct Leased {
    pub connection_id: String,
    pub lease_id: String,
    pub generation: i64,
    pub sealed: Option<String>,
    /// An earlier refresh started at this time and never finished (its holder died, or its
    /// answer was lost): the refresh token may already be spent.
    pub in_doubt_since: Option<String>,
    /// When this process took it.
    pub taken: std::time::Instant,
}

impl crate::vault::KeyRecord for Store {
    fn meta(&self, key: &str) -> impl std::future::Future<Output = Result<Option<String>>> + Send {
        Store::meta(self, key)
    }

    fn init_data_key(
        &self,
        key_id: &str,
        check: &str,
    ) -> impl std::future::Future<Output = Result<String>> + Send {
        Store::init_data_key(self, key_id, check)
    }
}

/// The refresh's write was fenced out: another holder took the lease over meanwhile.
pub(crate) fn lease_lost(provider: ProviderId) -> Error {
    Error::new(
        Code::Busy,
        format!(
            "Another Onramp took over refreshing this {} connection; its result stands.",
            crate::providers::spec(provider).name
        ),
    )
    .hint("Nothing to do: the connection is kept alive by the other process.")
}

/// This process, as a holder of leases: an id and the lock that shows it is alive.
#[derive(Debug)]
pub struct LeaseHolder {
    id: String,
    dir: PathBuf,
    _lock: File,
}

impl LeaseHolder {
    /// Registers a new holder in the data folder's `holders` folder.
    pub fn register(data_dir: &Path) -> Result<LeaseHolder> {
        let dir = data_dir.join("holders");
        crate::private::create_dir(&dir).map_err(Error::storage)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let file =
            crate::private::write_new(&dir.join(format!("{id}.lock"))).map_err(Error::storage)?;
        file.try_lock()
            .map_err(|e| Error::storage(format!("{e:?}")))?;
        Ok(LeaseHolder {
            id,
            dir,
            _lock: file,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether another holder of this data folder is known to be dead: its lock file is gone
    /// or nobody holds its lock. (A holder not of this folder, such as a hub replica, is never
    /// known dead: its leases run out instead.)
    pub fn is_dead(&self, other: &str) -> bool {
        if other == self.id || other.contains(['/', '\\', '.']) {
            return false;
        }
        let path = self.dir.join(format!("{other}.lock"));
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(f) => match f.try_lock() {
                Ok(()) => {
                    let _ = f.unlock();
                    let _ = std::fs::remove_file(&path);
                    true
                }
                Err(_) => false,
            },
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        }
    }
}

impl Drop for LeaseHolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join(format!("{}.lock", self.id)));
    }
}

fn unix_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A row of the earlier layout whose secrets are still in the keyring, one entry each.
#[derive(Clone, Debug)]
pub struct LegacyRow {
    /// `connections`, `provider_apps` or `pending_authorizations`.
    pub table: &'static str,
    /// The row's key (connection id, `{provider}/{kind}`, state hash).
    pub key: String,
    /// Where its secrets were kept (`connection/{uuid}`, `app/tesla`, `pending/{hash}`).
    pub secret_ref: String,
}

impl Store {
    /// Starts a write transaction that holds the write lock from its first statement, so a
    /// read inside it can never be overtaken by another process's write.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.writer)
            .await?)
    }

    /// Records the data folder's key id and check value unless a key is already recorded
    /// (another process was first). Returns the id that stands.
    pub async fn init_data_key(&self, key_id: &str, check: &str) -> Result<String> {
        let mut tx = self.write_tx().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'data_key'")
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(id) = existing {
            return Ok(id);
        }
        for (k, v) in [("data_key", key_id), ("data_key_check", check)] {
            sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?)")
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(key_id.to_string())
    }

    /// This process's holder id for leases.
    pub fn holder_id(&self) -> &str {
        self.holder.id()
    }

    /// Whether another holder of this data folder is known to have died.
    pub fn holder_is_dead(&self, holder: &str) -> bool {
        self.holder.is_dead(holder)
    }

    /// How long the last rotations waited between the vendor's answer and their durable
    /// commit (the window in which a crash loses a strictly single-use token), newest last.
    pub fn rotation_windows(&self) -> Vec<std::time::Duration> {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    }

    /// Notes the windows of rotations committed now, and returns them in order.
    pub(super) fn note_windows(
        &self,
        answered: impl Iterator<Item = std::time::Instant>,
    ) -> Vec<std::time::Duration> {
        const KEEP: usize = 100_000;
        let windows: Vec<_> = answered.map(|a| a.elapsed()).collect();
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        for &d in &windows {
            if w.len() == KEEP {
                w.pop_front();
            }
            w.push_back(d);
        }
        windows
    }

    /// Takes the leases of those of `ids` that are free (nobody holds them, they ran out, or
    /// their holder died), in one transaction; the others are being refreshed by someone else
    /// and are left out. Only connections that can still be refreshed are taken.
    pub async fn take_leases(&self, ids: &[String]) -> Result<Vec<Leased>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = std::time::SystemTime::now();
        let started = rfc3339_micros(time::OffsetDateTime::from(now));
        // Holders seen on these rows that are known dead: their leases are taken over at once.
        let holders: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT lease_holder FROM connections
             WHERE id IN (SELECT value FROM json_each(?)) AND lease_holder IS NOT NULL",
        )
        .bind(serde_json::to_string(ids).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        let dead: Vec<&String> = holders.iter().filter(|h| self.holder.is_dead(h)).collect();
        let lease_id = uuid::Uuid::new_v4().simple().to_string();
        let ids_json = serde_json::to_string(ids).unwrap_or_default();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE connections SET lease_holder = ?, lease_id = ?, lease_until = ?,
                refresh_started_at = COALESCE(refresh_started_at, ?)
             WHERE id IN (SELECT value FROM json_each(?)) AND kind = 'oauth'
                AND state NOT IN ('needs_reauth', 'revoked')
                AND (lease_id IS NULL OR lease_until < ?
                     OR lease_holder IN (SELECT value FROM json_each(?)))",
        )
        .bind(self.holder.id())
        .bind(&lease_id)
        .bind(unix_ms(now + LEASE))
        .bind(&started)
        .bind(&ids_json)
        .bind(unix_ms(now))
        .bind(serde_json::to_string(&dead).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
        // What was taken comes back as one value (the store hands each row of an answer over
        // on its own, which for a chunk costs more than the update).
        let taken: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(id, generation, sealed, refresh_started_at))
             FROM connections WHERE id IN (SELECT value FROM json_each(?)) AND lease_id = ?",
        )
        .bind(&ids_json)
        .bind(&lease_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let rows: Vec<(String, i64, Option<String>, Option<String>)> = serde_json::from_str(&taken)
            .map_err(|e| Error::unreadable("the leases just taken", e))?;
        let taken = std::time::Instant::now();
        Ok(rows
            .into_iter()
            .map(|(connection_id, generation, sealed, since)| Leased {
                connection_id,
                lease_id: lease_id.clone(),
                generation,
                sealed,
                in_doubt_since: since.filter(|s| s != &started),
                taken,
            })
            .collect())
    }

    /// Gives a lease back without a rotation. `settled`: the vendor's answer showed the token
    /// was not spent (it refused, or was never reached), so the in-flight mark goes too; when
    /// the answer may have been lost after the vendor acted, the mark stays and the next
    /// refresh knows the connection is in doubt.
    pub async fn release_lease(&self, lease: &Leased, settled: bool) -> Result<()> {
        sqlx::query(
            "UPDATE connections SET lease_holder = NULL, lease_id = NULL, lease_until = NULL,
                refresh_started_at = CASE WHEN ? THEN NULL ELSE refresh_started_at END
             WHERE id = ? AND lease_id = ?",
        )
        .bind(settled)
        .bind(&lease.connection_id)
        .bind(&lease.lease_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Who holds a connection's lease now, if anyone (and until when, unix ms).
    pub async fn lease_of(&self, connection_id: &str) -> Result<Option<(String, i64)>> {
        let row = sqlx::query("SELECT lease_holder, lease_until FROM connections WHERE id = ?")
            .bind(connection_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| {
            Some((
                r.get::<Option<String>, _>("lease_holder")?,
                r.get::<Option<i64>, _>("lease_until")?,
            ))
        }))
    }

    /// A connection's generation (bumped at every rotation).
    pub async fn generation(&self, connection_id: &str) -> Result<i64> {
        sqlx::query_scalar("SELECT generation FROM connections WHERE id = ?")
            .bind(connection_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("No such connection."))
    }

    // ---- the earlier layout -----------------------------------------------------------------

    /// Rows whose secrets are still kept the earlier way (a keyring entry per secret).
    pub async fn legacy_rows(&self) -> Result<Vec<LegacyRow>> {
        let mut out = Vec::new();
        for r in sqlx::query(
            "SELECT id, secret_ref FROM connections WHERE sealed IS NULL AND secret_ref IS NOT NULL",
        )
        .fetch_all(&self.writer)
        .await?
        {
            out.push(LegacyRow {
                table: "connections",
                key: r.get("id"),
                secret_ref: r.get("secret_ref"),
            });
        }
        for r in sqlx::query(
            "SELECT provider, kind, secret_ref FROM provider_apps
             WHERE sealed IS NULL AND secret_ref IS NOT NULL",
        )
        .fetch_all(&self.writer)
        .await?
        {
            let (p, k): (String, String) = (r.get("provider"), r.get("kind"));
            out.push(LegacyRow {
                table: "provider_apps",
                key: format!("{p}/{k}"),
                secret_ref: r.get("secret_ref"),
            });
        }
        for r in sqlx::query(
            "SELECT state_hash FROM pending_authorizations WHERE sealed IS NULL AND consumed_at IS NULL",
        )
        .fetch_all(&self.writer)
        .await?
        {
            let hash: String = r.get("state_hash");
            out.push(LegacyRow {
                table: "pending_authorizations",
                secret_ref: format!("pending/{hash}"),
                key: hash,
            });
        }
        Ok(out)
    }

    /// Seals the earlier layout's secrets into their rows, all in one transaction; a row whose
    /// secrets were missing from the keyring is marked as needing the customer (connections) or
    /// left without them. Returns how many rows took their secrets.
    pub async fn adopt_legacy(
        &self,
        sealed: &[(LegacyRow, Option<String>)],
        actor: &str,
    ) -> Result<usize> {
        let mut tx = self.write_tx().await?;
        let mut adopted = 0;
        for (row, value) in sealed {
            match (row.table, value) {
                ("connections", Some(v)) => {
                    sqlx::query("UPDATE connections SET sealed = ?, secret_ref = NULL WHERE id = ? AND sealed IS NULL")
                        .bind(v)
                        .bind(&row.key)
                        .execute(&mut *tx)
                        .await?;
                }
                ("connections", None) => {
                    let r = sqlx::query(
                        "UPDATE connections SET secret_ref = NULL, state = 'needs_reauth',
                            last_error_code = 'KeychainUnavailable',
                            last_error_message = 'The saved sign-in for this connection was missing from the keyring when Onramp moved its secrets into the store.',
                            last_error_hint = 'Connect the vendor again with the customer.',
                            last_error_details = NULL
                         WHERE id = ? AND sealed IS NULL RETURNING customer_id, provider",
                    )
                    .bind(&row.key)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(r) = r {
                        let customer: String = r.get("customer_id");
                        let provider: String = r.get("provider");
                        self.insert_event(&mut tx,
                            &super::NewEvent {
                                customer_id: Some(&customer),
                                connection_id: Some(&row.key),
                                provider: ProviderId::parse(&provider),
                                kind: crate::model::EventKind::SecretsMissing,
                                summary: "The connection's saved secrets were missing from the keyring; the customer must connect again".into(),
                                actor,
                            },
                        )
                        .await?;
                    }
                    continue;
                }
                ("provider_apps", v) => {
                    let (provider, kind) = row.key.split_once('/').unwrap_or_default();
                    sqlx::query(
                        "UPDATE provider_apps SET sealed = ?, secret_ref = NULL
                         WHERE provider = ? AND kind = ? AND sealed IS NULL",
                    )
                    .bind(v)
                    .bind(provider)
                    .bind(kind)
                    .execute(&mut *tx)
                    .await?;
                    if v.is_none() {
                        continue;
                    }
                }
                ("pending_authorizations", Some(v)) => {
                    sqlx::query(
                        "UPDATE pending_authorizations SET sealed = ? WHERE state_hash = ? AND sealed IS NULL",
                    )
                    .bind(v)
                    .bind(&row.key)
                    .execute(&mut *tx)
                    .await?;
                }
                _ => continue,
            }
            adopted += 1;
        }
        tx.commit().await?;
        Ok(adopted)
    }

    // ---- key rotation -------------------------------------------------------------------------

    /// Every sealed value in the store, with its place: (table, row key, generation, sealed).
    pub async fn all_sealed(&self) -> Result<Vec<(&'static str, String, i64, String)>> {
        let mut out = Vec::new();
        for r in
            sqlx::query("SELECT id, generation, sealed FROM connections WHERE sealed IS NOT NULL")
                .fetch_all(&self.writer)
                .await?
        {
            out.push((
                "connections",
                r.get("id"),
                r.get("generation"),
                r.get("sealed"),
            ));
        }
        for r in sqlx::query(
            "SELECT provider, kind, generation, sealed FROM provider_apps WHERE sealed IS NOT NULL",
        )
        .fetch_all(&self.writer)
        .await?
        {
            let (p, k): (String, String) = (r.get("provider"), r.get("kind"));
            out.push((
                "provider_apps",
                format!("{p}/{k}"),
                r.get("generation"),
                r.get("sealed"),
            ));
        }
        for r in sqlx::query(
            "SELECT state_hash, sealed FROM pending_authorizations WHERE sealed IS NOT NULL",
        )
        .fetch_all(&self.writer)
        .await?
        {
            out.push((
                "pending_authorizations",
                r.get("state_hash"),
                0,
                r.get("sealed"),
            ));
        }
        Ok(out)
    }

    /// Replaces sealed values (each only if it is still what was read: `(table, key, old,
    /// new)`) and names the new key, in one transaction. Fails, changing nothing, if any value
    /// changed meanwhile (a refresh rotated it): the caller reads again and retries.
    pub async fn reseal(
        &self,
        values: &[(&'static str, String, String, String)],
        key_id: &str,
        check: &str,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        for (table, key, old, new) in values {
            let changed = match *table {
                "connections" => sqlx::query("UPDATE connections SET sealed = ? WHERE id = ? AND sealed = ?")
                    .bind(new)
                    .bind(key)
                    .bind(old)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                "provider_apps" => {
                    let (p, k) = key.split_once('/').unwrap_or_default();
                    sqlx::query(
                        "UPDATE provider_apps SET sealed = ? WHERE provider = ? AND kind = ? AND sealed = ?",
                    )
                    .bind(new)
                    .bind(p)
                    .bind(k)
                    .bind(old)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                }
                _ => sqlx::query(
                    "UPDATE pending_authorizations SET sealed = ? WHERE state_hash = ? AND sealed = ?",
                )
                .bind(new)
                .bind(key)
                .bind(old)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            };
            if changed != 1 {
                return Err(Error::new(
                    Code::Busy,
                    "A secret changed while Onramp was re-sealing it (a refresh ran meanwhile).",
                )
                .hint("Run the key rotation again."));
            }
        }
        for (k, v) in [("data_key", key_id), ("data_key_check", check)] {
            sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many sealed values each key id seals (to tell when a retired key can go).
    pub async fn sealed_by_key(&self) -> Result<HashMap<String, usize>> {
        let mut out = HashMap::new();
        for (_, _, _, sealed) in self.all_sealed().await? {
            if let Some(id) = crate::seal::key_id_of(&sealed) {
                *out.entry(id.to_string()).or_default() += 1;
            }
        }
        Ok(out)
    }
}

/// RFC 3339 with microseconds: the in-flight mark of one lease taking is told from another's.
pub(crate) fn rfc3339_micros(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
