//! The refresh writer: refreshes' outcomes written together (group commit).

use super::connections::details_json;
use super::*;

/// Refreshes' writes waiting for the writer, and the turn to write them.
#[derive(Default)]
pub(super) struct RefreshQueue {
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
    pub learned: ConnectionDetails,
    pub summary: String,
    pub actor: String,
}

impl Store {
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
        let now = self.now();
        // The batch goes to SQLite as one JSON array (one statement for all its rows),
        // serialized straight from the records.
        #[derive(serde::Serialize)]
        struct Update<'a> {
            id: &'a str,
            generation: i64,
            lease_id: &'a str,
            sealed: &'a str,
            scopes: Option<&'a str>,
            access_expires_at: Option<&'a str>,
            refresh_expires_at: Option<&'a str>,
            tokens_issued_at: &'a str,
            learned: Option<String>,
        }
        let updates = serde_json::to_string(
            &records
                .iter()
                .map(|r| Update {
                    id: &r.connection_id,
                    generation: r.generation,
                    lease_id: &r.lease_id,
                    sealed: &r.sealed,
                    scopes: r.scopes.as_deref(),
                    access_expires_at: r.access_expires_at.as_deref(),
                    refresh_expires_at: r.refresh_expires_at.as_deref(),
                    tokens_issued_at: &r.tokens_issued_at,
                    learned: details_json(&r.learned),
                })
                .collect::<Vec<_>>(),
        )
        .map_err(|e| Error::internal(format!("cannot write a refresh batch: {e}")))?;
        let mut tx = self.write_tx().await?;
        let written = sqlx::query(
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
                last_error_details = NULL,
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
                   FROM jsonb_each(?)) AS u
             WHERE connections.id = u.id AND connections.generation = u.generation
                AND connections.lease_id = u.lease_id
             ",
        )
        .bind(&now)
        .bind(&now)
        .bind(&updates)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Usually every write landed. Otherwise those that did are the rows now holding the
        // sealed value their record carries (a fresh nonce each: no other write has it), told
        // in one value (the store hands each row of an answer over on its own).
        let landed: std::collections::HashSet<String> = if written as usize == records.len() {
            records.iter().map(|r| r.connection_id.clone()).collect()
        } else {
            let ids: String = sqlx::query_scalar(
                "SELECT json_group_array(c.id) FROM jsonb_each(?) AS u
                 JOIN connections AS c ON c.id = json_extract(u.value, '$.id')
                    AND c.sealed = json_extract(u.value, '$.sealed')",
            )
            .bind(&updates)
            .fetch_one(&mut *tx)
            .await?;
            serde_json::from_str::<Vec<String>>(&ids)
                .map_err(|e| Error::unreadable("the refreshes just written", e))?
                .into_iter()
                .collect()
        };
        #[derive(serde::Serialize)]
        struct Event<'a> {
            customer_id: &'a str,
            connection_id: &'a str,
            provider: &'a str,
            summary: &'a str,
            actor: &'a str,
        }
        let events = serde_json::to_string(
            &records
                .iter()
                .filter(|r| landed.contains(&r.connection_id))
                .map(|r| Event {
                    customer_id: &r.customer_id,
                    connection_id: &r.connection_id,
                    provider: r.provider.as_str(),
                    summary: &r.summary,
                    actor: &r.actor,
                })
                .collect::<Vec<_>>(),
        )
        .map_err(|e| Error::internal(format!("cannot write a refresh batch: {e}")))?;
        sqlx::query(
            "INSERT INTO events (at, customer_id, connection_id, provider, kind, summary, actor)
             SELECT ?, json_extract(value, '$.customer_id'), json_extract(value, '$.connection_id'),
                    json_extract(value, '$.provider'), 'refreshed', json_extract(value, '$.summary'),
                    json_extract(value, '$.actor')
             FROM jsonb_each(?) ORDER BY key",
        )
        .bind(&now)
        .bind(events)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(records
            .iter()
            .map(|r| landed.contains(&r.connection_id))
            .collect())
    }
}
