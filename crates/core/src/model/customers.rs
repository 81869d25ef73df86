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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct CustomerDetail {
    pub customer: Customer,
    pub providers: Vec<ProviderInfo>,
    pub connections: Vec<Connection>,
    pub events: Vec<Event>,
    pub usage: Vec<UsageSeries>,
}
