//! Customers from a CSV file: the preview ([`crate::customers_csv::preview`] against the
//! customers stored), and the import, all rows in one transaction or none.

use super::{words, Onramp};
use crate::customers_csv;
use crate::error::{Error, Result};
use crate::model::*;

impl Onramp {
    /// What importing this file would do, row by row; nothing is written.
    pub async fn preview_customer_import(&self, bytes: &[u8]) -> Result<ImportPreview> {
        let existing = self.store.all_customers().await?;
        Ok(customers_csv::preview(bytes, &existing))
    }

    /// Imports the customers of a CSV file (`file_name` names it in the activity log): every
    /// row in one transaction, or nothing when any row is in error (the error names their
    /// lines). Rows that duplicate an existing customer or an earlier row are imported too,
    /// unless `skip_duplicates`.
    pub async fn import_customers(
        &self,
        bytes: &[u8],
        file_name: &str,
        skip_duplicates: bool,
    ) -> Result<ImportOutcome> {
        let preview = self.preview_customer_import(bytes).await?;
        if let Some(e) = preview.file_errors.first() {
            return Err(Error::validation(format!(
                "{file_name}: {e} Nothing was imported."
            )));
        }
        let bad: Vec<&ImportRow> = preview
            .rows
            .iter()
            .filter(|r| !r.errors.is_empty())
            .collect();
        if !bad.is_empty() {
            let lines: Vec<String> = bad.iter().map(|r| r.line.to_string()).collect();
            let first = bad[0];
            return Err(Error::validation(format!(
                "{} row{} of {file_name} cannot be imported (line{} {}). Nothing was imported.",
                bad.len(),
                if bad.len() == 1 { "" } else { "s" },
                if bad.len() == 1 { "" } else { "s" },
                lines.join(", ")
            ))
            .hint(format!(
                "Line {}: {} Fix the file and import it again.",
                first.line,
                first.errors.join(" ")
            )));
        }
        let (skipped, rows): (Vec<&ImportRow>, Vec<&ImportRow>) = preview
            .rows
            .iter()
            .partition(|r| skip_duplicates && r.duplicate.is_some());
        let inputs: Vec<NewCustomer> = rows.iter().map(|r| r.customer.clone()).collect();
        let actor = self.actor;
        let file = file_name.to_string();
        let made = self
            .store
            .insert_customers(&inputs, |c| words::customer_imported(&c.name, &file, actor))
            .await?;
        Ok(ImportOutcome {
            imported: made.len() as u32,
            skipped_duplicates: skipped.len() as u32,
        })
    }
}

/// A customers CSV dropped on the window: its bytes (at most [`customers_csv::MAX_BYTES`]) and
/// its name.
pub fn read_customer_csv(path: &std::path::Path) -> Result<(Vec<u8>, String)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::validation(format!("Cannot read {name}: {e}.")))?;
    if meta.len() > customers_csv::MAX_BYTES as u64 {
        return Err(Error::validation(format!(
            "{name} is too large for a customers list ({} MB at most).",
            customers_csv::MAX_BYTES / (1024 * 1024)
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|e| Error::validation(format!("Cannot read {name}: {e}.")))?;
    Ok((bytes, name))
}

impl Onramp {
    /// [`Onramp::preview_customer_import`] of a file on disk (a drop on the window).
    pub async fn preview_customer_import_file(
        &self,
        path: &std::path::Path,
    ) -> Result<ImportPreview> {
        let (bytes, _) = read_customer_csv(path)?;
        self.preview_customer_import(&bytes).await
    }

    /// [`Onramp::import_customers`] of a file on disk.
    pub async fn import_customers_file(
        &self,
        path: &std::path::Path,
        skip_duplicates: bool,
    ) -> Result<ImportOutcome> {
        let (bytes, name) = read_customer_csv(path)?;
        self.import_customers(&bytes, &name, skip_duplicates).await
    }
}
