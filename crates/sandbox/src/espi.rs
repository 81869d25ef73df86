//! Green Button (ESPI 1.1) Atom feeds, generated deterministically and written entry by entry:
//! a year of hourly electricity with costs, and a natural-gas billing meter. The generator
//! keeps its own totals per local month, so tests can check a parser against numbers that were
//! never parsed.

use std::collections::BTreeMap;
use std::io::Write;

use rand::{Rng, SeedableRng};

/// What to generate.
#[derive(Clone, Debug)]
pub struct FeedSpec {
    pub seed: u64,
    /// Seconds east of UTC (Pacific: -28800); DST is not applied to the readings.
    pub tz_offset: i64,
    /// Hourly electricity readings from local midnight on 2025-01-01 (0: no electric meter).
    pub electric_hours: u32,
    /// Monthly gas billing periods, the first starting 2024-12-26 local (0: no gas meter).
    pub gas_months: u32,
}

impl Default for FeedSpec {
    fn default() -> Self {
        FeedSpec {
            seed: 7,
            tz_offset: -28_800,
            electric_hours: 8_760,
            gas_months: 12,
        }
    }
}

/// One meter's totals as generated.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ExpectedSeries {
    /// `electricity` or `gas`.
    pub commodity: String,
    /// `kWh` or `therm`.
    pub unit: String,
    pub readings: u64,
    /// (`2025-01` local, energy in `unit`, cost in dollars), ascending.
    pub months: Vec<(String, f64, f64)>,
}

/// 2025-01-01T00:00:00Z.
const JAN_1_2025: i64 = 1_735_689_600;

fn month_of(unix_local: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(unix_local).expect("a valid time");
    format!("{:04}-{:02}", d.year(), d.month() as u8)
}

struct Acc(BTreeMap<String, (i64, i64)>, u64);

impl Acc {
    fn add(&mut self, month: String, value: i64, cost: i64) {
        let e = self.0.entry(month).or_default();
        e.0 += value;
        e.1 += cost;
        self.1 += 1;
    }
    fn series(self, commodity: &str, unit: &str, per_unit: f64) -> ExpectedSeries {
        ExpectedSeries {
            commodity: commodity.into(),
            unit: unit.into(),
            readings: self.1,
            months: self
                .0
                .into_iter()
                .map(|(m, (v, c))| (m, v as f64 / per_unit, c as f64 / 100_000.0))
                .collect(),
        }
    }
}

const BASE: &str = "/DataCustodian/espi/1_1/resource";

