//! Green Button (ESPI) Atom feeds, read as a stream: whatever the file's size, memory holds one
//! entry's text and a running sum per meter reading and month, never the readings themselves.
//!
//! ESPI rules applied: an IntervalBlock belongs to the MeterReading its `self`/`up` link sits
//! under; a MeterReading's `related` ReadingType gives `uom`, `powerOfTenMultiplier`, `currency`,
//! `commodity`, `flowDirection` and `intervalLength`; values are `value × 10^powerOfTenMultiplier`
//! in `uom`; `cost` is in hundred-thousandths of the currency and is not scaled; times are Unix
//! seconds in UTC, shown in the feed's local time (`LocalTimeParameters.tzOffset`). Entries may
//! come in any order, so sums stay raw until the end.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use quick_xml::events::Event;

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
    /// In the series' unit.
    pub energy: f64,
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

/// Raw sums of one MeterReading in one month (local).
#[derive(Default, Clone, Copy)]
struct Sums {
    value: i128,
    cost: i128,
    costs: u32,
    readings: u32,
}

#[derive(Default)]
struct ReadingAcc {
    months: BTreeMap<i64, Sums>,
    readings: u64,
    start: Option<i64>,
    end: Option<i64>,
}

#[derive(Default, Clone)]
struct ReadingType {
    uom: Option<u32>,
    multiplier: i32,
    currency: Option<u32>,
    commodity: Option<u32>,
    flow: Option<u32>,
    interval: Option<u32>,
}

#[derive(Default)]
struct MeterReadingInfo {
    reading_type: Option<String>,
    usage_point: Option<String>,
}

#[derive(Default)]
struct UsagePointInfo {
    title: Option<String>,
    kind: Option<u32>,
    related: Vec<String>,
}

/// What the entry being read holds.
#[derive(Default)]
struct Entry {
    title: String,
    self_href: Option<String>,
    up_href: Option<String>,
    related: Vec<String>,
    resource: Option<String>,
}

/// The text of the element being read, by local name path below the resource.
struct Parser {
    tz_offset: i64,
    readings: HashMap<String, ReadingAcc>,
    types: HashMap<String, ReadingType>,
    meter_readings: HashMap<String, MeterReadingInfo>,
    usage_points: HashMap<String, UsagePointInfo>,
    espi_seen: bool,
}

fn strip_id(href: &str) -> String {
    href.trim().trim_end_matches('/').to_string()
}

/// The id after `UsagePoint/` in an href.
fn usage_point_id(href: &str) -> Option<String> {
    let i = href.find("UsagePoint/")?;
    let rest = &href[i + "UsagePoint/".len()..];
    let id = rest.split('/').next()?;
    (!id.is_empty()).then(|| id.to_string())
}

/// The MeterReading an IntervalBlock href sits under.
fn meter_reading_of(block_href: &str) -> Option<String> {
    let i = block_href.rfind("/IntervalBlock")?;
    Some(strip_id(&block_href[..i]))
}

fn num<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, EspiError> {
    s.trim()
        .parse()
        .map_err(|_| EspiError::Invalid(format!("{what} {:?}", s.trim())))
}

/// Days since 1970-01-01 to (year, month) (proleptic Gregorian).
fn year_month(unix: i64) -> (i64, u32) {
    let days = unix.div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m as u32)
}

fn month_key(unix_local: i64) -> i64 {
    let (y, m) = year_month(unix_local);
    y * 12 + (m as i64 - 1)
}

fn currency_code(n: u32) -> String {
    match n {
        840 => "USD",
        978 => "EUR",
        826 => "GBP",
        124 => "CAD",
        752 => "SEK",
        578 => "NOK",
        208 => "DKK",
        36 => "AUD",
        _ => return n.to_string(),
    }
    .to_string()
}

fn commodity_of(t: &ReadingType, kind: Option<u32>) -> Commodity {
    match t.commodity {
        Some(1) | Some(2) => return Commodity::Electricity,
        Some(7) | Some(8) => return Commodity::Gas,
        Some(9) => return Commodity::Water,
        _ => {}
    }
    match kind {
        Some(0) => return Commodity::Electricity,
        Some(1) => return Commodity::Gas,
        Some(2) => return Commodity::Water,
        _ => {}
    }
    match t.uom {
        Some(72) | Some(38) => Commodity::Electricity,
        Some(169) | Some(42) | Some(119) => Commodity::Gas,
        _ => Commodity::Other,
    }
}

