//! The activity log as a file an installer files with the job: every enrollment, refresh,
//! failure, re-authorization and removal, who did it and when. Events never hold secrets, so
//! neither does the export.

use serde::Serialize;

use super::Onramp;
use crate::error::{Error, Result};
use crate::model::{ActivityFilter, Event, ProviderId};

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
    /// Whether the filter lets `e` through (dates compared on the event's UTC day).
    pub fn admits(&self, e: &Event) -> bool {
        let day = e.at.get(..10).unwrap_or_default();
        self.customer_id
            .as_deref()
            .is_none_or(|c| e.customer_id.as_deref() == Some(c))
            && self.provider.is_none_or(|p| e.provider == Some(p))
            && self.kind.is_none_or(|k| e.kind == k)
            && self.since.as_deref().is_none_or(|s| day >= s)
            && self.until.as_deref().is_none_or(|u| day <= u)
    }

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
    /// The activity log as the filter lets it through, newest first.
    pub async fn activity(&self, filter: &ActivityFilter) -> Result<Vec<Event>> {
        filter.check()?;
        let mut events = self.events(filter.customer_id.as_deref()).await?;
        events.retain(|e| filter.admits(e));
        Ok(events)
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
        let mut events = self.activity(filter).await?;
        events.sort_by(|a, b| (&a.at, a.id).cmp(&(&b.at, b.id)));
        let names: std::collections::HashMap<String, String> = self
            .list_customers(None)
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let provider =
            |p: Option<ProviderId>| p.map(|p| crate::providers::spec(p).name).unwrap_or("");
        let rows: Vec<Row> = events
            .iter()
            .map(|e| Row {
                at: &e.at,
                customer: e
                    .customer_id
                    .as_ref()
                    .and_then(|c| names.get(c))
                    .map(String::as_str)
                    .unwrap_or(""),
                provider: provider(e.provider),
                kind: e.kind.as_str(),
                summary: &e.summary,
                actor: &e.actor,
                installer: e.installer.as_deref().unwrap_or(""),
                scopes: e.scopes.as_deref().unwrap_or(""),
                customer_id: e.customer_id.as_deref().unwrap_or(""),
                connection_id: e.connection_id.as_deref().unwrap_or(""),
            })
            .collect();
        match format {
            ExportFormat::Json => serde_json::to_string_pretty(&rows)
                .map_err(|e| Error::internal(format!("could not write JSON: {e}"))),
            ExportFormat::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                for r in &rows {
                    w.serialize(r)
                        .map_err(|e| Error::internal(format!("could not write CSV: {e}")))?;
                }
                // A header even when there is nothing to list.
                if rows.is_empty() {
                    w.write_record([
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
                    .map_err(|e| Error::internal(format!("could not write CSV: {e}")))?;
                }
                let bytes = w
                    .into_inner()
                    .map_err(|e| Error::internal(format!("could not write CSV: {e}")))?;
                String::from_utf8(bytes).map_err(|e| Error::internal(e.to_string()))
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
        let body = self.export_filtered(filter, format).await?;
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
                Ok(mut f) => {
                    use std::io::Write;
                    f.write_all(body.as_bytes())
                        .map_err(|e| write_error(&path, &e))?;
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
    Error::new(
        crate::error::Code::Storage,
        format!("Could not write {}: {e}", path.display()),
    )
    .hint("Check that the folder exists and is writable, or export from the terminal: onramp events --export csv")
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
