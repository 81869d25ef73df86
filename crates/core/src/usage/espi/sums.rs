//! The running sums of a feed: per meter reading and local month, raw until the end, with what
//! the entries said of reading types, meter readings and usage points; turned into [`Series`]
//! once the whole feed is read.

use std::collections::{BTreeMap, HashMap};

use super::read::{Entry, Field};
use super::{Commodity, EspiError, Feed, Flow, Limit, Limits, Month, Series};

/// Raw sums of one MeterReading in one month (local).
#[derive(Default, Clone, Copy)]
struct Sums {
    value: i128,
    cost: i128,
    costs: u32,
    readings: u32,
}

#[derive(Default)]
pub(super) struct ReadingAcc {
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

/// An IntervalBlock's readings summed by month before its meter reading is known (its links
/// came after its content).
pub(super) type Pending = ReadingAcc;

/// The running sums and what the entries said, within the limits on months and resources.
pub(super) struct Parser {
    limits: Limits,
    /// (meter reading, month) sums held, pending ones included.
    months: usize,
    /// Resources described and series with readings.
    resources: usize,
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
    s.trim().parse().map_err(|_| {
        let shown: String = s.trim().chars().take(40).collect();
        let more = if shown.len() < s.trim().len() {
            "…"
        } else {
            ""
        };
        EspiError::Invalid(format!("{what} {shown:?}{more}"))
    })
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
    pub(super) fn new(limits: Limits) -> Parser {
        Parser {
            limits,
            months: 0,
            resources: 0,
            tz_offset: 0,
            readings: HashMap::new(),
            types: HashMap::new(),
            meter_readings: HashMap::new(),
            usage_points: HashMap::new(),
            espi_seen: false,
        }
    }
}

/// Adds one reading to a month of `acc`; true when the month is new to it.
fn add_to(
    acc: &mut ReadingAcc,
    tz: i64,
    (start, duration, value, cost): (i64, i64, i64, Option<i64>),
) -> bool {
    let key = month_key(start.saturating_add(duration / 2).saturating_add(tz));
    let new = !acc.months.contains_key(&key);
    let s = acc.months.entry(key).or_default();
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
    new
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
        reading: (i64, i64, i64, Option<i64>),
    ) -> Result<(), EspiError> {
        if !self.readings.contains_key(mr) {
            self.resource()?;
            self.readings.insert(mr.to_string(), ReadingAcc::default());
        }
        let acc = self.readings.get_mut(mr).expect("inserted above");
        let new = add_to(acc, self.tz_offset, reading);
        self.month(new)
    }

    /// Adds one reading of a block whose meter reading is not known yet.
    pub(super) fn add_pending(
        &mut self,
        pending: &mut Pending,
        reading: (i64, i64, i64, Option<i64>),
    ) -> Result<(), EspiError> {
        let new = add_to(pending, self.tz_offset, reading);
        self.month(new)
    }

    fn month(&mut self, new: bool) -> Result<(), EspiError> {
        if new {
            self.months += 1;
            if self.months > self.limits.months {
                return Err(EspiError::TooLarge(Limit::Months(self.limits.months)));
            }
        }
        Ok(())
    }

    fn resource(&mut self) -> Result<(), EspiError> {
        self.resources += 1;
        if self.resources > self.limits.resources {
            return Err(EspiError::TooLarge(Limit::Resources(self.limits.resources)));
        }
        Ok(())
    }

    /// Moves a block's pending sums to its meter reading.
    fn merge(&mut self, mr: &str, pending: Pending) -> Result<(), EspiError> {
        if !self.readings.contains_key(mr) {
            self.resource()?;
        }
        let acc = self.readings.entry(mr.to_string()).or_default();
        let mut merged = 0;
        for (k, s) in pending.months {
            match acc.months.get_mut(&k) {
                Some(t) => {
                    t.value += s.value;
                    t.cost += s.cost;
                    t.costs += s.costs;
                    t.readings += s.readings;
                    merged += 1;
                }
                None => {
                    acc.months.insert(k, s);
                }
            }
        }
        acc.readings += pending.readings;
        if let Some(st) = pending.start {
            acc.start = Some(acc.start.map_or(st, |x| x.min(st)));
        }
        if let Some(e) = pending.end {
            acc.end = Some(acc.end.map_or(e, |x| x.max(e)));
        }
        // Months that joined one already held no longer count twice.
        self.months -= merged;
        Ok(())
    }

    pub(super) fn finish_entry(
        &mut self,
        en: Entry,
        pending: &mut Pending,
    ) -> Result<(), EspiError> {
        let Some(resource) = en.resource.as_deref() else {
            return Ok(());
        };
        let fields = &en.fields;
        let num_of = |k: Field| {
            fields[k as usize]
                .as_deref()
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        if matches!(resource, "UsagePoint" | "MeterReading" | "ReadingType") {
            self.resource()?;
        }
        match resource {
            "UsagePoint" => {
                self.espi_seen = true;
                let Some(id) = en.self_href.as_deref().and_then(usage_point_id) else {
                    return Ok(());
                };
                let up = self.usage_points.entry(id).or_default();
                let title = en.title.split_whitespace().collect::<Vec<_>>().join(" ");
                if !title.is_empty() {
                    up.title = Some(title);
                }
                up.kind = num_of(Field::Kind).map(|k| k as u32);
                up.related = en.related.clone();
            }
            "MeterReading" => {
                self.espi_seen = true;
                let Some(href) = en.self_href.clone() else {
                    return Ok(());
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
                    return Ok(());
                };
                self.types.insert(
                    href,
                    ReadingType {
                        uom: num_of(Field::Uom).map(|v| v as u32),
                        multiplier: num_of(Field::Multiplier).unwrap_or(0) as i32,
                        currency: num_of(Field::Currency).map(|v| v as u32),
                        commodity: num_of(Field::Commodity).map(|v| v as u32),
                        flow: num_of(Field::Flow).map(|v| v as u32),
                        interval: num_of(Field::Interval).map(|v| v as u32),
                    },
                );
            }
            "LocalTimeParameters" => {
                self.espi_seen = true;
                if let Some(tz) = num_of(Field::TzOffset) {
                    self.tz_offset = tz;
                }
            }
            "IntervalBlock" => {
                self.espi_seen = true;
                let taken = std::mem::take(pending);
                match block_owner(&en) {
                    Some(mr) => self.merge(&mr, taken)?,
                    None => self.discard(taken),
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Forgets a block's pending sums (it named no meter reading).
    pub(super) fn discard(&mut self, pending: Pending) {
        self.months -= pending.months.len();
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
