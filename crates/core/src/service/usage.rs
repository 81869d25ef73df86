//! Utility usage: Green Button feeds (Connect My Data through UtilityAPI, or a file the
//! customer downloaded), Metry's monthly consumption; token refresh for the connections that
//! fetch it; Derapi Join sessions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use super::{words, Onramp};
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::providers::{self, oauth as vendor_oauth, VendorSite};
use crate::store::{NewEvent, NewSeries};
use crate::usage::{self, espi};
use crate::vault::Sensitive;

/// Largest Green Button file Onramp takes as bytes from the window (picked in its file
/// chooser): the whole file is in memory before it is read.
pub const MAX_BYTES: u64 = 128 * 1024 * 1024;

/// A parser error in words an installer can act on; nothing was stored.
fn unreadable(file: &str, e: espi::EspiError) -> Error {
    if matches!(e, espi::EspiError::Cancelled) {
        return Error::new(
            Code::Cancelled,
            format!("The import of {file} was cancelled. Nothing was saved."),
        );
    }
    let hint = match e {
        espi::EspiError::Truncated => "Download the file again from the utility's website; it was cut off.",
        espi::EspiError::Io(_) => "Check that the file is still there and readable.",
        espi::EspiError::TooLarge(_) => "A utility's Green Button file stays well within this: download it again from the utility's website (Green Button → Download My Data), for a shorter period if it is very large.",
        _ => "Download the Green Button file (XML, not CSV or PDF) from the utility's website: Green Button → Download My Data.",
    };
    Error::validation(format!(
        "{file} could not be imported: {e}. Nothing was saved."
    ))
    .hint(hint)
}

/// The usage imports being read, by customer, each with its Cancel.
#[derive(Default)]
pub(crate) struct Imports(Mutex<HashMap<String, Arc<AtomicBool>>>);

/// One import being read: its customer's place in [`Imports`], given back when it ends.
struct Running<'a> {
    imports: &'a Imports,
    customer: String,
    cancel: Arc<AtomicBool>,
}

impl Imports {
    fn begin(&self, customer: &str) -> Result<Running<'_>> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if m.contains_key(customer) {
            return Err(Error::new(
                Code::Busy,
                "A usage import for this customer is already running.",
            )
            .hint("Wait for it to finish, or cancel it."));
        }
        let cancel = Arc::new(AtomicBool::new(false));
        m.insert(customer.to_string(), cancel.clone());
        Ok(Running {
            imports: self,
            customer: customer.to_string(),
            cancel,
        })
    }

    fn cancel(&self, customer: &str) -> bool {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.get(customer)
            .map(|c| c.store(true, Ordering::Relaxed))
            .is_some()
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut m = self.imports.0.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(&self.customer);
    }
}

/// Called as the file is read.
pub type Progress = Arc<dyn Fn(&UsageImportProgress) + Send + Sync>;

/// Where an import's bytes come from.
enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
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

    /// Removes one usage series (an imported file's, or one a utility connection brought: the
    /// next fetch brings that one back), with its event.
    pub async fn remove_usage_series(&self, id: &str) -> Result<()> {
        let actor = self.actor;
        self.store
            .remove_usage_series(id, |_, title| words::usage_removed(title, actor))
            .await
            .map(|_| ())
    }

    /// Imports a Green Button (ESPI XML) file the customer downloaded from their utility.
    /// The whole file is read before anything is stored, and stored in one transaction: a
    /// malformed, truncated, too large or cancelled file stores nothing.
    pub async fn import_usage_file(&self, customer_id: &str, path: &Path) -> Result<UsageImport> {
        self.import_usage_file_with(customer_id, path, Arc::new(|_: &UsageImportProgress| {}))
            .await
    }

    /// [`Onramp::import_usage_file`], telling `progress` how far it has read; it can be
    /// cancelled meanwhile ([`Onramp::cancel_usage_import`]).
    pub async fn import_usage_file_with(
        &self,
        customer_id: &str,
        path: &Path,
        progress: Progress,
    ) -> Result<UsageImport> {
        let customer = self.store.customer(customer_id).await?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "the file".into());
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::validation(format!("Cannot open {name}: {e}."))
                .hint("Check the file name and that the file is on this laptop.")
        })?;
        if !meta.is_file() || meta.len() == 0 {
            return Err(Error::validation(format!(
                "{name} is empty or not a file. Nothing was saved."
            ))
            .hint("Download the Green Button file again from the utility's website."));
        }
        let limits = espi::Limits::default();
        if meta.len() > limits.input {
            return Err(unreadable(
                &name,
                espi::EspiError::TooLarge(espi::Limit::Input(limits.input)),
            ));
        }
        let source = Source::File(path.to_path_buf());
        self.import(&customer.id, name, meta.len(), source, limits, progress)
            .await
    }

    /// Imports a Green Button file's bytes (picked in the window's file chooser), at most
    /// [`MAX_BYTES`].
    pub async fn import_usage_bytes(
        &self,
        customer_id: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<UsageImport> {
        self.import_usage_bytes_with(
            customer_id,
            file_name,
            bytes,
            Arc::new(|_: &UsageImportProgress| {}),
        )
        .await
    }

    /// [`Onramp::import_usage_bytes`], telling `progress` how far it has read.
    pub async fn import_usage_bytes_with(
        &self,
        customer_id: &str,
        file_name: &str,
        bytes: Vec<u8>,
        progress: Progress,
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
        let limits = espi::Limits {
            input: MAX_BYTES,
            ..espi::Limits::default()
        };
        let len = bytes.len() as u64;
        if len > limits.input {
            return Err(unreadable(
                &name,
                espi::EspiError::TooLarge(espi::Limit::Input(limits.input)),
            ));
        }
        self.import(
            &customer.id,
            name,
            len,
            Source::Bytes(bytes),
            limits,
            progress,
        )
        .await
    }

    /// Stops the customer's usage import being read; true if one was. It ends with a
    /// `Cancelled` error and stores nothing.
    pub fn cancel_usage_import(&self, customer_id: &str) -> bool {
        self.usage_imports.cancel(customer_id)
    }

    /// Reads the whole feed (off the async threads), then stores it in one transaction unless
    /// it was cancelled meanwhile.
    async fn import(
        &self,
        customer_id: &str,
        name: String,
        total: u64,
        source: Source,
        limits: espi::Limits,
        progress: Progress,
    ) -> Result<UsageImport> {
        let running = self.usage_imports.begin(customer_id)?;
        let cancel = running.cancel.clone();
        let (customer, file) = (customer_id.to_string(), name.clone());
        let feed = tokio::task::spawn_blocking(move || {
            let report = |read: u64| {
                progress(&UsageImportProgress {
                    customer_id: customer.clone(),
                    file_name: file.clone(),
                    read: read as i64,
                    total: total as i64,
                })
            };
            let watch = espi::Watch {
                progress: &report,
                cancel: &cancel,
                // About a hundred reports a file, none closer than 64 KiB.
                every: (total / 100).max(64 * 1024),
            };
            match source {
                Source::File(p) => espi::parse_file_with(&p, limits, Some(&watch)),
                Source::Bytes(b) => espi::parse_with(&b[..], limits, Some(&watch)),
            }
        })
        .await
        .map_err(|e| Error::internal(format!("the import stopped: {e}")))?
        .map_err(|e| unreadable(&name, e))?;
        if running.cancel.load(Ordering::Relaxed) {
            return Err(unreadable(&name, espi::EspiError::Cancelled));
        }
        let out = self.save_import(customer_id, &name, total, &feed).await;
        drop(running);
        out
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
