//! The customer's hand-off sheet: what was connected and what it gives, until when, and how to
//! withdraw it at each vendor; shown, printed or saved as PDF before the installer leaves.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{CredentialKind, Customer, ProviderId};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct HandOff {
    pub customer: Customer,
    /// The day of the visit (YYYY-MM-DD, the installer's clock).
    pub date: String,
    /// Who connected it (Settings → Company: your name), when set.
    pub installer_name: Option<String>,
    /// Today's connections first, then the earlier ones.
    pub items: Vec<HandOffItem>,
}

/// One connection, as the customer reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct HandOffItem {
    pub provider: ProviderId,
    pub provider_name: String,
    pub kind: CredentialKind,
    /// The sites (systems, meters) it reaches, by name.
    pub sites: Vec<String>,
    /// Connected on the day of the visit.
    pub today: bool,
    /// RFC 3339.
    pub connected_at: String,
    /// What Onramp may do with it.
    pub access: String,
    /// The scopes the vendor granted, as it named them.
    pub scopes: Option<String>,
    /// Until when, in words.
    pub until: String,
    /// How to withdraw it at the vendor.
    pub withdraw: String,
}
