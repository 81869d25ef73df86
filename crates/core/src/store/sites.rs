//! Which of a connection's sites are the customer's (the installer's choice).

use super::*;

impl Store {
    /// Attaches exactly the sites `attached` names (by the vendor's id) to the connection's
    /// customer and detaches the rest, with its event, in one transaction. Returns how many of
    /// how many are attached; an id the connection does not have is refused, changing nothing.
    pub async fn choose_sites(
        &self,
        connection_id: &str,
        attached: &[String],
        event: &NewEvent<'_>,
    ) -> Result<(usize, usize)> {
        let mut tx = self.write_tx().await?;
        let known: Vec<String> =
            sqlx::query_scalar("SELECT external_id FROM sites WHERE connection_id = ?")
                .bind(connection_id)
                .fetch_all(&mut *tx)
                .await?;
        if let Some(stray) = attached.iter().find(|a| !known.contains(a)) {
            return Err(
                Error::validation(format!("Site #{stray} is not on this connection."))
                    .hint("Reload the customer's page and choose again."),
            );
        }
        let ids = serde_json::Value::from(attached.to_vec()).to_string();
        sqlx::query(
            "UPDATE sites SET attached = (external_id IN (SELECT value FROM json_each(?)))
             WHERE connection_id = ?",
        )
        .bind(&ids)
        .bind(connection_id)
        .execute(&mut *tx)
        .await?;
        self.commit_with(tx, event).await?;
        Ok((attached.len(), known.len()))
    }
}