/// (display unit, divisor from the uom's base unit).
fn unit_of(uom: Option<u32>) -> (String, f64) {
    match uom {
        Some(72) => ("kWh".into(), 1000.0),
        Some(38) => ("kW".into(), 1000.0),
        Some(169) => ("therm".into(), 1.0),
        Some(42) => ("m³".into(), 1.0),
        Some(119) => ("ft³".into(), 1.0),
        Some(128) => ("gal".into(), 1.0),
        Some(n) => (format!("uom {n}"), 1.0),
        None => ("kWh".into(), 1000.0),
    }
}

impl Parser {
    fn new() -> Parser {
        Parser {
            tz_offset: 0,
            readings: HashMap::new(),
            types: HashMap::new(),
            meter_readings: HashMap::new(),
            usage_points: HashMap::new(),
            espi_seen: false,
        }
    }
}

/// Reads a feed from any buffered reader.
pub fn parse<R: BufRead>(reader: R) -> Result<Feed, EspiError> {
    let mut xml = quick_xml::Reader::from_reader(reader);
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut p = Parser::new();
    // Element path (local names) from the root.
    let mut path: Vec<String> = Vec::new();
    let mut entry: Option<Entry> = None;
    // The resource's own fields being read (ReadingType, UsagePoint, LocalTimeParameters).
    let mut fields: HashMap<String, String> = HashMap::new();
    // The IntervalReading being read: start, duration, value, cost.
    let mut reading: [Option<String>; 4] = Default::default();
    // IntervalReadings of the current entry, until its self link is known.
    let mut pending: Vec<(i64, i64, i64, Option<i64>)> = Vec::new();
    let mut root_ok = false;
    loop {
        let pos = xml.buffer_position();
        let ev = match xml.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(quick_xml::Error::Syntax(s)) if is_eof(&s) => return Err(EspiError::Truncated),
            Err(quick_xml::Error::Io(e)) => {
                return Err(EspiError::Io(std::io::Error::new(e.kind(), e.to_string())))
            }
            Err(e) => {
                return Err(EspiError::Xml {
                    position: pos,
                    message: e.to_string(),
                })
            }
        };
        match ev {
            Event::Start(e) => {
                let name = e.local_name().into_inner().to_string();
                if path.is_empty() {
                    root_ok = name == "feed" || name == "entry";
                    if !root_ok {
                        return Err(EspiError::NotGreenButton);
                    }
                }
                if name == "entry" {
                    entry = Some(Entry::default());
                    fields.clear();
                    pending.clear();
                }
                if name == "link" {
                    link(&e, entry.as_mut())?;
                }
                if let Some(en) = entry.as_mut() {
                    if path.last().map(String::as_str) == Some("content") && en.resource.is_none() {
                        en.resource = Some(name.clone());
                    }
                }
                if name == "IntervalReading" {
                    reading = Default::default();
                }
                path.push(name);
            }
            Event::Empty(e) => {
                let name = e.local_name().into_inner().to_string();
                if path.is_empty() {
                    // An empty root element holds no usage.
                    return Err(EspiError::NotGreenButton);
                }
                if name == "link" {
                    link(&e, entry.as_mut())?;
                }
                if let Some(en) = entry.as_mut() {
                    if path.last().map(String::as_str) == Some("content") && en.resource.is_none() {
                        en.resource = Some(name);
                    }
                }
            }
            Event::Text(t) => {
                text_at(
                    &path,
                    &t.xml10_content(),
                    entry.as_mut(),
                    &mut fields,
                    &mut reading,
                );
            }
            Event::CData(t) => {
                text_at(&path, &t, entry.as_mut(), &mut fields, &mut reading);
            }
            // `&amp;` and friends arrive on their own, between pieces of text.
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&r).map(str::to_string),
                };
                if let Some(t) = resolved {
                    text_at(&path, &t, entry.as_mut(), &mut fields, &mut reading);
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                if name == "IntervalReading" {
                    let [start, duration, value, cost] = std::mem::take(&mut reading);
                    if let (Some(start), Some(value)) = (start, value) {
                        let start: i64 = num("start", &start)?;
                        let duration: i64 = duration
                            .map(|d| num("duration", &d))
                            .transpose()?
                            .unwrap_or(0);
                        let value: i64 = num("value", &value)?;
                        let cost: Option<i64> = cost.map(|c| num("cost", &c)).transpose()?;
                        // Links come before the content in an entry: the block's meter reading is
                        // known, so the reading is summed at once and never kept.
                        match entry.as_ref().and_then(block_owner) {
                            Some(mr) => p.add(&mr, (start, duration, value, cost)),
                            None => pending.push((start, duration, value, cost)),
                        }
                    }
                } else if name == "entry" {
                    if let Some(en) = entry.take() {
                        p.finish_entry(en, &fields, &mut pending);
                    }
                }
            }
            Event::Eof => {
                if !path.is_empty() {
                    return Err(EspiError::Truncated);
                }
                break;
            }
            _ => {}
        }
        buf.clear();
    }
    if !root_ok || !p.espi_seen {
        return Err(EspiError::NotGreenButton);
    }
    p.into_feed()
}

