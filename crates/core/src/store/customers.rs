//! Customers: the people whose systems are connected.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::*;

impl Store {
    /// Writes a new customer with its event (about the row made here, whose id it takes).
    pub async fn insert_customer(
        &self,
        input: &NewCustomer,
        event: NewEvent<'_>,
    ) -> Result<Customer> {
        let name = input.name.trim();
        if name.is_empty() {
            return Err(Error::validation("Enter the customer's name."));
        }
        if name.chars().count() > 200 {
            return Err(Error::validation(
                "The name is too long (200 characters at most).",
            ));
        }
        let now = self.now();
        let c = Customer {
            id: new_id(),
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
        let event = NewEvent {
            customer_id: Some(&c.id),
            ..event
        };
        self.commit_with(tx, &event).await?;
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
                    WHERE k.customer_id = c.id AND s.attached = 1) AS sites,
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
