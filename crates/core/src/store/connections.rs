//! Connections (one grant or key of a customer at a vendor) and their sites.

use std::collections::HashMap;

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::*;

/// A new grant for an existing connection, as [`Store::update_grant`] writes it. `None`
/// keeps what is stored (except the access token's expiry, which goes with the old token).
#[derive(Clone, Copy)]
pub struct NewGrant<'a> {
    pub connection_id: &'a str,
    pub scopes: Option<&'a str>,
    pub access_expires_at: Option<&'a str>,
    pub refresh_expires_at: Option<&'a str>,
    pub tokens_issued_at: Option<&'a str>,
    pub details: Option<&'a ConnectionDetails>,
    pub sites: Option<&'a [VendorSite]>,
    /// The new tokens, sealed at the next generation.
    pub secrets: &'a Secrets,
}

/// Sites added to an existing connection.
#[derive(Clone, Copy)]
pub struct NewSites<'a> {
    pub connection_id: &'a str,
    pub provider: ProviderId,
    pub sites: &'a [VendorSite],
}

/// What a new connection is made of; written with its sites and event in one transaction.
pub struct NewConnection<'a> {
    /// Made by the caller ([`new_id`]): the connection's secrets are sealed for it.
    pub id: String,
    pub customer_id: &'a str,
    pub provider: ProviderId,
    pub kind: CredentialKind,
    pub credential_hint: Option<String>,
    /// The connection's secrets (tokens or key), sealed into its row.
    pub secrets: Option<Secrets>,
    pub sites: &'a [VendorSite],
    /// OAuth: the scope the vendor granted and when the tokens expire (RFC 3339).
    pub scopes: Option<String>,
    pub access_expires_at: Option<String>,
    pub refresh_expires_at: Option<String>,
    /// When these tokens were issued (Onramp's clock).
    pub tokens_issued_at: Option<String>,
    /// Non-secret facts of the grant (see [`Connection::details`]).
    pub details: ConnectionDetails,
}

