//! The event log: what happened to whom, newest first.

use sqlx::Row;

use super::*;

/// An event as the service hands it to the store: whose it is, its kind, and its summary in
/// the installer's words (the store composes no sentence).
pub struct NewEvent<'a> {
    pub customer_id: Option<&'a str>,
    pub connection_id: Option<&'a str>,
    pub provider: Option<ProviderId>,
    pub kind: EventKind,
    pub summary: String,
    pub actor: &'a str,
}

impl Store {
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
                    kind: kind_of(r.get("kind"))?,
                    summary: r.get("summary"),
                    actor: r.get("actor"),
                    installer: r.get("installer"),
                    scopes: r.get("scopes"),
                })
            })
            .collect()
    }

    pub async fn add_event(&self, event: &NewEvent<'_>) -> Result<()> {
        let mut tx = self.write_tx().await?;
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Writes an event in the transaction of the change it records, stamped by the store's clock.
    pub(super) async fn insert_event(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        e: &NewEvent<'_>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO events (at, customer_id, connection_id, provider, kind, summary, actor,
                installer, scopes)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?,
                CASE WHEN ? THEN (SELECT scopes FROM connections WHERE id = ?) END)",
        )
        .bind(self.now())
        .bind(e.customer_id)
        .bind(e.connection_id)
        .bind(e.provider.map(|p| p.as_str()))
        .bind(e.kind.as_str())
        .bind(&e.summary)
        .bind(e.actor)
        .bind(self.installer_name())
        // A sign-in's event keeps the scopes it granted (the consent record).
        .bind(matches!(
            e.kind,
            EventKind::Connected | EventKind::Reauthorized
        ))
        .bind(e.connection_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The end of every change that leaves a trace: its event, written in its transaction,
    /// and the commit (both or neither).
    pub(super) async fn commit_with(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Sqlite>,
        e: &NewEvent<'_>,
    ) -> Result<()> {
        self.insert_event(&mut tx, e).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn kind_of(s: &str) -> Result<EventKind> {
    EventKind::parse(s).ok_or_else(|| {
        Error::unreadable(
            "an activity entry's kind",
            format_args!("unknown event kind {s:?}"),
        )
    })
}