fn is_eof(s: &quick_xml::errors::SyntaxError) -> bool {
    use quick_xml::errors::SyntaxError::*;
    matches!(
        s,
        UnclosedCData
            | UnclosedComment
            | UnclosedDoctype
            | UnclosedPI
            | UnclosedXmlDecl
            | UnclosedTag
    )
}

fn link(e: &quick_xml::events::BytesStart, entry: Option<&mut Entry>) -> Result<(), EspiError> {
    let Some(en) = entry else { return Ok(()) };
    let mut rel = String::new();
    let mut href = String::new();
    for a in e.attributes().flatten() {
        let v = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map(|v| v.to_string())
            .unwrap_or_default();
        match a.key.local_name().into_inner() {
            "rel" => rel = v,
            "href" => href = v,
            _ => {}
        }
    }
    let href = strip_id(&href);
    match rel.as_str() {
        "self" => en.self_href = Some(href),
        "up" => en.up_href = Some(href),
        "related" => en.related.push(href),
        _ => {}
    }
    Ok(())
}

fn text_at(
    path: &[String],
    text: &str,
    entry: Option<&mut Entry>,
    fields: &mut HashMap<String, String>,
    reading: &mut [Option<String>; 4],
) {
    let Some(en) = entry else { return };
    let last = path.last().map(String::as_str).unwrap_or_default();
    let parent = path
        .len()
        .checked_sub(2)
        .map(|i| path[i].as_str())
        .unwrap_or_default();
    if parent == "entry" && last == "title" {
        en.title.push_str(text);
        return;
    }
    if path.iter().any(|p| p == "IntervalReading") {
        // ReadingQuality and the like are ignored.
        let slot = match (parent, last) {
            ("timePeriod", "start") => 0,
            ("timePeriod", "duration") => 1,
            ("IntervalReading", "value") => 2,
            ("IntervalReading", "cost") => 3,
            _ => return,
        };
        reading[slot].get_or_insert_with(String::new).push_str(text);
        return;
    }
    if en.resource.is_some() {
        let key = if parent == "ServiceCategory" {
            "kind".to_string()
        } else {
            last.to_string()
        };
        fields.entry(key).or_default().push_str(text);
    }
}

/// The MeterReading an IntervalBlock entry belongs to, from its `self` or `up` link.
fn block_owner(en: &Entry) -> Option<String> {
    if en.resource.as_deref().is_some_and(|r| r != "IntervalBlock") {
        return None;
    }
    en.self_href
        .as_deref()
        .and_then(meter_reading_of)
        .or_else(|| en.up_href.as_deref().and_then(meter_reading_of))
}

impl Parser {
    /// Adds one reading to its meter reading's month. Months are local time: LocalTimeParameters
    /// comes before the interval blocks in ESPI feeds.
    fn add(&mut self, mr: &str, (start, duration, value, cost): (i64, i64, i64, Option<i64>)) {
        let tz = self.tz_offset;
        let acc = match self.readings.get_mut(mr) {
            Some(a) => a,
            None => self.readings.entry(mr.to_string()).or_default(),
        };
        let s = acc
            .months
            .entry(month_key(start + duration / 2 + tz))
            .or_default();
        s.value += value as i128;
        if let Some(c) = cost {
            s.cost += c as i128;
            s.costs += 1;
        }
        s.readings += 1;
        acc.readings += 1;
        acc.start = Some(acc.start.map_or(start, |x| x.min(start)));
        let end = start + duration;
        acc.end = Some(acc.end.map_or(end, |x| x.max(end)));
    }

