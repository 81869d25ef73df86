//! Green Button (ESPI) Atom feeds, read as a stream: whatever the file's size, memory holds one
//! entry's text and a running sum per meter reading and month, never the readings themselves.
//!
//! ESPI rules applied: an IntervalBlock belongs to the MeterReading its `self`/`up` link sits
//! under; a MeterReading's `related` ReadingType gives `uom`, `powerOfTenMultiplier`, `currency`,
//! `commodity`, `flowDirection` and `intervalLength`; values are `value × 10^powerOfTenMultiplier`
//! in `uom`; `cost` is in hundred-thousandths of the currency and is not scaled; times are Unix
//! seconds in UTC, shown in the feed's local time (`LocalTimeParameters.tzOffset`). Entries may
//! come in any order, so sums stay raw until the end.
//!
//! `read.rs` walks the XML as a stream (element paths, links, texts) into one entry at a time;
//! `sums.rs` adds each entry's readings to its meter reading's months and turns the sums into
//! [`Series`] at the end.

mod read;
mod sums;
#[cfg(test)]
mod tests;

pub use read::parse;

/// What a meter measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Commodity {
    Electricity,
    Gas,
    Water,
    Other,
}

/// Which way energy flowed (ESPI `flowDirection`: 1 forward, 19 reverse, 4 net).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    Delivered,
    Received,
    Net,
    Unknown,
}

/// One local calendar month of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct Month {
    /// `2025-01`, local time.
    pub month: String,
    /// In thousandths of the series' unit (watt-hours for kWh, millitherms for therm), summed
    /// exactly from the readings and rounded once, half away from zero, at the end.
    pub energy_milli: i64,
    /// In currency units; `None` when no reading of the month carried a cost.
    pub cost: Option<f64>,
    pub readings: u32,
}

/// One MeterReading of one UsagePoint, reduced to monthly totals.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The UsagePoint's id (the path segment after `UsagePoint/`).
    pub usage_point: String,
    /// The MeterReading's `self` href.
    pub meter_reading: String,
    pub title: String,
    /// The UsagePoint's own title as the feed gives it (utilities put the service address
    /// there), or `None` when the feed names no usage point.
    pub service_address: Option<String>,
    pub commodity: Commodity,
    pub flow: Flow,
    pub unit: String,
    pub currency: Option<String>,
    pub interval_seconds: Option<u32>,
    pub readings: u64,
    pub start: i64,
    pub end: i64,
    pub months: Vec<Month>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Feed {
    pub series: Vec<Series>,
}

#[derive(Debug, thiserror::Error)]
pub enum EspiError {
    #[error("the file could not be read ({0})")]
    Io(#[from] std::io::Error),
    #[error("this file is not a Green Button usage file: it is not well-formed XML (at byte {position}: {message})")]
    Xml { position: u64, message: String },
    #[error("the file ends in the middle (it looks cut off)")]
    Truncated,
    #[error("this file is not a Green Button usage file (no ESPI usage data in it)")]
    NotGreenButton,
    #[error("this Green Button file has no meter readings")]
    NoReadings,
    #[error("this Green Button file has a value that is not a number: {0}")]
    Invalid(String),
}

/// Reads a feed file with a 64 KiB buffer.
pub fn parse_file(path: &std::path::Path) -> Result<Feed, EspiError> {
    let f = std::fs::File::open(path)?;
    parse(std::io::BufReader::with_capacity(64 * 1024, f))
}
