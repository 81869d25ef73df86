//! Customers from a CSV file: the columns (a header in any order, in the common spellings, or
//! none: then name, address, email, phone, job number in that order), each row's customer and
//! its problems, and duplicates against the customers already in Onramp and earlier rows.
//! Pure: the service hands it the file and the existing customers, the UI and the CLI show the
//! same [`ImportPreview`].

use std::collections::HashMap;

use crate::model::{
    Customer, ImportDuplicate, ImportPreview, ImportRow, NewCustomer, SimilarCustomer,
};

/// The largest file read (a few thousand customers is a big list).
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_ROWS: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Name,
    Address,
    Email,
    Phone,
    JobNumber,
}

impl Column {
    const ORDER: [Column; 5] = [
        Column::Name,
        Column::Address,
        Column::Email,
        Column::Phone,
        Column::JobNumber,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Address => "address",
            Column::Email => "email",
            Column::Phone => "phone",
            Column::JobNumber => "job_number",
        }
    }

    /// A header cell's column: case, spaces, dashes, underscores and dots do not matter.
    fn from_header(cell: &str) -> Option<Column> {
        let key: String = cell
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '#')
            .flat_map(char::to_lowercase)
            .collect();
        Some(match key.as_str() {
            "name" | "customer" | "customername" | "fullname" | "client" | "clientname"
            | "homeowner" | "contact" | "contactname" => Column::Name,
            "address"
            | "streetaddress"
            | "siteaddress"
            | "serviceaddress"
            | "street"
            | "location"
            | "installaddress"
            | "installationaddress" => Column::Address,
            "email" | "emailaddress" | "mail" | "customeremail" => Column::Email,
            "phone" | "phonenumber" | "telephone" | "tel" | "mobile" | "cell" | "cellphone"
            | "mobilephone" => Column::Phone,
            "jobnumber" | "job" | "jobno" | "job#" | "jobid" | "projectnumber" | "project"
            | "projectid" | "projectno" | "ordernumber" | "reference" | "ref" => Column::JobNumber,
            _ => return None,
        })
    }
}