    fn finish_entry(
        &mut self,
        en: Entry,
        fields: &HashMap<String, String>,
        pending: &mut Vec<(i64, i64, i64, Option<i64>)>,
    ) {
        let Some(resource) = en.resource.as_deref() else {
            return;
        };
        let num_of = |k: &str| fields.get(k).and_then(|v| v.trim().parse::<i64>().ok());
        let _ = &en.up_href;
        match resource {
            "UsagePoint" => {
                self.espi_seen = true;
                let Some(id) = en.self_href.as_deref().and_then(usage_point_id) else {
                    return;
                };
                let up = self.usage_points.entry(id).or_default();
                let title = en.title.split_whitespace().collect::<Vec<_>>().join(" ");
                if !title.is_empty() {
                    up.title = Some(title);
                }
                up.kind = num_of("kind").map(|k| k as u32);
                up.related = en.related.clone();
            }
            "MeterReading" => {
                self.espi_seen = true;
                let Some(href) = en.self_href.clone() else {
                    return;
                };
                let info = self.meter_readings.entry(href.clone()).or_default();
                info.reading_type = en
                    .related
                    .iter()
                    .find(|r| r.contains("ReadingType"))
                    .cloned();
                info.usage_point = usage_point_id(&href);
            }
            "ReadingType" => {
                self.espi_seen = true;
                let Some(href) = en.self_href.clone() else {
                    return;
                };
                self.types.insert(
                    href,
                    ReadingType {
                        uom: num_of("uom").map(|v| v as u32),
                        multiplier: num_of("powerOfTenMultiplier").unwrap_or(0) as i32,
                        currency: num_of("currency").map(|v| v as u32),
                        commodity: num_of("commodity").map(|v| v as u32),
                        flow: num_of("flowDirection").map(|v| v as u32),
                        interval: num_of("intervalLength").map(|v| v as u32),
                    },
                );
            }
            "LocalTimeParameters" => {
                self.espi_seen = true;
                if let Some(tz) = num_of("tzOffset") {
                    self.tz_offset = tz;
                }
            }
            "IntervalBlock" => {
                self.espi_seen = true;
                let Some(mr) = block_owner(&en) else {
                    pending.clear();
                    return;
                };
                for r in std::mem::take(pending) {
                    self.add(&mr, r);
                }
            }
            _ => {}
        }
    }

    fn into_feed(self) -> Result<Feed, EspiError> {
        let mut series = Vec::new();
        let mut keys: Vec<&String> = self.readings.keys().collect();
        keys.sort();
        for mr in keys {
            let acc = &self.readings[mr];
            if acc.readings == 0 {
                continue;
            }
            let info = self.meter_readings.get(mr);
            let rt = info
                .and_then(|i| i.reading_type.as_ref())
                .and_then(|r| self.types.get(r))
                .cloned()
                .or_else(|| {
                    (self.types.len() == 1)
                        .then(|| self.types.values().next().cloned())
                        .flatten()
                })
                .unwrap_or_default();
            let up_id = info
                .and_then(|i| i.usage_point.clone())
                .or_else(|| {
                    self.usage_points
                        .iter()
                        .find(|(_, u)| {
                            u.related
                                .iter()
                                .any(|r| mr.starts_with(r.as_str()) || r.starts_with(mr.as_str()))
                        })
                        .map(|(k, _)| k.clone())
                })
                .or_else(|| usage_point_id(mr))
                .unwrap_or_else(|| "1".to_string());
            let up = self.usage_points.get(&up_id);
            let commodity = commodity_of(&rt, up.and_then(|u| u.kind));
            let flow = match rt.flow {
                Some(1) => Flow::Delivered,
                Some(19) => Flow::Received,
                Some(4) => Flow::Net,
                _ if commodity != Commodity::Other => Flow::Delivered,
                _ => Flow::Unknown,
            };
            let (unit, divisor) = unit_of(rt.uom);
            let scale = 10f64.powi(rt.multiplier) / divisor;
            let title = up
                .and_then(|u| u.title.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| {
                    let c = match commodity {
                        Commodity::Electricity => "Electricity",
                        Commodity::Gas => "Gas",
                        Commodity::Water => "Water",
                        Commodity::Other => "Usage",
                    };
                    format!("{c} meter {up_id}")
                });
            let months = acc
                .months
                .iter()
                .map(|(k, s)| Month {
                    month: format!("{:04}-{:02}", k.div_euclid(12), k.rem_euclid(12) + 1),
                    energy: s.value as f64 * scale,
                    cost: (s.costs > 0).then(|| s.cost as f64 / 100_000.0),
                    readings: s.readings,
                })
                .collect();
            series.push(Series {
                usage_point: up_id,
                meter_reading: mr.clone(),
                title,
                commodity,
                flow,
                unit,
                currency: rt.currency.map(currency_code),
                interval_seconds: rt.interval,
                readings: acc.readings,
                start: acc.start.unwrap_or_default(),
                end: acc.end.unwrap_or_default(),
                months,
            });
        }
        if series.is_empty() {
            return Err(EspiError::NoReadings);
        }
        series.sort_by(|a, b| {
            (&a.usage_point, &a.meter_reading).cmp(&(&b.usage_point, &b.meter_reading))
        });
        Ok(Feed { series })
    }
}