fn entry<W: Write>(
    w: &mut W,
    self_href: &str,
    up: &str,
    related: &[String],
    title: &str,
    content: &str,
) -> std::io::Result<()> {
    write!(w, "<entry><id>urn:uuid:{:032x}</id>", fxhash(self_href))?;
    write!(
        w,
        r#"<link rel="self" href="{self_href}"/><link rel="up" href="{up}"/>"#
    )?;
    for r in related {
        write!(w, r#"<link rel="related" href="{r}"/>"#)?;
    }
    write!(w, "<title>{title}</title><published>2025-01-01T00:00:00Z</published><updated>2026-01-01T00:00:00Z</updated>")?;
    writeln!(w, r#"<content type="xml">{content}</content></entry>"#)
}

fn fxhash(s: &str) -> u128 {
    s.bytes().fold(0xcbf29ce484222325u128, |h, b| {
        (h ^ b as u128).wrapping_mul(0x100000001b3)
    })
}

/// Writes the feed, streaming; returns what was written, per meter.
pub fn write_feed<W: Write>(mut w: W, spec: &FeedSpec) -> std::io::Result<Vec<ExpectedSeries>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed ^ 0x6b_e5b1);
    let tz = spec.tz_offset;
    let ns = r#" xmlns="http://naesb.org/espi""#;
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        w,
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:uuid:00000000-0000-0000-0000-0000000000fe</id><title>Green Button Usage Feed</title><updated>2026-01-01T00:00:00Z</updated>"#
    )?;
    entry(&mut w, &format!("{BASE}/LocalTimeParameters/1"), &format!("{BASE}/LocalTimeParameters"), &[], "DST For North America",
        &format!("<LocalTimeParameters{ns}><dstEndRule>B40E2000</dstEndRule><dstOffset>3600</dstOffset><dstStartRule>360E2000</dstStartRule><tzOffset>{tz}</tzOffset></LocalTimeParameters>"))?;
    let mut out = Vec::new();
    let up = |n: u32| format!("{BASE}/RetailCustomer/1/UsagePoint/{n}");
    if spec.electric_hours > 0 {
        let u = up(1);
        entry(&mut w, &u, &format!("{BASE}/RetailCustomer/1/UsagePoint"), &[format!("{u}/MeterReading"), format!("{BASE}/LocalTimeParameters/1")], "1234 Oak St, Fresno CA — electric",
            &format!("<UsagePoint{ns}><ServiceCategory><kind>0</kind></ServiceCategory><status>1</status></UsagePoint>"))?;
        entry(
            &mut w,
            &format!("{u}/MeterReading/1"),
            &format!("{u}/MeterReading"),
            &[
                format!("{BASE}/ReadingType/1"),
                format!("{u}/MeterReading/1/IntervalBlock"),
            ],
            "Hourly Electricity Consumption",
            &format!("<MeterReading{ns}/>"),
        )?;
        entry(&mut w, &format!("{BASE}/ReadingType/1"), &format!("{BASE}/ReadingType"), &[], "Energy Delivered (kWh)",
            &format!("<ReadingType{ns}><accumulationBehaviour>4</accumulationBehaviour><commodity>1</commodity><currency>840</currency><dataQualifier>12</dataQualifier><flowDirection>1</flowDirection><intervalLength>3600</intervalLength><kind>12</kind><phase>769</phase><powerOfTenMultiplier>0</powerOfTenMultiplier><timeAttribute>0</timeAttribute><uom>72</uom></ReadingType>"))?;
        let start = JAN_1_2025 - tz;
        let mut acc = Acc(BTreeMap::new(), 0);
        let days = spec.electric_hours.div_ceil(24);
        for day in 0..days {
            let d0 = start + day as i64 * 86_400;
            let hours = 24.min(spec.electric_hours - day * 24);
            let mut block = format!("<IntervalBlock{ns}><interval><duration>{}</duration><start>{d0}</start></interval>", hours * 3600);
            for h in 0..hours {
                let t = d0 + h as i64 * 3600;
                let local_month = month_of(t + tz);
                let summer = matches!(&local_month[5..], "06" | "07" | "08" | "09");
                let shape = [
                    3, 3, 2, 2, 2, 3, 5, 7, 6, 5, 4, 4, 4, 4, 5, 6, 8, 10, 11, 10, 8, 6, 5, 4,
                ][h as usize];
                let wh: i64 =
                    250 + shape * 110 + if summer { shape * 90 } else { 0 } + rng.gen_range(0..200);
                let price = if (16..21).contains(&h) {
                    42
                } else if h >= 7 {
                    27
                } else {
                    18
                }; // cents/kWh
                let cost = wh * price; // Wh × ¢/kWh = 1/100000 $
                acc.add(local_month, wh, cost);
                block.push_str(&format!("<IntervalReading><cost>{cost}</cost><ReadingQuality><quality>0</quality></ReadingQuality><timePeriod><duration>3600</duration><start>{t}</start></timePeriod><value>{wh}</value></IntervalReading>"));
            }
            block.push_str("</IntervalBlock>");
            entry(
                &mut w,
                &format!("{u}/MeterReading/1/IntervalBlock/{}", day + 1),
                &format!("{u}/MeterReading/1/IntervalBlock"),
                &[],
                "",
                &block,
            )?;
        }
        out.push(acc.series("electricity", "kWh", 1000.0));
    }
    if spec.gas_months > 0 {
        let u = up(2);
        entry(&mut w, &u, &format!("{BASE}/RetailCustomer/1/UsagePoint"), &[format!("{u}/MeterReading")], "1234 Oak St, Fresno CA — gas",
            &format!("<UsagePoint{ns}><ServiceCategory><kind>1</kind></ServiceCategory><status>1</status></UsagePoint>"))?;
        entry(
            &mut w,
            &format!("{u}/MeterReading/1"),
            &format!("{u}/MeterReading"),
            &[format!("{BASE}/ReadingType/2")],
            "Monthly Gas Billing",
            &format!("<MeterReading{ns}/>"),
        )?;
        entry(&mut w, &format!("{BASE}/ReadingType/2"), &format!("{BASE}/ReadingType"), &[], "Gas Delivered (therm)",
            &format!("<ReadingType{ns}><accumulationBehaviour>4</accumulationBehaviour><commodity>7</commodity><currency>840</currency><flowDirection>1</flowDirection><kind>12</kind><powerOfTenMultiplier>-3</powerOfTenMultiplier><uom>169</uom></ReadingType>"))?;
        let mut acc = Acc(BTreeMap::new(), 0);
        let mut block = format!("<IntervalBlock{ns}>");
        // Billing periods from the 26th to the 25th, local midnight.
        let mut begin =
            time::Date::from_calendar_date(2024, time::Month::December, 26).expect("a date");
        for _ in 0..spec.gas_months {
            let next = begin.replace_month(begin.month().next()).unwrap_or(begin);
            let next = if begin.month() == time::Month::December {
                time::Date::from_calendar_date(begin.year() + 1, time::Month::January, 26)
                    .expect("a date")
            } else {
                next
            };
            let s = begin.midnight().assume_utc().unix_timestamp() - tz;
            let e = next.midnight().assume_utc().unix_timestamp() - tz;
            let mid_month = month_of(s + (e - s) / 2 + tz);
            let winter = matches!(&mid_month[5..], "11" | "12" | "01" | "02" | "03");
            let millitherm: i64 = if winter { 55_000 } else { 14_000 } + rng.gen_range(0..20_000);
            let cost = millitherm * 160; // $1.60 per therm: mtherm × 160 = 1/100000 $
            acc.add(mid_month, millitherm, cost);
            block.push_str(&format!("<IntervalReading><cost>{cost}</cost><timePeriod><duration>{}</duration><start>{s}</start></timePeriod><value>{millitherm}</value></IntervalReading>", e - s));
            begin = next;
        }
        block.push_str("</IntervalBlock>");
        entry(
            &mut w,
            &format!("{u}/MeterReading/1/IntervalBlock/1"),
            &format!("{u}/MeterReading/1/IntervalBlock"),
            &[],
            "",
            &block,
        )?;
        out.push(acc.series("gas", "therm", 1000.0));
    }
    writeln!(w, "</feed>")?;
    Ok(out)
}

