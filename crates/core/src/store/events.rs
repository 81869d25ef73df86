//! The event log: what happened to whom, newest first.

use sqlx::Row;

use super::*;

pub struct NewEvent<'a> {
    pub customer_id: Option<&'a str>,
    pub connection_id: Option<&'a str>,
    pub provider: Option<ProviderId>,
    pub kind: &'a str,
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
                    kind: r.get("kind"),
                    summary: r.get("summary"),
                    actor: r.get("actor"),
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

pub(super) fn connected_event<'a>(
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

impl Store {
    /// Writes an event in the transaction of the change it records, stamped by the store's clock.
    pub(super) async fn insert_event(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        e: &NewEvent<'_>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO events (at, customer_id, connection_id, provider, kind, summary, actor)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(self.now())
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
}
