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
//! Hostile files are refused, not read to the end: every cost is bounded ([`Limits`]). The
//! reader's work per XML event does not depend on how deep the event is nested (it looks at the
//! element and its parent only), so a file costs time linear in its size; memory holds at most
//! one event's bytes, one entry's text and links, and the running sums, each capped. Entities
//! other than XML's five predefined ones and character references are never expanded (a
//! DOCTYPE's are ignored), and nothing outside the file is ever fetched.
//!
//! `guard.rs` counts, caps and cancels the bytes under the XML reader; `read.rs` walks the XML
//! as a stream (the open elements, links, texts) into one entry at a time; `sums.rs` adds each
//! entry's readings to its meter reading's months and turns the sums into [`Series`] at the end.

mod guard;
mod read;
mod sums;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_limits;

pub use guard::Watch;
pub use read::{parse, parse_with};

/// What Onramp reads of a Green Button file at most. Each is far beyond what a utility's file
/// holds (a year of 15-minute readings of one meter is 35,040 readings, about 7 MB), and each
/// bounds what a hostile file can cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The whole input, in bytes.
    pub input: u64,
    /// Elements open at once (ESPI feeds nest about ten deep).
    pub depth: usize,
    /// One tag with its attributes (or a comment, a DOCTYPE), in bytes.
    pub tag: usize,
    /// One element's text, in bytes.
    pub text: usize,
    /// What one entry keeps: its title, links and fields, in bytes.
    pub entry: usize,
    /// Interval readings in the file.
    pub readings: u64,
    /// Months summed, over all the file's meter readings.
    pub months: usize,
    /// Usage points, meter readings and reading types described, and series with readings.
    pub resources: usize,
}

/// Largest Green Button file Onramp imports.
pub const MAX_FILE: u64 = 512 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            input: MAX_FILE,
            depth: 64,
            tag: 64 * 1024,
            text: 64 * 1024,
            entry: 16 * 1024,
            readings: 20_000_000,
            months: 100_000,
            resources: 5_000,
        }
    }
}

/// The limit a file went beyond, with its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Input(u64),
    Depth(usize),
    Tag(usize),
    Text(usize),
    Entry(usize),
    Readings(u64),
    Months(usize),
    Resources(usize),
}

/// `65536` as `64 KB`, `536870912` as `512 MB`.
fn size(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n.is_multiple_of(1 << 20) => format!("{} MB", n >> 20),
        n if n >= 1 << 10 && n.is_multiple_of(1 << 10) => format!("{} KB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// `20000000` as `20,000,000`.
fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Limit::Input(n) => write!(f, "it is larger than {}", size(n)),
            Limit::Depth(n) => write!(f, "its elements are nested more than {n} deep"),
            Limit::Tag(n) => write!(
                f,
                "it has a tag whose attributes are longer than {}",
                size(n as u64)
            ),
            Limit::Text(n) => write!(f, "it has a text longer than {}", size(n as u64)),
            Limit::Entry(n) => write!(
                f,
                "it has an entry with more than {} of titles, links and values",
                size(n as u64)
            ),
            Limit::Readings(n) => write!(f, "it has more than {} readings", count(n)),
            Limit::Months(n) => write!(f, "it has more than {} months of usage", count(n as u64)),
            Limit::Resources(n) => write!(
                f,
                "it describes more than {} meters, meter readings and reading types",
                count(n as u64)
            ),
        }
    }
}

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
    /// The file goes beyond one of the [`Limits`]: nothing of it is used.
    #[error("Onramp does not read this file: {0}")]
    TooLarge(Limit),
    /// The import was cancelled ([`Watch::cancel`]) before the file was read to its end.
    #[error("the import was cancelled")]
    Cancelled,
}

/// Reads a feed file with a 64 KiB buffer, within the default [`Limits`].
pub fn parse_file(path: &std::path::Path) -> Result<Feed, EspiError> {
    parse_file_with(path, Limits::default(), None)
}

/// Reads a feed file with a 64 KiB buffer, within `limits`, reporting to `watch`.
pub fn parse_file_with(
    path: &std::path::Path,
    limits: Limits,
    watch: Option<&Watch<'_>>,
) -> Result<Feed, EspiError> {
    let f = std::fs::File::open(path)?;
    parse_with(
        std::io::BufReader::with_capacity(64 * 1024, f),
        limits,
        watch,
    )
}
