//! The activity log as a file an installer files with the job: every enrollment, refresh,
//! failure, re-authorization and removal, who did it and when. Events never hold secrets, so
//! neither does the export.

use serde::Serialize;

use super::Onramp;
use crate::error::{Error, Result};
use crate::model::{ActivityFilter, Event, ProviderId, ACTIVITY_PAGE};

/// The export's formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

/// One exported event: the log entry with its customer's and provider's names.
#[derive(Serialize)]
struct Row<'a> {
    at: &'a str,
    customer: &'a str,
    provider: &'a str,
    kind: &'a str,
    summary: &'a str,
    actor: &'a str,
    /// Who acted (Settings: your name), empty for what Onramp did on its own.
    installer: &'a str,
    /// What a sign-in granted.
    scopes: &'a str,
    customer_id: &'a str,
    connection_id: &'a str,
}

impl ActivityFilter {
    fn check(&self) -> Result<()> {
        for d in [&self.since, &self.until].into_iter().flatten() {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(d, &fmt).map_err(|_| {
                Error::validation(format!("{d:?} is not a date."))
                    .hint("Pick the day in the calendar.")
            })?;
        }
        if let (Some(s), Some(u)) = (&self.since, &self.until) {
            if s > u {
                return Err(Error::validation("The first day is after the last day."));
            }
        }
        Ok(())
    }
}

impl Onramp {
    /// The newest entries of the activity log the filter lets through (at most
    /// [`ACTIVITY_PAGE`]), newest first: what the Activity page shows.
    pub async fn activity(&self, filter: &ActivityFilter) -> Result<Vec<Event>> {
        filter.check()?;
        self.store.activity(filter, Some(ACTIVITY_PAGE)).await
    }

    /// The activity log (one customer's, or everyone's), oldest first, as CSV or JSON.
    pub async fn export_activity(
        &self,
        customer_id: Option<&str>,
        format: ExportFormat,
    ) -> Result<String> {
        let filter = ActivityFilter {
            customer_id: customer_id.map(str::to_string),
            ..ActivityFilter::default()
        };
        self.export_filtered(&filter, format).await
    }

    /// The activity the filter lets through, oldest first, as CSV or JSON.
    pub async fn export_filtered(
        &self,
        filter: &ActivityFilter,
        format: ExportFormat,
    ) -> Result<String> {
        let what = format.extension().to_uppercase();
        let bytes = self
            .export_into(filter, format, Vec::new(), &|e| {
                Error::internal(format!("could not write {what}: {e}"))
            })
            .await?;
        String::from_utf8(bytes).map_err(|e| Error::internal(e.to_string()))
    }

    /// Writes the whole record the filter lets through (not a page of it) into `out`, oldest
    /// first, an entry at a time; `failed` says what a write error means for this `out`.
    async fn export_into<W: std::io::Write>(
        &self,
        filter: &ActivityFilter,
        format: ExportFormat,
        out: W,
        failed: &(dyn Fn(&dyn std::fmt::Display) -> Error + Sync),
    ) -> Result<W> {
        use serde::ser::{SerializeSeq, Serializer};
        filter.check()?;
        fn row(e: &Event) -> Row<'_> {
            let provider =
                |p: Option<ProviderId>| p.map(|p| crate::providers::spec(p).name).unwrap_or("");
            Row {
                at: &e.at,
                customer: e.customer_name.as_deref().unwrap_or(""),
                provider: provider(e.provider),
                kind: e.kind.as_str(),
                summary: &e.summary,
                actor: &e.actor,
                installer: e.installer.as_deref().unwrap_or(""),
                scopes: e.scopes.as_deref().unwrap_or(""),
                customer_id: e.customer_id.as_deref().unwrap_or(""),
                connection_id: e.connection_id.as_deref().unwrap_or(""),
            }
        }
        match format {
            ExportFormat::Json => {
                let mut json = serde_json::Serializer::pretty(out);
                let mut seq = json.serialize_seq(None).map_err(|e| failed(&e))?;
                self.store
                    .each_activity(filter, |e| {
                        seq.serialize_element(&row(&e)).map_err(|e| failed(&e))
                    })
                    .await?;
                seq.end().map_err(|e| failed(&e))?;
                Ok(json.into_inner())
            }
            ExportFormat::Csv => {
                // The header is written even when there is nothing to list.
                let mut csv = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(out);
                csv.write_record([
                    "at",
                    "customer",
                    "provider",
                    "kind",
                    "summary",
                    "actor",
                    "installer",
                    "scopes",
                    "customer_id",
                    "connection_id",
                ])
                .map_err(|e| failed(&e))?;
                self.store
                    .each_activity(filter, |e| csv.serialize(row(&e)).map_err(|e| failed(&e)))
                    .await?;
                csv.into_inner().map_err(|e| failed(e.error()))
            }
        }
    }

    /// Writes the export into `folder` (the user's Downloads in the app) under a name that says
    /// what it is; returns the file's path. An existing file is never overwritten.
    pub async fn export_activity_to(
        &self,
        filter: &ActivityFilter,
        format: ExportFormat,
        folder: &std::path::Path,
    ) -> Result<std::path::PathBuf> {
        filter.check()?;
        let who = match filter.customer_id.as_deref() {
            Some(id) => slug(&self.store.customer(id).await?.name),
            None => "all-customers".to_string(),
        };
        let date = self.now().date();
        let stem = format!("onramp-activity-{who}-{date}");
        std::fs::create_dir_all(folder).map_err(|e| write_error(folder, &e))?;
        for n in 1.. {
            let name = if n == 1 {
                format!("{stem}.{}", format.extension())
            } else {
                format!("{stem}-{n}.{}", format.extension())
            };
            let path = folder.join(name);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(f) => {
                    use std::io::Write;
                    let failed = |e: &dyn std::fmt::Display| write_failed(&path, e);
                    let written = self
                        .export_into(filter, format, std::io::BufWriter::new(f), &failed)
                        .await
                        .and_then(|mut w| w.flush().map_err(|e| write_error(&path, &e)));
                    if let Err(e) = written {
                        // No half export is left behind to be mistaken for the record.
                        let _ = std::fs::remove_file(&path);
                        return Err(e);
                    }
                    return Ok(path);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(write_error(&path, &e)),
            }
        }
        unreachable!("the loop returns")
    }
}

fn write_error(path: &std::path::Path, e: &std::io::Error) -> Error {
    write_failed(path, e)
}

fn write_failed(path: &std::path::Path, e: &dyn std::fmt::Display) -> Error {
    Error::new(
        crate::error::Code::Storage,
        format!("Could not write {}: {e}", path.display()),
    )
    .hint("Check that the folder exists, is writable and has room, then export again.")
}

/// A file-name-safe form of a name: lowercase letters and digits, words joined by dashes.
fn slug(name: &str) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let s = s
        .split('-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if s.is_empty() {
        "customer".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(super::slug("Ada García & Sons"), "ada-garcía-sons");
        assert_eq!(super::slug("../etc/passwd"), "etc-passwd");
        assert_eq!(super::slug("  "), "customer");
    }
}
