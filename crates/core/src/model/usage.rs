//! Usage summaries, month by month: as a parser builds them ([`NewSeries`]) and as the UI shows
//! them.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A meter's usage summary as it is written.
pub struct NewSeries {
    pub source_key: String,
    pub title: String,
    pub service_address: Option<String>,
    pub commodity: String,
    pub flow: String,
    pub unit: String,
    pub currency: Option<String>,
    pub readings: i64,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    pub months: Vec<UsageMonth>,
}

/// One month of a meter's usage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct UsageMonth {
    /// `2025-01`, in the utility's local time.
    pub month: String,
    /// In thousandths of the series' unit: watt-hours for kWh, millitherms for therm. An
    /// integer, so 199.563 kWh is 199563 exactly, in core, the store and the UI.
    #[ts(type = "number")]
    pub energy_milli: i64,
    /// In the series' currency, where the utility gave costs.
    pub cost: Option<f64>,
}

/// A meter's usage summary: from a Green Button feed (Connect My Data or a downloaded file) or
/// a utility data provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct UsageSeries {
    pub id: String,
    pub customer_id: String,
    /// Set when the usage came through a connection (it stays if the connection is removed).
    pub connection_id: Option<String>,
    /// Where it came from: "Green Button file usage.xml", "UtilityAPI (Demo Utility)", "Metry".
    pub source: String,
    /// The meter: its address or name.
    pub title: String,
    /// Where the utility serves this meter, as a Green Button feed names it (its UsagePoint's
    /// title); `None` from sources that do not say. The customer page shows it beside the
    /// customer's address when they differ.
    pub service_address: Option<String>,
    /// `electricity`, `gas`, `water`, `heat` or `other`.
    pub commodity: String,
    /// `delivered`, `received`, `net` or `unknown`.
    pub flow: String,
    /// `kWh`, `therm`, `m³`, ...
    pub unit: String,
    pub currency: Option<String>,
    #[ts(type = "number")]
    pub readings: i64,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    pub months: Vec<UsageMonth>,
    pub updated_at: String,
}

/// How far the Green Button file being imported has been read (the `usage-import-progress`
/// event): the customer page shows it as a bar with Cancel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct UsageImportProgress {
    pub customer_id: String,
    pub file_name: String,
    /// Bytes read so far.
    #[ts(type = "number")]
    pub read: i64,
    /// The file's size in bytes.
    #[ts(type = "number")]
    pub total: i64,
}

/// Files dropped on the window (the `files-dropped` event). The shell keeps their paths; the
/// UI names a file by its drop and its name, so the webview never names a path to import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct FilesDropped {
    pub drop: u32,
    /// The files' names (no folders), in the order dropped.
    pub names: Vec<String>,
}

/// What importing a Green Button file stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct UsageImport {
    pub file_name: String,
    #[ts(type = "number")]
    pub bytes: i64,
    pub series: Vec<UsageSeries>,
}