/// Reads a feed file with a 64 KiB buffer.
pub fn parse_file(path: &std::path::Path) -> Result<Feed, EspiError> {
    let f = std::fs::File::open(path)?;
    parse(std::io::BufReader::with_capacity(64 * 1024, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/greenbutton")
            .join(name)
    }

    /// A feed built to the ESPI schema's shape, entries in the given order.
    fn feed(entries: &[String]) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi"><id>urn:uuid:1</id><title>t</title>{}</feed>"#,
            entries.concat()
        )
    }

    fn entry(self_href: &str, related: &[&str], title: &str, content: &str) -> String {
        let rel: String = related
            .iter()
            .map(|r| format!(r#"<link rel="related" href="{r}"/>"#))
            .collect();
        format!(
            r#"<entry><id>urn:uuid:{self_href}</id><link rel="self" href="{self_href}"/>{rel}<title>{title}</title><content>{content}</content></entry>"#
        )
    }

    fn reading(start: i64, duration: i64, value: i64, cost: Option<i64>) -> String {
        let cost = cost
            .map(|c| format!("<espi:cost>{c}</espi:cost>"))
            .unwrap_or_default();
        format!("<espi:IntervalReading>{cost}<espi:timePeriod><espi:duration>{duration}</espi:duration><espi:start>{start}</espi:start></espi:timePeriod><espi:value>{value}</espi:value></espi:IntervalReading>")
    }

    const UP: &str = "/espi/1_1/resource/RetailCustomer/9/UsagePoint";
    // 2025-01-31T23:00:00-08:00 = 2025-02-01T07:00:00Z = 1738393200.
    const JAN31_23_LOCAL: i64 = 1_738_393_200;

    fn two_meters(out_of_order: bool) -> String {
        let ltp = entry("/espi/1_1/resource/LocalTimeParameters/1", &[], "", "<espi:LocalTimeParameters><espi:dstOffset>3600</espi:dstOffset><espi:tzOffset>-28800</espi:tzOffset></espi:LocalTimeParameters>");
        let up1 = entry(&format!("{UP}/1"), &[&format!("{UP}/1/MeterReading")], "1 Main St &amp; Co", "<espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind></espi:ServiceCategory></espi:UsagePoint>");
        let mr1 = entry(
            &format!("{UP}/1/MeterReading/1"),
            &["/espi/1_1/resource/ReadingType/1"],
            "",
            "<espi:MeterReading/>",
        );
        let rt1 = entry("/espi/1_1/resource/ReadingType/1", &[], "", "<espi:ReadingType><espi:commodity>1</espi:commodity><espi:currency>840</espi:currency><espi:flowDirection>1</espi:flowDirection><espi:intervalLength>3600</espi:intervalLength><espi:kind>12</espi:kind><espi:powerOfTenMultiplier>0</espi:powerOfTenMultiplier><espi:uom>72</espi:uom></espi:ReadingType>");
        // Three hours on Jan 31 local (the third starts at 23:00 local, already Feb 1 in UTC),
        // two on Feb 1 local.
        let ib1 = entry(
            &format!("{UP}/1/MeterReading/1/IntervalBlock/1"),
            &[],
            "",
            &format!(
                "<espi:IntervalBlock><espi:interval><espi:duration>18000</espi:duration><espi:start>{}</espi:start></espi:interval>{}{}{}{}{}</espi:IntervalBlock>",
                JAN31_23_LOCAL - 7200,
                reading(JAN31_23_LOCAL - 7200, 3600, 1200, Some(12_500)),
                reading(JAN31_23_LOCAL - 3600, 3600, 800, Some(9_000)),
                reading(JAN31_23_LOCAL, 3600, 1000, Some(11_000)),
                reading(JAN31_23_LOCAL + 3600, 3600, 2500, Some(30_000)),
                reading(JAN31_23_LOCAL + 7200, 3600, 500, None),
            ),
        );
        let up2 = entry(&format!("{UP}/2"), &[], "", "<espi:UsagePoint><espi:ServiceCategory><espi:kind>1</espi:kind></espi:ServiceCategory></espi:UsagePoint>");
        let mr2 = entry(
            &format!("{UP}/2/MeterReading/1"),
            &["/espi/1_1/resource/ReadingType/2"],
            "",
            "<espi:MeterReading/>",
        );
        let rt2 = entry("/espi/1_1/resource/ReadingType/2", &[], "", "<espi:ReadingType><espi:currency>840</espi:currency><espi:powerOfTenMultiplier>-3</espi:powerOfTenMultiplier><espi:uom>169</espi:uom></espi:ReadingType>");
        // A billing period 2024-12-26 .. 2025-01-25 local (midpoint Jan 10) and one
        // 2025-01-26 .. 2025-02-25 (midpoint Feb 10).
        let dec26 = 1_735_200_000; // 2024-12-26T08:00:00Z = 00:00 local
        let jan26 = dec26 + 31 * 86_400;
        let ib2 = entry(
            &format!("{UP}/2/MeterReading/1/IntervalBlock/1"),
            &[],
            "",
            &format!(
                "<espi:IntervalBlock>{}{}</espi:IntervalBlock>",
                reading(dec26, 31 * 86_400, 62_000, Some(9_920_000)),
                reading(jan26, 31 * 86_400, 48_500, Some(7_760_000)),
            ),
        );
        let mut all = vec![ltp, up1, mr1, rt1, ib1, up2, mr2, rt2, ib2];
        if out_of_order {
            // Blocks before their reading types and meter readings (LocalTimeParameters stays first).
            all = vec![
                all[0].clone(),
                all[4].clone(),
                all[8].clone(),
                all[7].clone(),
                all[3].clone(),
                all[6].clone(),
                all[2].clone(),
                all[5].clone(),
                all[1].clone(),
            ];
        }
        feed(&all)
    }

    fn check_two_meters(f: &Feed) {
        assert_eq!(f.series.len(), 2);
        let e = &f.series[0];
        assert_eq!(
            (e.commodity, e.flow, e.unit.as_str()),
            (Commodity::Electricity, Flow::Delivered, "kWh")
        );
        assert_eq!(e.title, "1 Main St & Co");
        assert_eq!(e.currency.as_deref(), Some("USD"));
        assert_eq!(e.readings, 5);
        // January (local): 1200 + 800 + 1000 Wh = 3.0 kWh; cost (12500 + 9000 + 11000) / 100000 = $0.325.
        // February: 2500 + 500 Wh = 3.0 kWh; cost 30000 / 100000 = $0.30 (the last reading has none).
        assert_eq!(e.months.len(), 2);
        assert_eq!(e.months[0].month, "2025-01");
        assert!((e.months[0].energy - 3.0).abs() < 1e-12);
        assert!((e.months[0].cost.unwrap() - 0.325).abs() < 1e-12);
        assert_eq!(e.months[1].month, "2025-02");
        assert!((e.months[1].energy - 3.0).abs() < 1e-12);
        assert!((e.months[1].cost.unwrap() - 0.30).abs() < 1e-12);
        let g = &f.series[1];
        assert_eq!((g.commodity, g.unit.as_str()), (Commodity::Gas, "therm"));
        assert_eq!(g.title, "Gas meter 2");
        // Millitherms: 62000 × 10^-3 = 62 therm in January (by midpoint), 48.5 in February;
        // costs $99.20 and $77.60.
        assert_eq!(
            g.months
                .iter()
                .map(|m| m.month.as_str())
                .collect::<Vec<_>>(),
            ["2025-01", "2025-02"]
        );
        assert!(
            (g.months[0].energy - 62.0).abs() < 1e-9 && (g.months[1].energy - 48.5).abs() < 1e-9
        );
        assert!(
            (g.months[0].cost.unwrap() - 99.2).abs() < 1e-9
                && (g.months[1].cost.unwrap() - 77.6).abs() < 1e-9
        );
    }

    #[test]
    fn sums_by_local_month_with_the_reading_types_rules() {
        check_two_meters(&parse(two_meters(false).as_bytes()).unwrap());
    }

    #[test]
    fn entries_may_come_in_any_order() {
        check_two_meters(&parse(two_meters(true).as_bytes()).unwrap());
    }

    fn naive_values(path: &std::path::Path) -> (usize, i64) {
        let text = std::fs::read_to_string(path).unwrap();
        let mut n = 0;
        let mut sum = 0;
        for part in text.split("<IntervalReading").skip(1) {
            let body = part.split("</IntervalReading>").next().unwrap();
            let v = body
                .rsplit("<value>")
                .next()
                .unwrap()
                .split('<')
                .next()
                .unwrap();
            sum += v.trim().parse::<i64>().unwrap();
            n += 1;
        }
        (n, sum)
    }

    #[test]
    fn reads_the_published_samples() {
        let year = data("Coastal_Multi_Family_12hr_Jan_1_2011_to_Jan_1_2012_RetailCustomer_3.xml");
        let f = parse_file(&year).unwrap();
        let (n, sum) = naive_values(&year);
        assert_eq!(f.series.len(), 1);
        let s = &f.series[0];
        assert_eq!(
            (s.readings as usize, s.unit.as_str(), s.commodity),
            (n, "kWh", Commodity::Electricity)
        );
        assert_eq!(n, 8760);
        let total: f64 = s.months.iter().map(|m| m.energy).sum();
        assert!((total - sum as f64 / 1000.0).abs() < 1e-6, "{total}");

        let gas =
            data("ngma_natural_gas_billing_billing_data_Service_1_1_2021-05-26_to_2024-04-25.xml");
        let f = parse_file(&gas).unwrap();
        let (n, sum) = naive_values(&gas);
        let g = &f.series[0];
        assert_eq!(
            (g.commodity, g.unit.as_str(), g.readings as usize),
            (Commodity::Gas, "therm", n)
        );
        let total: f64 = g.months.iter().map(|m| m.energy).sum();
        assert!((total - sum as f64 / 1000.0).abs() < 1e-9);
        assert!(g.months.iter().all(|m| m.cost.is_some()));

        let nine = data("TestGBDataHourlyNineDaysBinnedDaily.xml");
        let f = parse_file(&nine).unwrap();
        assert_eq!(f.series[0].readings as usize, naive_values(&nine).0);
        assert!(f.series[0].months.iter().any(|m| m.cost.is_some()));
    }

    #[test]
    fn refuses_what_is_not_a_whole_green_button_file() {
        let full = std::fs::read(data("TestGBDataHourlyNineDaysBinnedDaily.xml")).unwrap();
        let half = &full[..full.len() / 2];
        assert!(
            matches!(parse(half), Err(EspiError::Truncated)),
            "{:?}",
            parse(half).err()
        );
        assert!(matches!(parse(&b""[..]), Err(EspiError::NotGreenButton)));
        assert!(matches!(
            parse(&b"Date,kWh\n2025-01-01,3\n"[..]),
            Err(EspiError::NotGreenButton)
        ));
        assert!(matches!(
            parse(&b"<html><body>Sign in</body></html>"[..]),
            Err(EspiError::NotGreenButton)
        ));
        let atom = feed(&[entry("/x/1", &[], "news", "<p>hello</p>")]);
        assert!(matches!(
            parse(atom.as_bytes()),
            Err(EspiError::NotGreenButton)
        ));
        let no_readings = feed(&[entry(&format!("{UP}/1"), &[], "", "<espi:UsagePoint/>")]);
        assert!(matches!(
            parse(no_readings.as_bytes()),
            Err(EspiError::NoReadings)
        ));
        let bad_value = two_meters(false).replace("<espi:value>800<", "<espi:value>eight hundred<");
        let e = parse(bad_value.as_bytes()).unwrap_err();
        assert!(
            matches!(e, EspiError::Invalid(_)) && e.to_string().contains("eight hundred"),
            "{e}"
        );
        let broken = two_meters(false).replace("</espi:ReadingType>", "</espi:ReadingTyp>");
        assert!(matches!(
            parse(broken.as_bytes()),
            Err(EspiError::Xml { .. })
        ));
        for e in [
            EspiError::Truncated,
            EspiError::NotGreenButton,
            EspiError::NoReadings,
        ] {
            assert!(!e.to_string().is_empty());
        }
    }
}
