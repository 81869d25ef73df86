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

    /// Customers matching `query` (name, address, job number, email), newest activity first:
    /// all of them (the CLI, exports, choosing a customer to move connections to).
    pub async fn list_customers(&self, query: Option<&str>) -> Result<Vec<CustomerSummary>> {
        self.page_rows(search_pattern(query).as_deref(), 0, None)
            .await
    }

    /// One page of the customers list: `limit` customers from `offset`, newest activity first,
    /// and how many match in all. The page is read in the order of the kept activity index (a
    /// search scans the customers once, then sorts its matches); its counts are worked out for
    /// the page's rows only.
    pub async fn customers_page(
        &self,
        query: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<CustomerList> {
        let search = search_pattern(query);
        let customers = self
            .page_rows(search.as_deref(), offset, Some(limit))
            .await?;
        let total = match &search {
            // A first page that holds every match is its own count.
            Some(_) if offset == 0 && customers.len() < limit as usize => customers.len() as i64,
            Some(pattern) => {
                sqlx::query_scalar(SEARCH_COUNT)
                    .bind(pattern)
                    .fetch_one(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_scalar("SELECT COUNT(*) FROM customers")
                    .fetch_one(&self.pool)
                    .await?
            }
        };
        Ok(CustomerList {
            customers,
            total: total as u32,
        })
    }

    /// The rows of a page: `search` is a LIKE pattern ([`search_pattern`]), or none.
    async fn page_rows(
        &self,
        search: Option<&str>,
        offset: u32,
        limit: Option<u32>,
    ) -> Result<Vec<CustomerSummary>> {
        // SQLite: a negative LIMIT is none.
        let limit = limit.map_or(-1, i64::from);
        let rows = match search {
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{SUMMARIES} ({BROWSE_PAGE}) {PAGE_END}"
                )))
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?
            }
            Some(pattern) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{SUMMARIES} ({SEARCH_PAGE}) {PAGE_END}"
                )))
                .bind(pattern)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?
            }
        };
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
                last_activity_at: r.get("last_activity_at"),
            })
            .collect())
    }
}

/// A page's rows with their counts, worked out for the page's customers only (`page` is a
/// subquery of rowids in list order).
const SUMMARIES: &str = "SELECT c.id, c.name, c.address, c.job_number, c.last_activity_at,
    (SELECT COUNT(*) FROM connections k WHERE k.customer_id = c.id AND k.state = 'active') AS connected,
    (SELECT COUNT(*) FROM connections k WHERE k.customer_id = c.id
        AND k.state IN ('error', 'needs_reauth', 'expiring', 'revoked')) AS attention,
    (SELECT COUNT(*) FROM sites s JOIN connections k ON s.connection_id = k.id
        WHERE k.customer_id = c.id AND s.attached = 1) AS sites
    FROM";
const PAGE_END: &str =
    "AS page JOIN customers c ON c.rowid = page.r ORDER BY c.last_activity_at DESC, c.name";
/// Without a search: the kept activity index, in order (?1 limit, ?2 offset).
pub(crate) const BROWSE_PAGE: &str = "SELECT rowid AS r FROM customers
    ORDER BY last_activity_at DESC, name LIMIT ?1 OFFSET ?2";
/// What a search matches (?1 the LIKE pattern): one text for the page and its count.
macro_rules! search_match {
    () => {
        "FROM customers c NOT INDEXED
         WHERE c.name LIKE ?1 ESCAPE '\\' OR c.address LIKE ?1 ESCAPE '\\'
            OR c.job_number LIKE ?1 ESCAPE '\\' OR c.email LIKE ?1 ESCAPE '\\'"
    };
}
/// A search: one scan of the customers (a search's few matches are sorted; walking the
/// activity index would look every customer up), ?2 limit, ?3 offset.
pub(crate) const SEARCH_PAGE: &str = concat!(
    "SELECT c.rowid AS r ",
    search_match!(),
    " ORDER BY c.last_activity_at DESC, c.name LIMIT ?2 OFFSET ?3"
);
/// How many customers a search matches in all.
const SEARCH_COUNT: &str = concat!("SELECT COUNT(*) ", search_match!());

