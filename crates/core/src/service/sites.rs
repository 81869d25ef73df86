//! The installer's choice of which of a connection's sites are the customer's: a key, an
//! installer account or a sign-in may reach other households' sites too.

use super::Onramp;
use crate::error::{Error, Result};
use crate::model::{Connection, EventKind};
use crate::providers;
use crate::store::NewEvent;

impl Onramp {
    /// Keeps exactly the sites `attached` names (the vendor's ids) for the connection's
    /// customer; the others stay on the connection, unattached, so the choice can be changed.
    pub async fn choose_sites(
        &self,
        connection_id: &str,
        attached: &[String],
    ) -> Result<Connection> {
        let conn = self.store.connection(connection_id).await?;
        let spec = providers::spec(conn.provider);
        let mut chosen: Vec<String> = Vec::new();
        for a in attached {
            if !chosen.contains(a) {
                chosen.push(a.clone());
            }
        }
        if chosen.is_empty() {
            return Err(Error::validation(format!(
                "Keep at least one {} for this customer.",
                spec.site_noun
            ))
            .hint("If none of them is the customer's, remove the connection instead."));
        }
        let names: Vec<&str> = conn
            .sites
            .iter()
            .filter(|s| chosen.contains(&s.external_id))
            .map(|s| s.name.as_str())
            .collect();
        let total = conn.sites.len();
        let noun = if total == 1 {
            spec.site_noun.to_string()
        } else {
            format!("{}s", spec.site_noun)
        };
        let summary = format!(
            "{}: {} of {total} {noun} kept for this customer ({})",
            spec.name,
            chosen.len(),
            names.join(", ")
        );
        self.store
            .choose_sites(
                connection_id,
                &chosen,
                &NewEvent {
                    customer_id: Some(&conn.customer_id),
                    connection_id: Some(connection_id),
                    provider: Some(conn.provider),
                    kind: EventKind::SitesChosen,
                    summary,
                    actor: self.actor,
                },
            )
            .await?;
        self.store.connection(connection_id).await
    }
}
