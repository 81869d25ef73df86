//! Customers: one as stored, one as typed, a row of the customers list, and a customer's page.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Connection, Event, ProviderInfo, UsageSeries};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_number: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct NewCustomer {
    pub name: String,
    pub address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_number: Option<String>,
}

/// One row of the customers list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct CustomerSummary {
    pub id: String,
    pub name: String,
    pub address: Option<String>,
    pub job_number: Option<String>,
    pub connected: u32,
    pub needs_attention: u32,
    pub sites: u32,
    /// RFC 3339: the newest event for this customer, or its creation.
    pub last_activity_at: String,
}

/// A page of the customers list, and how many customers match in all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct CustomerList {
    /// Newest activity first.
    pub customers: Vec<CustomerSummary>,
    /// Every customer the search matches (every customer without a search).
    pub total: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct CustomerDetail {
    pub customer: Customer,
    pub providers: Vec<ProviderInfo>,
    pub connections: Vec<Connection>,
    pub events: Vec<Event>,
    pub usage: Vec<UsageSeries>,
}

impl NewCustomer {
    /// What is wrong with this customer as typed, in the installer's words (empty when it can
    /// be saved). The store refuses the first; an import lists them all per row.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let name = self.name.trim();
        if name.is_empty() {
            out.push("Enter the customer's name.".to_string());
        } else if name.chars().count() > 200 {
            out.push("The name is too long (200 characters at most).".to_string());
        }
        // A tab, a line break or an escape in a name travels into exports, the hand-off sheet
        // and the vendor's records; none belongs in one.
        for (label, value) in [
            ("name", Some(&self.name)),
            ("address", self.address.as_ref()),
            ("email", self.email.as_ref()),
            ("phone", self.phone.as_ref()),
            ("job number", self.job_number.as_ref()),
        ] {
            if value.is_some_and(|v| v.trim().chars().any(char::is_control)) {
                out.push(format!(
                    "The {label} has a line break, tab or other control character; type it on one line."
                ));
            }
        }
        for (label, value, max) in [
            ("address", &self.address, 500),
            ("email", &self.email, 254),
            ("phone", &self.phone, 50),
            ("job number", &self.job_number, 100),
        ] {
            if let Some(v) = value.as_deref().map(str::trim) {
                if v.chars().count() > max {
                    out.push(format!(
                        "The {label} is too long ({max} characters at most)."
                    ));
                }
            }
        }
        if let Some(email) = self
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let ok = email.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty()
                    && host.contains('.')
                    && !host.starts_with('.')
                    && !host.ends_with('.')
            }) && !email.chars().any(char::is_whitespace);
            if !ok {
                out.push(format!("{email:?} is not an email address."));
            }
        }
        out
    }

    /// The customer's name and address as compared for duplicates: lower case, words only,
    /// common street words shortened ("12 Elm Street," and "12 elm st" are the same).
    pub fn identity(&self) -> (String, String) {
        (
            normalise(&self.name),
            normalise(self.address.as_deref().unwrap_or_default()),
        )
    }
}

/// Lower case, every run of non-alphanumerics one space, common address words shortened.
pub fn normalise(s: &str) -> String {
    let lower = s.to_lowercase();
    lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| match w {
            "street" => "st",
            "avenue" => "ave",
            "road" => "rd",
            "drive" => "dr",
            "boulevard" => "blvd",
            "lane" => "ln",
            "court" => "ct",
            "place" => "pl",
            "apartment" | "apt" | "unit" | "suite" | "ste" => "#",
            "north" => "n",
            "south" => "s",
            "east" => "e",
            "west" => "w",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What becomes of a removed customer's connections.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ConnectionsOnRemove {
    /// Each signed-in grant is revoked at its vendor, then the connections go with the customer.
    Revoke,
    /// The connections (and the usage they brought) move to another customer.
    MoveTo { customer_id: String },
}

/// An existing customer that a new or imported one looks like (same name and address).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SimilarCustomer {
    pub id: String,
    pub name: String,
    pub address: Option<String>,
}

/// Where an imported row's twin is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImportDuplicate {
    /// A customer already in Onramp.
    Existing { customer: SimilarCustomer },
    /// An earlier row of the same file (its line number).
    InFile { line: u32 },
}

/// One row of a customers CSV as read: its line in the file, the customer it makes, and what
/// stops it (errors) or deserves a look (a duplicate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ImportRow {
    pub line: u32,
    pub customer: NewCustomer,
    pub errors: Vec<String>,
    pub duplicate: Option<ImportDuplicate>,
}

/// A customers CSV as read, before anything is written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ImportPreview {
    /// The columns recognised, in the file's order (`name`, `address`, ...).
    pub columns: Vec<String>,
    /// Header cells that name no column Onramp knows; they are not imported.
    pub ignored_columns: Vec<String>,
    pub rows: Vec<ImportRow>,
    /// Errors of the file itself (nothing readable, no name column).
    pub file_errors: Vec<String>,
}

impl ImportPreview {
    /// Whether the file can be imported: no file error, at least one row, no row in error.
    pub fn ready(&self) -> bool {
        self.file_errors.is_empty()
            && !self.rows.is_empty()
            && self.rows.iter().all(|r| r.errors.is_empty())
    }
}

/// What an import wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ImportOutcome {
    pub imported: u32,
    /// Rows left out because they duplicate an existing customer or an earlier row.
    pub skipped_duplicates: u32,
}

#[cfg(test)]
mod tests {
    use super::NewCustomer;

    fn named(name: &str) -> NewCustomer {
        NewCustomer {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn control_characters_are_refused_in_every_field() {
        assert!(named("Ada Garcia").problems().is_empty());
        for bad in [
            "Ada\nGarcia",
            "Ada\tGarcia",
            "Ada\u{1b}[31mGarcia",
            "Ada\u{7f}",
        ] {
            let p = named(bad).problems();
            assert_eq!(p.len(), 1, "{bad:?}: {p:?}");
            assert!(p[0].starts_with("The name has a line break"), "{p:?}");
        }
        let c = NewCustomer {
            address: Some("12 Elm St\r\nFresno".into()),
            ..named("Ada")
        };
        assert_eq!(
            c.problems(),
            vec!["The address has a line break, tab or other control character; type it on one line."]
        );
        // Surrounding whitespace (a trailing newline from a paste) is trimmed, not refused.
        assert!(named("Ada Garcia\n").problems().is_empty());
    }
}
