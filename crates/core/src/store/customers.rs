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
        let c = self.new_customer(input)?;
        let mut tx = self.write_tx().await?;
        Self::insert_customer_row(&mut tx, &c).await?;
        let event = NewEvent {
            customer_id: Some(&c.id),
            ..event
        };
        self.commit_with(tx, &event).await?;
        Ok(c)
    }

    /// Writes many new customers, each with its event, in one transaction: all or none. Every
    /// customer is checked before anything is written.
    pub async fn insert_customers(
        &self,
        inputs: &[NewCustomer],
        event: impl Fn(&NewCustomer) -> NewEvent<'static>,
    ) -> Result<Vec<Customer>> {
        let made = inputs
            .iter()
            .map(|i| self.new_customer(i))
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.write_tx().await?;
        for (c, input) in made.iter().zip(inputs) {
            Self::insert_customer_row(&mut tx, c).await?;
            let e = event(input);
            self.insert_event(
                &mut tx,
                &NewEvent {
                    customer_id: Some(&c.id),
                    ..e
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(made)
    }

    /// Changes a customer's name, address and contact, with its event.
    pub async fn update_customer(
        &self,
        id: &str,
        input: &NewCustomer,
        event: NewEvent<'_>,
    ) -> Result<Customer> {
        let mut c = self.new_customer(input)?;
        let mut tx = self.write_tx().await?;
        let created: Option<String> = sqlx::query_scalar(
            "UPDATE customers SET name = ?, address = ?, email = ?, phone = ?, job_number = ?,
                 updated_at = ?
             WHERE id = ? RETURNING created_at",
        )
        .bind(&c.name)
        .bind(&c.address)
        .bind(&c.email)
        .bind(&c.phone)
        .bind(&c.job_number)
        .bind(&c.updated_at)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(created) = created else {
            return Err(Error::not_found("No such customer."));
        };
        c.id = id.to_string();
        c.created_at = created;
        let event = NewEvent {
            customer_id: Some(id),
            ..event
        };
        self.commit_with(tx, &event).await?;
        Ok(c)
    }

    /// Removes a customer in one transaction, with its events: the connections (their sites
    /// and sealed secrets) and usage go with it, or, given `move_to`, the connections and the
    /// usage they brought move to that customer (usage imported from files goes). Either all
    /// of it or, on any failure, nothing.
    pub async fn remove_customer(
        &self,
        id: &str,
        move_to: Option<&str>,
        events: &[NewEvent<'_>],
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if let Some(target) = move_to {
            if target == id {
                return Err(Error::validation(
                    "Pick another customer to move the connections to.",
                ));
            }
            let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM customers WHERE id = ?")
                .bind(target)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(Error::not_found(
                    "The customer to move the connections to no longer exists.",
                ));
            }
            let clash: Option<String> = sqlx::query_scalar(
                "SELECT a.title FROM usage_series a JOIN usage_series b
                     ON a.source_key = b.source_key AND b.customer_id = ?2
                 WHERE a.customer_id = ?1 AND a.connection_id IS NOT NULL LIMIT 1",
            )
            .bind(id)
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(title) = clash {
                return Err(Error::validation(format!(
                    "The other customer already has the usage series {title:?} of this meter."
                ))
                .hint("Remove that series from one of them first, then remove this customer."));
            }
            sqlx::query("UPDATE connections SET customer_id = ? WHERE customer_id = ?")
                .bind(target)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE usage_series SET customer_id = ? WHERE customer_id = ? AND connection_id IS NOT NULL",
            )
            .bind(target)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM pending_authorizations WHERE customer_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM usage_series WHERE customer_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM connections WHERE customer_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query("DELETE FROM customers WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(Error::not_found("No such customer."));
        }
        for e in events {
            self.insert_event(&mut tx, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every customer, for comparing a new one with (duplicates).
    pub async fn all_customers(&self) -> Result<Vec<Customer>> {
        let rows = sqlx::query("SELECT * FROM customers ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(customer_from).collect())
    }

    /// A customer as it will be written: checked, trimmed, with a new id and the store's time.
    fn new_customer(&self, input: &NewCustomer) -> Result<Customer> {
        if let Some(problem) = input.problems().into_iter().next() {
            return Err(Error::validation(problem));
        }
        let now = self.now();
        Ok(Customer {
            id: new_id(),
            name: input.name.trim().to_string(),
            address: opt_trim(&input.address),
            email: opt_trim(&input.email),
            phone: opt_trim(&input.phone),
            job_number: opt_trim(&input.job_number),
            created_at: now.clone(),
            updated_at: now,
        })
    }

    async fn insert_customer_row(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        c: &Customer,
    ) -> Result<()> {
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
        .execute(&mut **tx)
        .await?;
        Ok(())
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
