//! The running sums of a feed: per meter reading and local month, raw until the end, with what
//! the entries said of reading types, meter readings and usage points; turned into [`Series`]
//! once the whole feed is read.

use std::collections::{BTreeMap, HashMap};

use super::read::Entry;
use super::{Commodity, EspiError, Feed, Flow, Month, Series};

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

/// The text of the element being read, by local name path below the resource.
pub(super) struct Parser {
    tz_offset: i64,
    readings: HashMap<String, ReadingAcc>,
    types: HashMap<String, ReadingType>,
    meter_readings: HashMap<String, MeterReadingInfo>,
    usage_points: HashMap<String, UsagePointInfo>,
    pub(super) espi_seen: bool,
}

pub(super) fn strip_id(href: &str) -> String {
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

pub(super) fn num<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, EspiError> {
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

/// (display unit, the power of ten from the uom's base unit to it: Wh to kWh is 3).
fn unit_of(uom: Option<u32>) -> (String, i32) {
    match uom {
        Some(72) => ("kWh".into(), 3),
        Some(38) => ("kW".into(), 3),
        Some(169) => ("therm".into(), 0),
        Some(42) => ("m³".into(), 0),
        Some(119) => ("ft³".into(), 0),
        Some(128) => ("gal".into(), 0),
        Some(n) => (format!("uom {n}"), 0),
        None => ("kWh".into(), 3),
    }
}

/// `value × 10^exp` as an integer, rounded half away from zero when `exp` is negative;
/// saturating at `i64`'s bounds (no meter reads that much).
pub(super) fn scaled(value: i128, exp: i32) -> i64 {
    let out = if exp >= 0 {
        value.saturating_mul(10i128.saturating_pow(exp.unsigned_abs()))
    } else {
        let d = 10i128.saturating_pow(exp.unsigned_abs());
        let (q, r) = (value / d, value % d);
        if r.abs() * 2 >= d {
            q + value.signum()
        } else {
            q
        }
    };
    out.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

impl Parser {
    pub(super) fn new() -> Parser {
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

/// The MeterReading an IntervalBlock entry belongs to, from its `self` or `up` link.
pub(super) fn block_owner(en: &Entry) -> Option<String> {
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
    pub(super) fn add(
        &mut self,
        mr: &str,
        (start, duration, value, cost): (i64, i64, i64, Option<i64>),
    ) {
        let tz = self.tz_offset;
        let acc = match self.readings.get_mut(mr) {
            Some(a) => a,
            None => self.readings.entry(mr.to_string()).or_default(),
        };
        let s = acc
            .months
            // Saturating: a hostile file's times near i64's bounds must not overflow.
            .entry(month_key(
                start.saturating_add(duration / 2).saturating_add(tz),
            ))
            .or_default();
        s.value += value as i128;
        if let Some(c) = cost {
            s.cost += c as i128;
            s.costs += 1;
        }
        s.readings += 1;
        acc.readings += 1;
        acc.start = Some(acc.start.map_or(start, |x| x.min(start)));
        let end = start.saturating_add(duration);
        acc.end = Some(acc.end.map_or(end, |x| x.max(end)));
    }

    pub(super) fn finish_entry(
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

    pub(super) fn into_feed(self) -> Result<Feed, EspiError> {
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
            let (unit, unit_exp) = unit_of(rt.uom);
            // Thousandths of the unit: value × 10^multiplier base units, 10^unit_exp per unit.
            let exp = rt.multiplier.saturating_add(3).saturating_sub(unit_exp);
            let service_address = up.and_then(|u| u.title.clone()).filter(|t| !t.is_empty());
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
                    energy_milli: scaled(s.value, exp),
                    cost: (s.costs > 0).then(|| s.cost as f64 / 100_000.0),
                    readings: s.readings,
                })
                .collect();
            series.push(Series {
                usage_point: up_id,
                meter_reading: mr.clone(),
                title,
                service_address,
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