/// Reads a customers CSV against the customers already stored.
pub fn preview(bytes: &[u8], existing: &[Customer]) -> ImportPreview {
    let mut out = ImportPreview {
        columns: Vec::new(),
        ignored_columns: Vec::new(),
        rows: Vec::new(),
        file_errors: Vec::new(),
    };
    if bytes.len() > MAX_BYTES {
        out.file_errors.push(format!(
            "The file is too large ({} MB at most).",
            MAX_BYTES / (1024 * 1024)
        ));
        return out;
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        out.file_errors.push(
            "The file is not UTF-8 text. Save it from the spreadsheet as \"CSV UTF-8\".".into(),
        );
        return out;
    };
    let delimiter = sniff_delimiter(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());

    let mut layout: Option<Vec<Option<Column>>> = None;
    let known: Vec<(Customer, (String, String))> = existing
        .iter()
        .map(|c| {
            let key = NewCustomer {
                name: c.name.clone(),
                address: c.address.clone(),
                ..Default::default()
            }
            .identity();
            (c.clone(), key)
        })
        .collect();
    let mut seen: HashMap<(String, String), u32> = HashMap::new();

    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(text, p.byte()));
                out.rows.push(ImportRow {
                    line,
                    customer: NewCustomer::default(),
                    errors: vec![format!("This line cannot be read as CSV: {e}")],
                    duplicate: None,
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| line_at(text, p.byte()));
        if record.iter().all(str::is_empty) {
            continue; // an empty line
        }
        if layout.is_none() {
            let header: Vec<Option<Column>> = record.iter().map(Column::from_header).collect();
            if header.contains(&Some(Column::Name)) {
                for (cell, col) in record.iter().zip(&header) {
                    match col {
                        Some(c) if out.columns.iter().any(|k| k == c.as_str()) => {
                            out.file_errors
                                .push(format!("The header names the {} column twice.", c.as_str()));
                        }
                        Some(c) => out.columns.push(c.as_str().to_string()),
                        None => out.ignored_columns.push(cell.to_string()),
                    }
                }
                layout = Some(header);
                continue;
            }
            if header.iter().any(Option::is_some) {
                out.file_errors
                    .push("The header has no name column (name, customer, full name, …).".into());
                return out;
            }
            // No header: the columns in their usual order.
            out.columns = Column::ORDER
                .iter()
                .map(|c| c.as_str().to_string())
                .collect();
            layout = Some(Column::ORDER.iter().copied().map(Some).collect());
        }
        let layout = layout.as_deref().unwrap_or_default();
        if out.rows.len() >= MAX_ROWS {
            out.file_errors.push(format!(
                "The file has more than {MAX_ROWS} customers; split it."
            ));
            return out;
        }
        let mut customer = NewCustomer::default();
        let mut errors = Vec::new();
        for (i, cell) in record.iter().enumerate() {
            let Some(col) = layout.get(i) else {
                if !cell.is_empty() {
                    errors.push(format!(
                        "This row has {} cells; the header has {}.",
                        record.len(),
                        layout.len()
                    ));
                }
                break;
            };
            let value = (!cell.is_empty()).then(|| cell.to_string());
            match col {
                Some(Column::Name) => customer.name = cell.to_string(),
                Some(Column::Address) => customer.address = value,
                Some(Column::Email) => customer.email = value,
                Some(Column::Phone) => customer.phone = value,
                Some(Column::JobNumber) => customer.job_number = value,
                None => {}
            }
        }
        errors.extend(customer.problems());
        let key = customer.identity();
        let duplicate = if let Some((c, _)) = known.iter().find(|(_, k)| *k == key) {
            Some(ImportDuplicate::Existing {
                customer: SimilarCustomer {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    address: c.address.clone(),
                },
            })
        } else {
            seen.get(&key)
                .map(|first| ImportDuplicate::InFile { line: *first })
        };
        if errors.is_empty() {
            seen.entry(key).or_insert(line);
        }
        out.rows.push(ImportRow {
            line,
            customer,
            errors,
            duplicate,
        });
    }
    if out.rows.is_empty() && out.file_errors.is_empty() {
        out.file_errors
            .push("The file has no customers (only a header, or nothing).".into());
    }
    out
}

/// The line a record starts on, counted in the text itself (the reader's own count leaves out
/// the empty lines it skips).
fn line_at(text: &str, byte: u64) -> u32 {
    let bytes = text.as_bytes();
    let mut end = (byte as usize).min(bytes.len());
    // The reader's position is before the empty lines it skipped.
    while end < bytes.len() && matches!(bytes[end], b'\n' | b'\r') {
        end += 1;
    }
    bytes[..end].iter().filter(|b| **b == b'\n').count() as u32 + 1
}

