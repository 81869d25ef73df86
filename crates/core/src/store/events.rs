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
    /// One customer's events (or everyone's), newest first, at most `limit`.
    pub async fn events(&self, customer_id: Option<&str>, limit: u32) -> Result<Vec<Event>> {
        let filter = ActivityFilter {
            customer_id: customer_id.map(str::to_string),
            ..ActivityFilter::default()
        };
        self.activity(&filter, Some(limit)).await
    }

    /// The events the filter lets through, newest first by time (then by the order they were
    /// written), at most `limit` of them; each with its customer's name, while the customer
    /// exists.
    pub async fn activity(
        &self,
        filter: &ActivityFilter,
        limit: Option<u32>,
    ) -> Result<Vec<Event>> {
        let mut q = activity_query(filter, false);
        if let Some(limit) = limit {
            q.push(" LIMIT ").push_bind(limit as i64);
        }
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(event_of).collect()
    }

    /// Hands every event the filter lets through to `each`, oldest first, one at a time (an
    /// export of a million entries is never held whole). Stops at `each`'s first error.
    pub async fn each_activity(
        &self,
        filter: &ActivityFilter,
        mut each: impl FnMut(Event) -> Result<()>,
    ) -> Result<()> {
        use futures_util::TryStreamExt;
        let mut q = activity_query(filter, true);
        let mut rows = q.build().fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            each(event_of(&row)?)?;
        }
        Ok(())
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

/// The filtered read, in time order. Days are compared on the entry's UTC day (`at` is
/// RFC 3339 in UTC); the service checks the dates, the store binds them as they are. Each
/// filter has an index in time order (migration 0013).
fn activity_query(filter: &ActivityFilter, oldest_first: bool) -> sqlx::QueryBuilder<sqlx::Sqlite> {
    let mut q = sqlx::QueryBuilder::new(
        "SELECT e.*, c.name AS customer_name FROM events e
         LEFT JOIN customers c ON c.id = e.customer_id WHERE 1",
    );
    if let Some(id) = &filter.customer_id {
        q.push(" AND e.customer_id = ").push_bind(id.as_str());
    }
    if let Some(p) = filter.provider {
        q.push(" AND e.provider = ").push_bind(p.as_str());
    }
    if let Some(k) = filter.kind {
        q.push(" AND e.kind = ").push_bind(k.as_str());
    }
    if let Some(since) = &filter.since {
        q.push(" AND e.at >= ").push_bind(since.as_str());
    }
    // A day's entries sort below "YYYY-MM-DD~" ('~' follows the 'T' of the time).
    if let Some(until) = &filter.until {
        q.push(" AND e.at < ").push_bind(format!("{until}~"));
    }
    q.push(if oldest_first {
        " ORDER BY e.at, e.id"
    } else {
        " ORDER BY e.at DESC, e.id DESC"
    });
    q
}

fn event_of(r: &sqlx::sqlite::SqliteRow) -> Result<Event> {
    Ok(Event {
        id: r.get("id"),
        at: r.get("at"),
        customer_id: r.get("customer_id"),
        customer_name: r.get("customer_name"),
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
}

fn kind_of(s: &str) -> Result<EventKind> {
    EventKind::parse(s).ok_or_else(|| {
        Error::unreadable(
            "an activity entry's kind",
            format_args!("unknown event kind {s:?}"),
        )
    })
}
