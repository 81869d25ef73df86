//! The feed reader against hand-made feeds and the published samples.

use super::*;

pub(super) fn data(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/greenbutton")
        .join(name)
}

/// A feed built to the ESPI schema's shape, entries in the given order.
pub(super) fn feed(entries: &[String]) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi"><id>urn:uuid:1</id><title>t</title>{}</feed>"#,
        entries.concat()
    )
}

pub(super) fn entry(self_href: &str, related: &[&str], title: &str, content: &str) -> String {
    let rel: String = related
        .iter()
        .map(|r| format!(r#"<link rel="related" href="{r}"/>"#))
        .collect();
    format!(
        r#"<entry><id>urn:uuid:{self_href}</id><link rel="self" href="{self_href}"/>{rel}<title>{title}</title><content>{content}</content></entry>"#
    )
}

pub(super) fn reading(start: i64, duration: i64, value: i64, cost: Option<i64>) -> String {
    let cost = cost
        .map(|c| format!("<espi:cost>{c}</espi:cost>"))
        .unwrap_or_default();
    format!("<espi:IntervalReading>{cost}<espi:timePeriod><espi:duration>{duration}</espi:duration><espi:start>{start}</espi:start></espi:timePeriod><espi:value>{value}</espi:value></espi:IntervalReading>")
}

pub(super) const UP: &str = "/espi/1_1/resource/RetailCustomer/9/UsagePoint";
// 2025-01-31T23:00:00-08:00 = 2025-02-01T07:00:00Z = 1738393200.
const JAN31_23_LOCAL: i64 = 1_738_393_200;

pub(super) fn two_meters(out_of_order: bool) -> String {
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

pub(super) fn check_two_meters(f: &Feed) {
    assert_eq!(f.series.len(), 2);
    let e = &f.series[0];
    assert_eq!(
        (e.commodity, e.flow, e.unit.as_str()),
        (Commodity::Electricity, Flow::Delivered, "kWh")
    );
    assert_eq!(e.title, "1 Main St & Co");
    assert_eq!(e.service_address.as_deref(), Some("1 Main St & Co"));
    assert_eq!(e.currency.as_deref(), Some("USD"));
    assert_eq!(e.readings, 5);
    // January (local): 1200 + 800 + 1000 Wh = 3.0 kWh; cost (12500 + 9000 + 11000) / 100000 = $0.325.
    // February: 2500 + 500 Wh = 3.0 kWh; cost 30000 / 100000 = $0.30 (the last reading has none).
    assert_eq!(e.months.len(), 2);
    assert_eq!(e.months[0].month, "2025-01");
    assert_eq!(e.months[0].energy_milli, 3000);
    assert!((e.months[0].cost.unwrap() - 0.325).abs() < 1e-12);
    assert_eq!(e.months[1].month, "2025-02");
    assert_eq!(e.months[1].energy_milli, 3000);
    assert!((e.months[1].cost.unwrap() - 0.30).abs() < 1e-12);
    let g = &f.series[1];
    assert_eq!((g.commodity, g.unit.as_str()), (Commodity::Gas, "therm"));
    assert_eq!(g.title, "Gas meter 2");
    assert_eq!(
        g.service_address, None,
        "a usage point without a title names no place"
    );
    // Millitherms: 62000 × 10^-3 = 62 therm in January (by midpoint), 48.5 in February;
    // costs $99.20 and $77.60.
    assert_eq!(
        g.months
            .iter()
            .map(|m| m.month.as_str())
            .collect::<Vec<_>>(),
        ["2025-01", "2025-02"]
    );
    assert_eq!(
        (g.months[0].energy_milli, g.months[1].energy_milli),
        (62_000, 48_500)
    );
    assert!(
        (g.months[0].cost.unwrap() - 99.2).abs() < 1e-9
            && (g.months[1].cost.unwrap() - 77.6).abs() < 1e-9
    );
}

/// One electricity meter whose readings are `values` × 10^`multiplier` Wh, an hour apart in
/// January 2025 (UTC).
pub(super) fn one_meter(multiplier: i32, values: &[i64]) -> String {
    let rt = entry("/espi/1_1/resource/ReadingType/1", &[], "", &format!("<espi:ReadingType><espi:commodity>1</espi:commodity><espi:flowDirection>1</espi:flowDirection><espi:powerOfTenMultiplier>{multiplier}</espi:powerOfTenMultiplier><espi:uom>72</espi:uom></espi:ReadingType>"));
    let up = entry(&format!("{UP}/1"), &[], "7 Elm Rd", "<espi:UsagePoint/>");
    let mr = entry(
        &format!("{UP}/1/MeterReading/1"),
        &["/espi/1_1/resource/ReadingType/1"],
        "",
        "<espi:MeterReading/>",
    );
    let jan10 = 1_736_496_000; // 2025-01-10T08:00:00Z
    let readings: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| reading(jan10 + i as i64 * 3600, 3600, *v, None))
        .collect();
    let ib = entry(
        &format!("{UP}/1/MeterReading/1/IntervalBlock/1"),
        &[],
        "",
        &format!("<espi:IntervalBlock>{readings}</espi:IntervalBlock>"),
    );
    feed(&[rt, up, mr, ib])
}

#[test]
fn energy_is_exact_integer_watt_hours() {
    // 199.563 kWh as a float sum is 199.56300000000002; as watt-hours it is 199563.
    let f = parse(one_meter(0, &[99_781, 99_000, 782]).as_bytes()).unwrap();
    let s = &f.series[0];
    assert_eq!((s.unit.as_str(), s.months.len()), ("kWh", 1));
    assert_eq!(s.months[0].energy_milli, 199_563);
    // The same energy in milliwatt-hours (powerOfTenMultiplier -3) and in kWh steps of 10 Wh
    // (multiplier 1) comes out the same integer.
    let f = parse(one_meter(-3, &[99_781_000, 99_782_000]).as_bytes()).unwrap();
    assert_eq!(f.series[0].months[0].energy_milli, 199_563);
    let f = parse(one_meter(1, &[10_000, 9_956, 0]).as_bytes()).unwrap();
    assert_eq!(f.series[0].months[0].energy_milli, 199_560);
    // Sub-Wh readings are summed raw and rounded once, half away from zero.
    let f = parse(one_meter(-3, &[499, 499, 499]).as_bytes()).unwrap();
    assert_eq!(f.series[0].months[0].energy_milli, 1, "1.497 Wh");
    let f = parse(one_meter(-3, &[250, 250]).as_bytes()).unwrap();
    assert_eq!(f.series[0].months[0].energy_milli, 1, "0.5 Wh rounds up");
    assert_eq!(f.series[0].service_address.as_deref(), Some("7 Elm Rd"));
}

/// Found by fuzzing (`make fuzz`, target espi): numbers at i64's and i32's bounds overflowed the
/// month's key, the series' end and the scale (a panic in debug builds, a wrong month in release).
#[test]
fn numbers_at_the_bounds_do_not_overflow() {
    let f = parse(one_meter(i32::MAX, &[5]).as_bytes()).unwrap();
    assert_eq!(f.series[0].months[0].energy_milli, i64::MAX, "saturates");
    let rt = entry(
        "/espi/1_1/resource/ReadingType/1",
        &[],
        "",
        "<espi:ReadingType><espi:uom>72</espi:uom></espi:ReadingType>",
    );
    let ltp = entry("/espi/1_1/resource/LocalTimeParameters/1", &[], "", &format!("<espi:LocalTimeParameters><espi:tzOffset>{}</espi:tzOffset></espi:LocalTimeParameters>", i64::MAX));
    let ib = entry(
        &format!("{UP}/1/MeterReading/1/IntervalBlock/1"),
        &[],
        "",
        &format!(
            "<espi:IntervalBlock>{}{}</espi:IntervalBlock>",
            reading(i64::MAX, i64::MAX, 1, None),
            reading(i64::MIN, -1, 2, None)
        ),
    );
    let f = parse(feed(&[rt, ltp, ib]).as_bytes()).unwrap();
    let s = &f.series[0];
    assert_eq!((s.readings, s.start, s.end), (2, i64::MIN, i64::MAX));
}

#[test]
fn scaling_rounds_half_away_from_zero() {
    use super::sums::scaled;
    assert_eq!(scaled(199_563, 0), 199_563);
    assert_eq!(scaled(19_956, 1), 199_560);
    assert_eq!((scaled(1_500, -3), scaled(1_499, -3)), (2, 1));
    assert_eq!((scaled(-1_500, -3), scaled(-1_499, -3)), (-2, -1));
    assert_eq!(scaled(i128::MAX, 3), i64::MAX, "saturates, never wraps");
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
    let total: i64 = s.months.iter().map(|m| m.energy_milli).sum();
    assert_eq!(total, sum, "Wh, exactly");

    let gas =
        data("ngma_natural_gas_billing_billing_data_Service_1_1_2021-05-26_to_2024-04-25.xml");
    let f = parse_file(&gas).unwrap();
    let (n, sum) = naive_values(&gas);
    let g = &f.series[0];
    assert_eq!(
        (g.commodity, g.unit.as_str(), g.readings as usize),
        (Commodity::Gas, "therm", n)
    );
    let total: i64 = g.months.iter().map(|m| m.energy_milli).sum();
    assert_eq!(total, sum, "millitherms, exactly");
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