/// A spreadsheet saved in a comma-decimal locale writes `;`: the first line's most common of
/// `,`, `;` and tab (outside quotes) is the delimiter.
fn sniff_delimiter(text: &str) -> u8 {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in first.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in counts.iter_mut() {
                if *d == b {
                    *n += 1;
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map_or(b',', |(d, _)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn existing(name: &str, address: &str) -> Customer {
        Customer {
            id: "c1".into(),
            name: name.into(),
            address: Some(address.into()),
            email: None,
            phone: None,
            job_number: None,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_header_in_any_order_and_spelling() {
        let p = preview(
            b"Job #,E-mail Address,Customer Name,Phone Number,Street Address,Notes\n\
              J-1,ada@example.com,Ada Garcia,555-0100,12 Elm St,call first\n",
            &[],
        );
        assert!(p.ready(), "{p:?}");
        assert_eq!(
            p.columns,
            ["job_number", "email", "name", "phone", "address"]
        );
        assert_eq!(p.ignored_columns, ["Notes"]);
        let c = &p.rows[0].customer;
        assert_eq!(c.name, "Ada Garcia");
        assert_eq!(c.address.as_deref(), Some("12 Elm St"));
        assert_eq!(c.email.as_deref(), Some("ada@example.com"));
        assert_eq!(c.phone.as_deref(), Some("555-0100"));
        assert_eq!(c.job_number.as_deref(), Some("J-1"));
        assert_eq!(p.rows[0].line, 2);
    }

    #[test]
    fn quoted_fields_bom_empty_lines_and_no_header() {
        let p = preview(
            b"\xEF\xBB\xBF\"Okafor, Ben\",\"12 Elm St, Fresno, CA\",,\"555 \"\"home\"\"\"\n\n\r\n\
              Cy Ng,,cy@example.com,,J-9\n",
            &[],
        );
        assert!(p.ready(), "{p:?}");
        assert_eq!(p.columns.len(), 5);
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[0].customer.name, "Okafor, Ben");
        assert_eq!(
            p.rows[0].customer.address.as_deref(),
            Some("12 Elm St, Fresno, CA")
        );
        assert_eq!(p.rows[0].customer.email, None);
        assert_eq!(p.rows[0].customer.phone.as_deref(), Some("555 \"home\""));
        assert_eq!(p.rows[1].customer.job_number.as_deref(), Some("J-9"));
        assert_eq!(p.rows[1].line, 4);
    }

    #[test]
    fn a_bom_before_a_header_and_semicolons() {
        let p = preview(b"\xEF\xBB\xBFname;address\nAda;1 Main St\n", &[]);
        assert!(p.ready(), "{p:?}");
        assert_eq!(p.columns, ["name", "address"]);
        assert_eq!(p.rows[0].customer.address.as_deref(), Some("1 Main St"));
    }

    #[test]
    fn a_bad_row_is_named_by_its_line_and_stops_the_import() {
        let p = preview(
            b"name,email\nAda,ada@example.com\n,nobody@example.com\nBen,not-an-email\nCy,cy@example.com,extra\n",
            &[],
        );
        assert!(!p.ready());
        let bad: Vec<u32> = p
            .rows
            .iter()
            .filter(|r| !r.errors.is_empty())
            .map(|r| r.line)
            .collect();
        assert_eq!(bad, [3, 4, 5]);
        assert_eq!(p.rows[1].errors, ["Enter the customer's name."]);
        assert!(
            p.rows[2].errors[0].contains("not an email"),
            "{:?}",
            p.rows[2]
        );
        assert!(p.rows[3].errors[0].contains("3 cells"), "{:?}", p.rows[3]);
        assert!(p.rows[0].errors.is_empty());
    }

    #[test]
    fn duplicates_against_existing_customers_and_within_the_file() {
        let p = preview(
            b"name,address\nADA  garcia,\"12 Elm Street.\"\nBen,1 Oak Ave\nben,1 oak avenue\nAda Garcia,99 Other Rd\n",
            &[existing("Ada Garcia", "12 elm st")],
        );
        assert!(p.ready(), "duplicates are flagged, not errors");
        assert!(matches!(
            &p.rows[0].duplicate,
            Some(ImportDuplicate::Existing { customer }) if customer.id == "c1"
        ));
        assert_eq!(p.rows[1].duplicate, None);
        assert_eq!(
            p.rows[2].duplicate,
            Some(ImportDuplicate::InFile { line: 3 })
        );
        assert_eq!(p.rows[3].duplicate, None, "same name, another address");
    }

    #[test]
    fn a_file_without_customers_or_a_name_column_is_refused() {
        assert!(!preview(b"", &[]).ready());
        assert!(!preview(b"name,address\n\n", &[]).ready());
        let p = preview(b"email,phone\na@b.co,1\n", &[]);
        assert!(p.file_errors[0].contains("no name column"), "{p:?}");
        assert!(!preview(b"\xff\xfe", &[]).ready());
        let p = preview(b"name,customer\nA,B\n", &[]);
        assert!(p.file_errors[0].contains("twice"), "{p:?}");
    }
}