impl Store {
    pub async fn connections_for(&self, customer_id: &str) -> Result<Vec<Connection>> {
        let rows =
            sqlx::query("SELECT * FROM connections WHERE customer_id = ? ORDER BY created_at, id")
                .bind(customer_id)
                .fetch_all(&self.pool)
                .await?;
        let site_rows = sqlx::query(
            "SELECT s.*, c.address AS customer_address FROM sites s
             JOIN connections k ON s.connection_id = k.id JOIN customers c ON c.id = k.customer_id
             WHERE k.customer_id = ? ORDER BY s.name",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        let mut sites = sites_by_connection(&site_rows)?;
        rows.iter()
            .map(|r| {
                let id: String = r.get("id");
                connection_of(r, sites.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    /// The connections the health board may show, with their customer's name, without sites:
    /// every one not plainly active, and the active ones whose refresh token expires before
    /// `horizon` (the board decides; this leaves out the many that are fine).
    pub async fn connections_for_health(
        &self,
        horizon: time::OffsetDateTime,
    ) -> Result<Vec<(Connection, String)>> {
        let rows = sqlx::query(
            "SELECT k.*, c.name AS customer_name FROM connections k
             JOIN customers c ON c.id = k.customer_id
             WHERE k.state NOT IN ('active', 'expiring')
                OR julianday(k.refresh_expires_at) <= julianday(?)
             ORDER BY k.created_at, k.id",
        )
        .bind(rfc3339(horizon))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((connection_of(r, Vec::new())?, r.get("customer_name"))))
            .collect()
    }

    /// Every signed-in (OAuth) connection that has tokens, without sites: what the refresh
    /// sweep looks at (the secrets come with the lease).
    pub async fn oauth_grants(&self) -> Result<Vec<Connection>> {
        let rows = sqlx::query(
            "SELECT * FROM connections WHERE kind = 'oauth' AND sealed IS NOT NULL
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| connection_of(r, Vec::new())).collect()
    }

    /// One connection with its sites (two indexed lookups, whatever the customer has).
    pub async fn connection(&self, id: &str) -> Result<Connection> {
        let row = sqlx::query("SELECT * FROM connections WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("No such connection."))?;
        let site_rows = sqlx::query(
            "SELECT s.*, c.address AS customer_address FROM sites s
             JOIN connections k ON s.connection_id = k.id JOIN customers c ON c.id = k.customer_id
             WHERE s.connection_id = ? ORDER BY s.name",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut sites = sites_by_connection(&site_rows)?;
        connection_of(&row, sites.remove(id).unwrap_or_default())
    }

    /// A connection without its sites (one indexed lookup).
    pub async fn grant(&self, id: &str) -> Result<Connection> {
        let row = sqlx::query("SELECT * FROM connections WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("No such connection."))?;
        connection_of(&row, Vec::new())
    }

    /// The existing connection of this kind for a customer and provider, if any.
    pub async fn find_connection(
        &self,
        customer_id: &str,
        provider: ProviderId,
        kind: CredentialKind,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM connections WHERE customer_id = ? AND provider = ? AND kind = ? ORDER BY created_at LIMIT 1",
        )
        .bind(customer_id)
        .bind(provider.as_str())
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Writes the connection, its sealed secrets, its sites and an event in one transaction:
    /// a connection and its secrets exist together or not at all.
    pub async fn insert_connection(
        &self,
        new: &NewConnection<'_>,
        vault: &Vault,
        event: &NewEvent<'_>,
    ) -> Result<String> {
        let id = new.id.clone();
        let sealed = match &new.secrets {
            Some(s) => Some(vault.seal(&connection_aad(&id, 0), s)?),
            None => None,
        };
        let now = self.now();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO connections (id, customer_id, provider, kind, state, credential_hint, sealed,
                 created_at, updated_at, last_checked_at, scopes, access_expires_at, refresh_expires_at,
                 tokens_issued_at, details)
             VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(new.customer_id)
        .bind(new.provider.as_str())
        .bind(new.kind.as_str())
        .bind(&new.credential_hint)
        .bind(&sealed)
        .bind(&now)
        .bind(&now)
        .bind(&now)
        .bind(&new.scopes)
        .bind(&new.access_expires_at)
        .bind(&new.refresh_expires_at)
        .bind(&new.tokens_issued_at)
        .bind(details_json(&new.details))
        .execute(&mut *tx)
        .await?;
        self.insert_sites(&mut tx, &id, new.provider, new.sites)
            .await?;
        self.commit_with(tx, event).await?;
        Ok(id)
    }

    /// Adds sites to an existing connection (installer-account picks made later).
    pub async fn add_sites(&self, added: &NewSites<'_>, event: &NewEvent<'_>) -> Result<()> {
        let NewSites {
            connection_id,
            provider,
            sites,
        } = *added;
        let mut tx = self.write_tx().await?;
        self.insert_sites(&mut tx, connection_id, provider, sites)
            .await?;
        sqlx::query("UPDATE connections SET updated_at = ?, last_checked_at = ? WHERE id = ?")
            .bind(self.now())
            .bind(self.now())
            .bind(connection_id)
            .execute(&mut *tx)
            .await?;
        self.commit_with(tx, event).await
    }

    /// A connection's sealed secrets and the generation they are sealed for.
    pub async fn connection_secrets(&self, connection_id: &str) -> Result<Option<SealedRow>> {
        let row = sqlx::query("SELECT sealed, generation FROM connections WHERE id = ?")
            .bind(connection_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("No such connection."))?;
        Ok(row
            .get::<Option<String>, _>("sealed")
            .map(|sealed| SealedRow {
                sealed,
                generation: row.get("generation"),
            }))
    }

    /// Deletes a connection with its sealed secrets and its sites, with an event, in one
    /// transaction.
    pub async fn delete_connection(&self, id: &str, event: &NewEvent<'_>) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let gone = sqlx::query("DELETE FROM connections WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(Error::not_found("No such connection."));
        }
        self.commit_with(tx, event).await
    }

    /// For each site of a provider already connected: its external id -> the customer's name.
    pub async fn connected_sites(
        &self,
        provider: ProviderId,
    ) -> Result<HashMap<String, (String, String)>> {
        let rows = sqlx::query(
            "SELECT s.external_id, c.id AS customer_id, c.name FROM sites s
             JOIN connections k ON s.connection_id = k.id JOIN customers c ON k.customer_id = c.id
             WHERE s.provider = ? AND s.attached = 1",
        )
        .bind(provider.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("external_id"), (r.get("customer_id"), r.get("name"))))
            .collect())
    }

    /// Replaces a connection's tokens' facts after a new grant for it (re-authorization,
    /// Pelm's update mode): scope, expiries, details and sites, with an event. A refresh writes
    /// the same facts through [`Store::queue_refresh`].
    pub async fn update_grant(
        &self,
        grant: &NewGrant<'_>,
        vault: &Vault,
        event: Option<NewEvent<'_>>,
    ) -> Result<()> {
        let NewGrant {
            connection_id,
            scopes,
            access_expires_at,
            refresh_expires_at,
            tokens_issued_at,
            details,
            sites,
            secrets,
        } = *grant;
        let mut tx = self.write_tx().await?;
        // The new grant replaces the old whatever a refresh of it is doing: the generation moves
        // on, so a holder of the old lease can no longer write.
        let generation: i64 = sqlx::query_scalar("SELECT generation FROM connections WHERE id = ?")
            .bind(connection_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::not_found("No such connection."))?;
        let sealed = vault.seal(&connection_aad(connection_id, generation + 1), secrets)?;
        sqlx::query(
            "UPDATE connections SET
                sealed = ?, generation = generation + 1, lease_holder = NULL, lease_id = NULL,
                lease_until = NULL, refresh_started_at = NULL,
                scopes = COALESCE(?, scopes),
                access_expires_at = ?,
                refresh_expires_at = COALESCE(?, refresh_expires_at),
                tokens_issued_at = COALESCE(?, tokens_issued_at),
                details = COALESCE(?, details),
                state = 'active', last_error_code = NULL, last_error_message = NULL, last_error_hint = NULL,
                last_error_details = NULL,
                updated_at = ?, last_checked_at = ?
             WHERE id = ?",
        )
        .bind(&sealed)
        .bind(scopes)
        .bind(access_expires_at)
        .bind(refresh_expires_at)
        .bind(tokens_issued_at)
        .bind(details.and_then(details_json))
        .bind(self.now())
        .bind(self.now())
        .bind(connection_id)
        .execute(&mut *tx)
        .await?;
        if let Some(sites) = sites {
            let provider: String =
                sqlx::query_scalar("SELECT provider FROM connections WHERE id = ?")
                    .bind(connection_id)
                    .fetch_one(&mut *tx)
                    .await?;
            self.insert_sites(&mut tx, connection_id, provider_of(&provider)?, sites)
                .await?;
        }
        if let Some(e) = event {
            self.insert_event(&mut tx, &e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// When the connection's access token expires, if Onramp knows.
    pub async fn access_expires_at(&self, connection_id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT access_expires_at FROM connections WHERE id = ?")
                .bind(connection_id)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }
}

/// Details as stored: JSON of the facts known, nothing when none are.
pub(super) fn details_json(d: &ConnectionDetails) -> Option<String> {
    (!d.is_empty()).then(|| serde_json::to_string(d).unwrap_or_default())
}

/// Details as read back: an unreadable value is an error that says so, not an empty set.
fn details_of(stored: Option<String>, id: &str) -> Result<ConnectionDetails> {
    match stored {
        None => Ok(ConnectionDetails::default()),
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            Error::unreadable(format_args!("the details saved for connection {id}"), e)
        }),
    }
}

impl Store {
    pub(super) async fn insert_sites(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        connection_id: &str,
        provider: ProviderId,
        sites: &[VendorSite],
    ) -> Result<()> {
        let now = self.now();
        // A site whose address is another household's starts unattached, for the installer to
        // confirm; a connection's only site is the customer's, and so is every site the
        // installer picked from their own account. Sites seen before keep the installer's
        // choice.
        let owner = sqlx::query(
            "SELECT c.address, k.kind FROM connections k JOIN customers c ON c.id = k.customer_id
             WHERE k.id = ?",
        )
        .bind(connection_id)
        .fetch_optional(&mut **tx)
        .await?;
        let customer: Option<String> = owner.as_ref().and_then(|r| r.get("address"));
        let picked = owner.as_ref().is_some_and(|r| {
            r.get::<String, _>("kind") == CredentialKind::InstallerAccount.as_str()
        });
        for s in sites {
            let attached = picked
                || sites.len() == 1
                || crate::address::same_place(customer.as_deref(), s.address.as_deref())
                    != Some(false);
            sqlx::query(
            "INSERT INTO sites (id, connection_id, provider, external_id, name, address, peak_power_kw, status, created_at, attached)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (connection_id, external_id) DO UPDATE SET
                name = excluded.name, address = excluded.address,
                peak_power_kw = excluded.peak_power_kw, status = excluded.status",
        )
        .bind(new_id())
        .bind(connection_id)
        .bind(provider.as_str())
        .bind(&s.external_id)
        .bind(&s.name)
        .bind(&s.address)
        .bind(s.peak_power_kw)
        .bind(&s.status)
        .bind(&now)
        .bind(attached)
        .execute(&mut **tx)
        .await?;
        }
        Ok(())
    }
}

/// A `connections` row as a [`Connection`], with its sites.
fn sites_by_connection(rows: &[SqliteRow]) -> Result<HashMap<String, Vec<Site>>> {
    let mut sites: HashMap<String, Vec<Site>> = HashMap::new();
    for r in rows {
        let site = Site {
            id: r.get("id"),
            connection_id: r.get("connection_id"),
            provider: provider_of(r.get("provider"))?,
            external_id: r.get("external_id"),
            name: r.get("name"),
            address: r.get("address"),
            peak_power_kw: r.get("peak_power_kw"),
            status: r.get("status"),
            attached: r.get::<i64, _>("attached") != 0,
            address_matches: crate::address::same_place(
                r.get::<Option<String>, _>("customer_address").as_deref(),
                r.get::<Option<String>, _>("address").as_deref(),
            ),
        };
        sites
            .entry(site.connection_id.clone())
            .or_default()
            .push(site);
    }
    Ok(sites)
}

fn connection_of(r: &SqliteRow, sites: Vec<Site>) -> Result<Connection> {
    let last_error = r
        .get::<Option<String>, _>("last_error_code")
        .map(|code| ErrorInfo {
            code: parse_code(&code),
            message: r
                .get::<Option<String>, _>("last_error_message")
                .unwrap_or_default(),
            hint: r.get("last_error_hint"),
            details: r.get("last_error_details"),
        });
    Ok(Connection {
        id: r.get("id"),
        customer_id: r.get("customer_id"),
        provider: provider_of(r.get("provider"))?,
        kind: CredentialKind::parse(r.get("kind"))
            .ok_or_else(|| Error::unreadable("a connection's kind", "unknown connection kind"))?,
        state: ConnectionState::parse(r.get("state"))
            .ok_or_else(|| Error::unreadable("a connection's state", "unknown connection state"))?,
        credential_hint: r.get("credential_hint"),
        last_error,
        created_at: r.get("created_at"),
        last_checked_at: r.get("last_checked_at"),
        sites,
        scopes: r.get("scopes"),
        details: details_of(r.get("details"), r.get("id"))?,
        access_expires_at: r.get("access_expires_at"),
        refresh_expires_at: r.get("refresh_expires_at"),
        tokens_issued_at: r.get("tokens_issued_at"),
    })
}