/// The LIKE pattern of a search (its `%`, `_` and `\` taken literally), or none for no search.
fn search_pattern(query: Option<&str>) -> Option<String> {
    let q = query.map(str::trim).unwrap_or_default();
    (!q.is_empty()).then(|| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::service::words;

    /// A store whose clock moves a minute per customer, so each has its own activity time.
    async fn with_customers(names: &[&str]) -> (tempfile::TempDir, Store, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("onramp.sqlite"))
            .await
            .unwrap();
        let clock = ManualClock::new(time::macros::datetime!(2026-06-01 08:00 UTC));
        s.set_clock(clock.clone());
        let mut ids = Vec::new();
        for name in names {
            clock.advance(std::time::Duration::from_secs(60));
            let c = s
                .insert_customer(
                    &NewCustomer {
                        name: (*name).into(),
                        address: Some(format!("{} Elm St, Fresno", ids.len() + 1)),
                        ..Default::default()
                    },
                    words::customer_created(name, "app"),
                )
                .await
                .unwrap();
            ids.push(c.id);
        }
        clock.advance(std::time::Duration::from_secs(60));
        (dir, s, ids)
    }

    fn names(list: &[CustomerSummary]) -> Vec<&str> {
        list.iter().map(|c| c.name.as_str()).collect()
    }

    /// Customers whose kept activity time differs from their newest event's (or, with none,
    /// their creation): what the list read before the time was kept.
    async fn drifted(s: &Store) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT c.name FROM customers c WHERE c.last_activity_at IS NOT COALESCE(
                 (SELECT e.at FROM events e WHERE e.customer_id = c.id ORDER BY e.id DESC LIMIT 1),
                 c.created_at)",
        )
        .fetch_all(s.pool())
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn pages_follow_the_newest_activity_and_count_every_match() {
        let (_d, s, ids) = with_customers(&["Ada", "Ben", "Cy", "Di", "Ed"]).await;
        assert_eq!(
            names(&s.list_customers(None).await.unwrap()),
            ["Ed", "Di", "Cy", "Ben", "Ada"]
        );
        // Something happens to Ben: he comes first.
        s.add_event(&NewEvent {
            customer_id: Some(&ids[1]),
            ..words::customer_created("Ben", "app")
        })
        .await
        .unwrap();
        let all = s.list_customers(None).await.unwrap();
        assert_eq!(names(&all), ["Ben", "Ed", "Di", "Cy", "Ada"]);
        let mut paged = Vec::new();
        for offset in [0, 2, 4] {
            let page = s.customers_page(None, offset, 2).await.unwrap();
            assert_eq!(page.total, 5, "every customer, whatever the page");
            paged.extend(page.customers);
        }
        assert_eq!(
            paged, all,
            "the pages, one after another, are the whole list"
        );
        assert!(s
            .customers_page(None, 5, 2)
            .await
            .unwrap()
            .customers
            .is_empty());

        // A search: "Elm" matches all five addresses, "d" three names (Ada, Di, Ed).
        let first = s.customers_page(Some(" d "), 0, 2).await.unwrap();
        assert_eq!(
            (names(&first.customers), first.total),
            (vec!["Ed", "Di"], 3)
        );
        let rest = s.customers_page(Some("d"), 2, 2).await.unwrap();
        assert_eq!((names(&rest.customers), rest.total), (vec!["Ada"], 3));
        let whole = s.customers_page(Some("d"), 0, 200).await.unwrap();
        assert_eq!(
            whole.total, 3,
            "a first page holding every match counts them"
        );
        assert_eq!(s.customers_page(Some("elm"), 0, 2).await.unwrap().total, 5);
        assert_eq!(s.customers_page(Some("_"), 0, 2).await.unwrap().total, 0);
        assert!(drifted(&s).await.is_empty());
    }

    #[tokio::test]
    async fn the_kept_activity_time_follows_every_change() {
        let (_d, s, ids) = with_customers(&["Ada", "Ben", "Cy"]).await;
        // Ada's connections move to Ben when she is removed: Ben's activity is the move's.
        let event = NewEvent {
            customer_id: Some(&ids[1]),
            ..words::customer_created("Ben", "app")
        };
        s.remove_customer(&ids[0], Some(&ids[1]), &[event])
            .await
            .unwrap();
        assert_eq!(names(&s.list_customers(None).await.unwrap()), ["Ben", "Cy"]);
        // Written the way an older Onramp writes a customer (no activity time): the store
        // starts it at the creation.
        sqlx::query(
            "INSERT INTO customers (id, name, created_at, updated_at)
             VALUES ('old', 'Old', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
        )
        .execute(s.pool())
        .await
        .unwrap();
        assert_eq!(
            names(&s.list_customers(None).await.unwrap()),
            ["Ben", "Cy", "Old"]
        );
        assert!(drifted(&s).await.is_empty());
    }

    #[tokio::test]
    async fn a_page_is_read_in_index_order_and_a_search_scans_once() {
        let (_d, s, _) = with_customers(&["Ada"]).await;
        // The statement's own parameters: BROWSE_PAGE (limit, offset), SEARCH_PAGE (pattern,
        // limit, offset).
        let plan = |sql: &'static str| {
            let pool = s.pool().clone();
            async move {
                let q = sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
                let q = if sql == SEARCH_PAGE { q.bind("%a%") } else { q };
                let rows: Vec<(i64, i64, i64, String)> =
                    q.bind(200).bind(0).fetch_all(&pool).await.unwrap();
                rows.into_iter()
                    .map(|r| r.3)
                    .collect::<Vec<_>>()
                    .join(" | ")
            }
        };
        let browse = plan(BROWSE_PAGE).await;
        assert!(
            browse.contains("customers_activity") && !browse.contains("TEMP B-TREE"),
            "{browse}"
        );
        let search = plan(SEARCH_PAGE).await;
        assert!(
            search.starts_with("SCAN c") && !search.contains("INDEX"),
            "{search}"
        );
    }
}