/// The feed as a string, with its totals.
pub fn feed_string(spec: &FeedSpec) -> (String, Vec<ExpectedSeries>) {
    let mut buf = Vec::new();
    let totals = write_feed(&mut buf, spec).expect("writing to memory");
    (String::from_utf8(buf).expect("the feed is UTF-8"), totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_match_a_naive_resum_of_the_xml() {
        let (xml, totals) = feed_string(&FeedSpec {
            electric_hours: 72,
            gas_months: 3,
            ..Default::default()
        });
        let mut sums = Vec::new();
        for block in xml.split("<IntervalBlock").skip(1) {
            let _ = block;
        }
        for part in xml.split("<MeterReading xmlns").skip(1) {
            let _ = part;
        }
        let values: Vec<i64> = xml
            .split("<value>")
            .skip(1)
            .map(|v| v.split('<').next().unwrap().parse().unwrap())
            .collect();
        sums.push(values.iter().take(72).sum::<i64>() as f64 / 1000.0);
        sums.push(values.iter().skip(72).sum::<i64>() as f64 / 1000.0);
        assert_eq!(totals.len(), 2);
        assert_eq!((totals[0].readings, totals[1].readings), (72, 3));
        for (t, s) in totals.iter().zip(sums) {
            let sum: f64 = t.months.iter().map(|m| m.1).sum();
            assert!((sum - s).abs() < 1e-9, "{sum} vs {s}");
        }
        // Three local days of January; gas billing periods by their midpoints.
        assert_eq!(totals[0].months.len(), 1);
        assert_eq!(totals[0].months[0].0, "2025-01");
        assert_eq!(
            totals[1]
                .months
                .iter()
                .map(|m| m.0.as_str())
                .collect::<Vec<_>>(),
            ["2025-01", "2025-02", "2025-03"]
        );
    }
}
