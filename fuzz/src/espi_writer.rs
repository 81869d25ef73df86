//! Writes a parsed Green Button feed back as an ESPI Atom feed: per series a UsagePoint, a
//! MeterReading, its ReadingType and one IntervalBlock holding one reading per month, valued
//! so that reading it again gives the same monthly totals. The fuzz target's oracle.

use std::fmt::Write;

use onramp_core::usage::espi::{Commodity, Feed, Flow, Series};

/// The ESPI `uom` and the power of ten from its base unit to the shown unit (the reader's
/// `unit_of` the other way round).
fn uom_of(unit: &str) -> Option<(u32, i32)> {
    Some(match unit {
        "kWh" => (72, 3),
        "kW" => (38, 3),
        "therm" => (169, 0),
        "m³" => (42, 0),
        "ft³" => (119, 0),
        "gal" => (128, 0),
        other => (other.strip_prefix("uom ")?.parse().ok()?, 0),
    })
}

fn currency_of(code: &str) -> Option<u32> {
    Some(match code {
        "USD" => 840,
        "EUR" => 978,
        "GBP" => 826,
        "CAD" => 124,
        "SEK" => 752,
        "NOK" => 578,
        "DKK" => 208,
        "AUD" => 36,
        n => n.parse().ok()?,
    })
}

/// Days from 1970-01-01 to the first of a month (proleptic Gregorian, Howard Hinnant's
/// days_from_civil), `None` past what i64 seconds hold.
fn days_from_civil(y: i64, m: i64) -> Option<i64> {
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era.checked_mul(146_097)?.checked_add(doe - 719_468)
}

/// Unix seconds of the middle of a `YYYY-MM` month (UTC), `None` when not representable.
fn mid_month(month: &str) -> Option<i64> {
    let (y, m) = month.rsplit_once('-')?;
    let (y, m): (i64, i64) = (y.parse().ok()?, m.parse().ok()?);
    days_from_civil(y, m)?.checked_add(14)?.checked_mul(86_400)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The feed as ESPI XML, or `None` when a series cannot be written so that it reads back the
/// same (a unit or a month the format cannot say).
pub fn write(feed: &Feed) -> Option<String> {
    let base = "https://utility.example/espi/1_1/resource/RetailCustomer/1";
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:espi=\"http://naesb.org/espi\">\n",
    );
    out.push_str("<entry><link rel=\"self\" href=\"https://utility.example/espi/1_1/resource/LocalTimeParameters/1\"/><content><espi:LocalTimeParameters><espi:tzOffset>0</espi:tzOffset></espi:LocalTimeParameters></content></entry>\n");
    // Usage points keep their order: the reader sorts series by (usage point, meter reading).
    let mut points: Vec<&str> = Vec::new();
    for (i, s) in feed.series.iter().enumerate() {
        if points.last() != Some(&s.usage_point.as_str()) {
            points.push(&s.usage_point);
        }
        let up = format!("{base}/UsagePoint/{:06}", points.len());
        let mr = format!("{up}/MeterReading/{i:06}");
        let rt = format!("https://utility.example/espi/1_1/resource/ReadingType/{i:06}");
        series(&mut out, s, &up, &mr, &rt)?;
    }
    out.push_str("</feed>\n");
    Some(out)
}

fn series(out: &mut String, s: &Series, up: &str, mr: &str, rt: &str) -> Option<()> {
    let (uom, unit_exp) = uom_of(&s.unit)?;
    let title = s.service_address.as_deref().map(esc).unwrap_or_default();
    let kind = match s.commodity {
        Commodity::Electricity => {
            "<espi:ServiceCategory><espi:kind>0</espi:kind></espi:ServiceCategory>"
        }
        Commodity::Gas => "<espi:ServiceCategory><espi:kind>1</espi:kind></espi:ServiceCategory>",
        Commodity::Water => "<espi:ServiceCategory><espi:kind>2</espi:kind></espi:ServiceCategory>",
        Commodity::Other => "",
    };
    writeln!(out, "<entry><title>{title}</title><link rel=\"self\" href=\"{up}\"/><link rel=\"related\" href=\"{up}/MeterReading\"/><content><espi:UsagePoint>{kind}</espi:UsagePoint></content></entry>").ok()?;
    writeln!(out, "<entry><link rel=\"self\" href=\"{mr}\"/><link rel=\"related\" href=\"{rt}\"/><content><espi:MeterReading/></content></entry>").ok()?;
    let mut fields = String::new();
    let commodity = match s.commodity {
        Commodity::Electricity => Some(1),
        Commodity::Gas => Some(7),
        Commodity::Water => Some(9),
        Commodity::Other => None,
    };
    if let Some(c) = commodity {
        write!(fields, "<espi:commodity>{c}</espi:commodity>").ok()?;
    }
    if let Some(c) = &s.currency {
        write!(fields, "<espi:currency>{}</espi:currency>", currency_of(c)?).ok()?;
    }
    let flow = match s.flow {
        Flow::Delivered => Some(1),
        Flow::Received => Some(19),
        Flow::Net => Some(4),
        Flow::Unknown => None,
    };
    if let Some(f) = flow {
        write!(fields, "<espi:flowDirection>{f}</espi:flowDirection>").ok()?;
    }
    if let Some(n) = s.interval_seconds {
        write!(fields, "<espi:intervalLength>{n}</espi:intervalLength>").ok()?;
    }
    // Values in thousandths of the unit: 10^(unit_exp - 3) base units each.
    // No uom reads as kWh of no commodity; uom 72 would make it electricity.
    if !(s.unit == "kWh" && s.commodity == Commodity::Other) {
        write!(fields, "<espi:uom>{uom}</espi:uom>").ok()?;
    }
    writeln!(out, "<entry><link rel=\"self\" href=\"{rt}\"/><content><espi:ReadingType>{fields}<espi:powerOfTenMultiplier>{}</espi:powerOfTenMultiplier></espi:ReadingType></content></entry>", unit_exp - 3).ok()?;
    write!(
        out,
        "<entry><link rel=\"self\" href=\"{mr}/IntervalBlock/1\"/><content><espi:IntervalBlock>"
    )
    .ok()?;
    for m in &s.months {
        let start = mid_month(&m.month)?;
        let cost = match m.cost {
            // Hundred-thousandths of the currency, as the feed gave them.
            Some(c) if (c * 100_000.0).abs() >= 9.2e18 => return None,
            Some(c) => format!("<espi:cost>{}</espi:cost>", (c * 100_000.0).round() as i64),
            None => String::new(),
        };
        write!(out, "<espi:IntervalReading>{cost}<espi:timePeriod><espi:duration>0</espi:duration><espi:start>{start}</espi:start></espi:timePeriod><espi:value>{}</espi:value></espi:IntervalReading>", m.energy_milli).ok()?;
    }
    writeln!(out, "</espi:IntervalBlock></content></entry>").ok()?;
    Some(())
}
