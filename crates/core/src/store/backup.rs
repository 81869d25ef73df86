//! The store's content as plain rows, for backups: read in one snapshot, and written back in
//! place of everything in one transaction.
//!
//! Rows carry their sealed secrets only to the service (`sealed`, never serialized): a backup
//! opens them and carries them encrypted to its passphrase, a restore seals them again with
//! this data folder's key. What belongs to one process or one moment stays out: leases,
//! in-flight marks, generations, pending sign-ins.

use serde::{Deserialize, Serialize};

use super::{NewEvent, Store};
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct CustomerRow {
    pub id: String,
    pub name: String,
    pub address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_number: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct ConnectionRow {
    pub id: String,
    pub customer_id: String,
    pub provider: String,
    pub kind: String,
    pub state: String,
    pub external_account: Option<String>,
    pub credential_hint: Option<String>,
    pub scopes: Option<String>,
    pub access_expires_at: Option<String>,
    pub refresh_expires_at: Option<String>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub last_error_hint: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_checked_at: Option<String>,
    pub details: Option<String>,
    pub tokens_issued_at: Option<String>,
    /// Read: the row's sealed secrets and their generation. Written: sealed for generation 0.
    #[serde(skip)]
    pub sealed: Option<String>,
    #[serde(skip)]
    pub generation: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct SiteRow {
    pub id: String,
    pub connection_id: String,
    pub provider: String,
    pub external_id: String,
    pub name: String,
    pub address: Option<String>,
    pub peak_power_kw: Option<f64>,
    pub status: Option<String>,
    pub created_at: String,
    /// The installer counts it as the customer's (backups from before: every site was).
    #[serde(default = "attached_by_default")]
    pub attached: bool,
}

fn attached_by_default() -> bool {
    true
}

/// A vendor app, an installer account or a provider's sign-in return setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct ProviderAppRow {
    pub provider: String,
    pub kind: String,
    pub client_id: Option<String>,
    pub credential_hint: Option<String>,
    pub redirect_mode: Option<String>,
    pub relay_url: Option<String>,
    pub updated_at: String,
    /// A signed-in installer account (Enphase's partner plan): its state, its tokens' expiries
    /// and what went wrong last (backups made before these existed have none).
    #[serde(default)]
    pub account_state: Option<String>,
    #[serde(default)]
    pub access_expires_at: Option<String>,
    #[serde(default)]
    pub refresh_expires_at: Option<String>,
    #[serde(default)]
    pub last_error_code: Option<String>,
    #[serde(default)]
    pub last_error_message: Option<String>,
    #[serde(default)]
    pub last_error_hint: Option<String>,
    #[serde(skip)]
    pub sealed: Option<String>,
    /// What the sealed secrets are bound to; restored rows are sealed afresh at 0.
    #[serde(skip)]
    pub generation: i64,
}

impl ProviderAppRow {
    /// The row's key, as its sealed secrets' place names it (`{provider}/{kind}`).
    pub fn key(&self) -> String {
        format!("{}/{}", self.provider, self.kind)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct UsageSeriesRow {
    pub id: String,
    pub customer_id: String,
    pub connection_id: Option<String>,
    pub source_key: String,
    pub source: String,
    pub title: String,
    pub commodity: String,
    pub flow: String,
    pub unit: String,
    pub currency: Option<String>,
    pub readings: i64,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    pub updated_at: String,
    /// Absent from backups made before Onramp kept it.
    #[serde(default)]
    pub service_address: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct UsageMonthRow {
    pub series_id: String,
    pub month: String,
    /// Kept for backups an older Onramp reads; `energy_milli` is the value.
    pub energy: f64,
    /// Thousandths of the unit; absent from backups made before Onramp kept it (then it is
    /// `energy × 1000`, rounded).
    #[serde(default)]
    pub energy_milli: Option<i64>,
    pub cost: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct EventRow {
    pub id: i64,
    pub at: String,
    pub customer_id: Option<String>,
    pub connection_id: Option<String>,
    pub provider: Option<String>,
    pub kind: String,
    pub summary: String,
    pub actor: String,
    pub scopes: Option<String>,
}

/// Everything a backup carries from the store, table by table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub customers: Vec<CustomerRow>,
    pub connections: Vec<ConnectionRow>,
    pub sites: Vec<SiteRow>,
    pub provider_apps: Vec<ProviderAppRow>,
    pub usage_series: Vec<UsageSeriesRow>,
    pub usage_months: Vec<UsageMonthRow>,
    pub events: Vec<EventRow>,
}

/// How a restore treats the data folder's key.
pub enum KeyChange<'a> {
    /// The store's recorded key stays; it must still be this one (a rotation meanwhile would
    /// leave the restored secrets sealed with a retired key).
    Keep { key_id: &'a str },
    /// The store's key is lost: record this one (id and check value) with the restored rows.
    Replace { key_id: &'a str, check: &'a str },
}

/// The customers already in the store, in words, when a restore would replace them.
pub fn would_replace(customers: i64) -> Error {
    let noun = if customers == 1 {
        "customer"
    } else {
        "customers"
    };
    Error::validation(format!(
        "This laptop already has {customers} {noun}; restoring replaces them. Use --replace / confirm."
    ))
    .hint("Make a backup of this laptop first if you may need its data, then restore with --replace (in the app: confirm the replacement).")
}

impl Store {
    /// How many customers the store holds.
    pub async fn customer_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Every table a backup carries, read in one snapshot (one read transaction: a write that
    /// lands meanwhile is either wholly in it or not at all).
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let mut tx = self.pool.begin().await?;
        let snap = Snapshot {
            customers: sqlx::query_as(
                "SELECT id, name, address, email, phone, job_number, created_at, updated_at
                 FROM customers ORDER BY created_at, id",
            )
            .fetch_all(&mut *tx)
            .await?,
            connections: sqlx::query_as(
                "SELECT id, customer_id, provider, kind, state, external_account, credential_hint,
                    scopes, access_expires_at, refresh_expires_at, last_error_code,
                    last_error_message, last_error_hint, created_at, updated_at, last_checked_at,
                    details, tokens_issued_at, sealed, generation
                 FROM connections ORDER BY created_at, id",
            )
            .fetch_all(&mut *tx)
            .await?,
            sites: sqlx::query_as(
                "SELECT id, connection_id, provider, external_id, name, address, peak_power_kw,
                    status, created_at, attached
                 FROM sites ORDER BY created_at, id",
            )
            .fetch_all(&mut *tx)
            .await?,
            provider_apps: sqlx::query_as(
                "SELECT provider, kind, client_id, credential_hint, redirect_mode, relay_url,
                    updated_at, account_state, access_expires_at, refresh_expires_at,
                    last_error_code, last_error_message, last_error_hint, sealed, generation
                 FROM provider_apps ORDER BY provider, kind",
            )
            .fetch_all(&mut *tx)
            .await?,
            usage_series: sqlx::query_as(
                "SELECT id, customer_id, connection_id, source_key, source, title, commodity, flow,
                    unit, currency, readings, first_at, last_at, updated_at, service_address
                 FROM usage_series ORDER BY customer_id, source_key",
            )
            .fetch_all(&mut *tx)
            .await?,
            usage_months: sqlx::query_as(
                "SELECT series_id, month, energy, energy_milli, cost
                 FROM usage_months ORDER BY series_id, month",
            )
            .fetch_all(&mut *tx)
            .await?,
            events: sqlx::query_as(
                "SELECT id, at, customer_id, connection_id, provider, kind, summary, actor, scopes
                 FROM events ORDER BY id",
            )
            .fetch_all(&mut *tx)
            .await?,
        };
        tx.commit().await?;
        Ok(snap)
    }

    /// Replaces the store's content with `snap` (its rows' `sealed` already sealed with the
    /// data folder's key for generation 0) in one transaction, with `event` recorded last.
    /// Refuses, changing nothing, when the store has customers and `replace` is false, or when
    /// the store's key is no longer the one the secrets were sealed with. Pending sign-ins go:
    /// they belong to the customers being replaced.
    pub async fn replace_all(
        &self,
        snap: &Snapshot,
        key: KeyChange<'_>,
        replace: bool,
        event: &NewEvent<'_>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let customers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(&mut *tx)
            .await?;
        if customers > 0 && !replace {
            return Err(would_replace(customers));
        }
        let recorded: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'data_key'")
                .fetch_optional(&mut *tx)
                .await?;
        match key {
            KeyChange::Keep { key_id } => {
                if recorded.as_deref() != Some(key_id) {
                    return Err(Error::new(
                        crate::error::Code::Busy,
                        "The data folder's key changed while the backup was being restored (another Onramp rotated it). Nothing was changed.",
                    )
                    .hint("Restore the backup again."));
                }
            }
            KeyChange::Replace { key_id, check } => {
                for (k, v) in [("data_key", key_id), ("data_key_check", check)] {
                    sqlx::query(
                        "INSERT INTO meta (key, value) VALUES (?, ?)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    )
                    .bind(k)
                    .bind(v)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        // Children first (the foreign keys); literal statements, one per table.
        for delete in [
            "DELETE FROM usage_months",
            "DELETE FROM usage_series",
            "DELETE FROM sites",
            "DELETE FROM events",
            "DELETE FROM pending_authorizations",
            "DELETE FROM connections",
            "DELETE FROM provider_apps",
            "DELETE FROM customers",
        ] {
            sqlx::query(delete).execute(&mut *tx).await?;
        }
        for c in &snap.customers {
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
        }
        for c in &snap.connections {
            sqlx::query(
                "INSERT INTO connections (id, customer_id, provider, kind, state, external_account,
                    credential_hint, scopes, access_expires_at, refresh_expires_at, last_error_code,
                    last_error_message, last_error_hint, created_at, updated_at, last_checked_at,
                    details, tokens_issued_at, sealed, generation)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            )
            .bind(&c.id)
            .bind(&c.customer_id)
            .bind(&c.provider)
            .bind(&c.kind)
            .bind(&c.state)
            .bind(&c.external_account)
            .bind(&c.credential_hint)
            .bind(&c.scopes)
            .bind(&c.access_expires_at)
            .bind(&c.refresh_expires_at)
            .bind(&c.last_error_code)
            .bind(&c.last_error_message)
            .bind(&c.last_error_hint)
            .bind(&c.created_at)
            .bind(&c.updated_at)
            .bind(&c.last_checked_at)
            .bind(&c.details)
            .bind(&c.tokens_issued_at)
            .bind(&c.sealed)
            .execute(&mut *tx)
            .await?;
        }
        for s in &snap.sites {
            sqlx::query(
                "INSERT INTO sites (id, connection_id, provider, external_id, name, address,
                    peak_power_kw, status, created_at, attached)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&s.id)
            .bind(&s.connection_id)
            .bind(&s.provider)
            .bind(&s.external_id)
            .bind(&s.name)
            .bind(&s.address)
            .bind(s.peak_power_kw)
            .bind(&s.status)
            .bind(&s.created_at)
            .bind(s.attached)
            .execute(&mut *tx)
            .await?;
        }
        for a in &snap.provider_apps {
            sqlx::query(
                "INSERT INTO provider_apps (provider, kind, client_id, credential_hint,
                    redirect_mode, relay_url, updated_at, account_state, access_expires_at,
                    refresh_expires_at, last_error_code, last_error_message, last_error_hint,
                    sealed, generation)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&a.provider)
            .bind(&a.kind)
            .bind(&a.client_id)
            .bind(&a.credential_hint)
            .bind(&a.redirect_mode)
            .bind(&a.relay_url)
            .bind(&a.updated_at)
            .bind(&a.account_state)
            .bind(&a.access_expires_at)
            .bind(&a.refresh_expires_at)
            .bind(&a.last_error_code)
            .bind(&a.last_error_message)
            .bind(&a.last_error_hint)
            .bind(&a.sealed)
            .bind(a.generation)
            .execute(&mut *tx)
            .await?;
        }
        for u in &snap.usage_series {
            sqlx::query(
                "INSERT INTO usage_series (id, customer_id, connection_id, source_key, source, title,
                    commodity, flow, unit, currency, readings, first_at, last_at, updated_at,
                    service_address)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&u.id)
            .bind(&u.customer_id)
            .bind(&u.connection_id)
            .bind(&u.source_key)
            .bind(&u.source)
            .bind(&u.title)
            .bind(&u.commodity)
            .bind(&u.flow)
            .bind(&u.unit)
            .bind(&u.currency)
            .bind(u.readings)
            .bind(&u.first_at)
            .bind(&u.last_at)
            .bind(&u.updated_at)
            .bind(&u.service_address)
            .execute(&mut *tx)
            .await?;
        }
        for m in &snap.usage_months {
            sqlx::query(
                "INSERT INTO usage_months (series_id, month, energy, energy_milli, cost)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&m.series_id)
            .bind(&m.month)
            .bind(m.energy)
            .bind(
                m.energy_milli
                    .unwrap_or_else(|| (m.energy * 1000.0).round() as i64),
            )
            .bind(m.cost)
            .execute(&mut *tx)
            .await?;
        }
        for e in &snap.events {
            sqlx::query(
                "INSERT INTO events (id, at, customer_id, connection_id, provider, kind, summary,
                    actor, scopes)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(e.id)
            .bind(&e.at)
            .bind(&e.customer_id)
            .bind(&e.connection_id)
            .bind(&e.provider)
            .bind(&e.kind)
            .bind(&e.summary)
            .bind(&e.actor)
            .bind(&e.scopes)
            .execute(&mut *tx)
            .await?;
        }
        // Each customer's newest activity, from the events just written (whatever their order).
        sqlx::query(
            "UPDATE customers SET last_activity_at = COALESCE(
                 (SELECT e.at FROM events e WHERE e.customer_id = customers.id
                  ORDER BY e.id DESC LIMIT 1),
                 created_at)",
        )
        .execute(&mut *tx)
        .await?;
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}
