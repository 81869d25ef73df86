//! Utility usage: Green Button feeds (Connect My Data through UtilityAPI, or a file the
//! customer downloaded), Metry's monthly consumption; token refresh for the connections that
//! fetch it; Derapi Join sessions.

use std::path::Path;

use time::OffsetDateTime;

use super::{words, Onramp};
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::providers::{self, oauth as vendor_oauth, VendorSite};
use crate::store::{NewEvent, NewSeries};
use crate::usage::{self, espi};
use crate::vault::Sensitive;

/// Largest Green Button file Onramp imports.
const MAX_FILE: u64 = 512 * 1024 * 1024;

/// A parser error in words an installer can act on; nothing was stored.
fn unreadable(file: &str, e: espi::EspiError) -> Error {
    let hint = match e {
        espi::EspiError::Truncated => "Download the file again from the utility's website; it was cut off.",
        espi::EspiError::Io(_) => "Check that the file is still there and readable.",
        _ => "Download the Green Button file (XML, not CSV or PDF) from the utility's website: Green Button → Download My Data.",
    };
    Error::validation(format!(
        "{file} could not be imported: {e}. Nothing was saved."
    ))
    .hint(hint)
}

impl Onramp {
    /// A customer's usage summaries.
    pub async fn usage(&self, customer_id: &str) -> Result<Vec<UsageSeries>> {
        self.store.customer(customer_id).await?;
        self.store.usage(customer_id).await
    }

    pub(crate) async fn store_usage(
        &self,
        customer_id: &str,
        connection_id: Option<&str>,
        source: &str,
        series: &[NewSeries],
    ) -> Result<Vec<UsageSeries>> {
        let months: usize = series.iter().map(|s| s.months.len()).sum();
        let ids = self
            .store
            .put_usage(
                customer_id,
                connection_id,
                source,
                series,
                &NewEvent {
                    customer_id: Some(customer_id),
                    connection_id,
                    provider: None,
                    kind: crate::model::EventKind::UsageImported,
                    summary: format!(
                        "Usage from {source}: {} meter reading series, {months} months",
                        series.len()
                    ),
                    actor: self.actor,
                },
            )
            .await?;
        Ok(self
            .store
            .usage(customer_id)
            .await?
            .into_iter()
            .filter(|s| ids.contains(&s.id))
            .collect())
    }

    /// Imports a Green Button (ESPI XML) file the customer downloaded from their utility.
    /// The whole file is read before anything is stored: a malformed or truncated file stores nothing.
    /// Removes one usage series (an imported file's, or one a utility connection brought: the
    /// next fetch brings that one back), with its event.
    pub async fn remove_usage_series(&self, id: &str) -> Result<()> {
        let actor = self.actor;
        self.store
            .remove_usage_series(id, |_, title| words::usage_removed(title, actor))
            .await
            .map(|_| ())
    }

