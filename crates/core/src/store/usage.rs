//! Usage summaries: a customer's meters, month by month.

use std::collections::HashMap;

use sqlx::Row;

use super::*;

impl Store {
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
        let now = self.now();
        let mut ids = Vec::new();
        for s in series {
            let id: String = sqlx::query_scalar(
                "INSERT INTO usage_series (id, customer_id, connection_id, source_key, source, title,
                     commodity, flow, unit, currency, readings, first_at, last_at, updated_at,
                     service_address)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (customer_id, source_key) DO UPDATE SET
                     connection_id = excluded.connection_id, source = excluded.source,
                     title = excluded.title, commodity = excluded.commodity, flow = excluded.flow,
                     unit = excluded.unit, currency = excluded.currency, readings = excluded.readings,
                     first_at = excluded.first_at, last_at = excluded.last_at,
                     updated_at = excluded.updated_at, service_address = excluded.service_address
                 RETURNING id",
            )
            .bind(new_id())
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
            .bind(&s.service_address)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM usage_months WHERE series_id = ?")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            for m in &s.months {
                sqlx::query(
                    "INSERT INTO usage_months (series_id, month, energy_milli, energy, cost)
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind(&id)
                .bind(&m.month)
                .bind(m.energy_milli)
                // For an older Onramp opening this folder; this one reads energy_milli.
                .bind(m.energy_milli as f64 / 1000.0)
                .bind(m.cost)
                .execute(&mut *tx)
                .await?;
            }
            ids.push(id);
        }
        self.insert_event(&mut tx, event).await?;
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
                    energy_milli: r.get("energy_milli"),
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
                    service_address: r.get("service_address"),
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

    /// Removes one usage series (its months go with it), with its event; the customer and
    /// provider of the event are the series'. Answers the series' customer.
    pub async fn remove_usage_series(
        &self,
        id: &str,
        event: impl FnOnce(&str, &str) -> NewEvent<'static>,
    ) -> Result<String> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("DELETE FROM usage_series WHERE id = ? RETURNING customer_id, title")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::not_found("No such usage series."))?;
        let customer_id: String = row.get("customer_id");
        let title: String = row.get("title");
        let e = event(&customer_id, &title);
        self.commit_with(
            tx,
            &NewEvent {
                customer_id: Some(&customer_id),
                ..e
            },
        )
        .await?;
        Ok(customer_id)
    }
}