    pub async fn import_usage_file(&self, customer_id: &str, path: &Path) -> Result<UsageImport> {
        let customer = self.store.customer(customer_id).await?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "the file".into());
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::validation(format!("Cannot open {}: {e}.", path.display()))
                .hint("Check the file name and that the file is on this laptop.")
        })?;
        if !meta.is_file() || meta.len() == 0 {
            return Err(Error::validation(format!(
                "{name} is empty or not a file. Nothing was saved."
            ))
            .hint("Download the Green Button file again from the utility's website."));
        }
        if meta.len() > MAX_FILE {
            return Err(Error::validation(format!(
                "{name} is larger than 512 MB; Onramp did not import it."
            )));
        }
        let p = path.to_path_buf();
        let feed = tokio::task::spawn_blocking(move || espi::parse_file(&p))
            .await
            .map_err(|e| Error::internal(format!("the import stopped: {e}")))?
            .map_err(|e| unreadable(&name, e))?;
        self.save_import(&customer.id, &name, meta.len(), &feed)
            .await
    }

    /// Imports a Green Button file's bytes (dropped on the window or picked in the UI).
    pub async fn import_usage_bytes(
        &self,
        customer_id: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<UsageImport> {
        let customer = self.store.customer(customer_id).await?;
        let name: String = file_name
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect::<String>()
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default()
            .to_string();
        let name = if name.is_empty() {
            "usage.xml".to_string()
        } else {
            name
        };
        if bytes.is_empty() {
            return Err(
                Error::validation(format!("{name} is empty. Nothing was saved."))
                    .hint("Download the Green Button file again from the utility's website."),
            );
        }
        let len = bytes.len() as u64;
        let n = name.clone();
        let feed = tokio::task::spawn_blocking(move || espi::parse(std::io::Cursor::new(bytes)))
            .await
            .map_err(|e| Error::internal(format!("the import stopped: {e}")))?
            .map_err(|e| unreadable(&n, e))?;
        self.save_import(&customer.id, &name, len, &feed).await
    }

    async fn save_import(
        &self,
        customer_id: &str,
        name: &str,
        bytes: u64,
        feed: &espi::Feed,
    ) -> Result<UsageImport> {
        let series = usage::to_series(feed, &format!("file:{name}"));
        let stored = self
            .store_usage(
                customer_id,
                None,
                &format!("Green Button file {name}"),
                &series,
            )
            .await?;
        Ok(UsageImport {
            file_name: name.to_string(),
            bytes: bytes as i64,
            series: stored,
        })
    }

    /// Fetches a utility connection's usage again (UtilityAPI, Metry), refreshing the access
    /// token first when it has expired or the vendor says so.
    pub async fn fetch_usage(&self, connection_id: &str) -> Result<Vec<UsageSeries>> {
        let conn = self.store.connection(connection_id).await?;
        if !providers::vendor(conn.provider).gives_usage() {
            return Err(Error::validation(format!(
                "{} does not provide usage data.",
                providers::spec(conn.provider).name
            )));
        }
        let expires = self.store.access_expires_at(&conn.id).await?;
        let expired = expires
            .and_then(|e| {
                OffsetDateTime::parse(&e, &time::format_description::well_known::Rfc3339).ok()
            })
            .is_some_and(|e| e < self.now() + time::Duration::seconds(60));
        if expired {
            self.refresh_connection(&conn.id).await?;
        }
        let mut retried = false;
        loop {
            let access = self.access_token(&conn.id).await?;
            let attempt = self.fetch_usage_once(&conn, &access).await;
            match attempt {
                Err(e) if e.code == Code::ReauthRequired && !retried => {
                    retried = true;
                    self.refresh_connection(&conn.id).await?;
                }
                Err(e) if e.code == Code::VendorRejected => {
                    self.store
                        .record_check(&conn.id, Some(&e.info()), &[], self.actor)
                        .await?;
                    return Err(e);
                }
                Err(e) => return Err(e),
                Ok((sites, source, series)) => {
                    self.store
                        .record_check(&conn.id, None, &sites, self.actor)
                        .await?;
                    return self
                        .store_usage(&conn.customer_id, Some(&conn.id), &source, &series)
                        .await;
                }
            }
        }
    }

    async fn fetch_usage_once(
        &self,
        conn: &Connection,
        access: &Sensitive<String>,
    ) -> Result<(Vec<VendorSite>, String, Vec<NewSeries>)> {
        let endpoints = self.token_endpoints(conn)?;
        let request = providers::UsageRequest {
            client: &self.http,
            endpoints: &endpoints,
            access,
            details: &conn.details,
            year: self.now().year(),
        };
        let Some(fetch) = providers::vendor(conn.provider).usage(request) else {
            return Err(Error::internal("this provider gives no usage"));
        };
        let u = fetch.await?;
        Ok((u.sites, u.source, u.series))
    }

    /// The provider's token endpoint for a connection (UtilityAPI's is per utility).
    pub(crate) fn token_endpoints(&self, conn: &Connection) -> Result<vendor_oauth::Endpoints> {
        let configured = self.oauth_spec_pub(conn.provider)?.1;
        providers::vendor(conn.provider).grant_endpoints(&self.config, &conn.details, configured)
    }
}
