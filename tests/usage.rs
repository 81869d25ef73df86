//! Green Button Download My Data: a customer's usage file imported through the service and the
//! CLI, with a real SQLite file; a bad file says why and stores nothing.

mod common;

use std::path::PathBuf;

use common::*;
use onramp_core::Code;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/core/tests/data/greenbutton")
        .join(name)
}

const HOURLY_YEAR: &str = "Coastal_Multi_Family_12hr_Jan_1_2011_to_Jan_1_2012_RetailCustomer_3.xml";
const NINE_DAYS: &str = "TestGBDataHourlyNineDaysBinnedDaily.xml";
const GAS: &str = "ngma_natural_gas_billing_billing_data_Service_1_1_2021-05-26_to_2024-04-25.xml";

/// The sum of every IntervalReading `<value>` in a file, found by plain text search: a second
/// way to the total the parser computes.
/// The file's readings' values added up as integers, the way no float can round them.
fn naive_sum(path: &PathBuf) -> i64 {
    let text = std::fs::read_to_string(path).unwrap();
    let mut sum = 0;
    let mut rest = text.as_str();
    while let Some(i) = rest.find("<IntervalReading") {
        rest = &rest[i..];
        let end = rest.find("</IntervalReading>").unwrap();
        let reading = &rest[..end];
        let v = reading
            .rfind("<value>")
            .map(|j| &reading[j + 7..])
            .and_then(|t| t.split('<').next())
            .unwrap_or("0");
        sum += v.trim().parse::<i64>().unwrap();
        rest = &rest[end..];
    }
    sum
}

#[tokio::test]
async fn a_downloaded_year_of_hourly_electricity_becomes_twelve_months() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ada Garcia").await;
    let path = sample(HOURLY_YEAR);
    let done = onramp.import_usage_file(&id, &path).await.unwrap();
    assert_eq!(done.file_name, HOURLY_YEAR);
    assert_eq!(done.series.len(), 1, "{:?}", done.series);
    let s = &done.series[0];
    assert_eq!(
        (s.commodity.as_str(), s.unit.as_str()),
        ("electricity", "kWh")
    );
    assert_eq!(s.readings, 8760);
    assert!(
        s.months.len() >= 12 && s.months.len() <= 13,
        "{:?}",
        s.months
    );
    let total: i64 = s.months.iter().map(|m| m.energy_milli).sum();
    // Wh with powerOfTenMultiplier 0: the thousandths of a kWh are the file's Wh, exactly.
    assert_eq!(total, naive_sum(&path));
    assert_eq!(
        s.service_address.as_deref(),
        Some("Coastal Multi-Family 12hr"),
        "the UsagePoint's title"
    );
    // Stored: the customer's page shows it, and importing again replaces rather than doubles.
    assert_eq!(onramp.customer(&id).await.unwrap().usage.len(), 1);
    onramp.import_usage_file(&id, &path).await.unwrap();
    let usage = onramp.usage(&id).await.unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].months, s.months);
    let events = onramp.events(Some(&id)).await.unwrap();
    assert!(events
        .iter()
        .any(|e| e.kind == "usage_imported" && e.summary.contains(HOURLY_YEAR)));
}

#[tokio::test]
async fn gas_billing_and_costs_come_through() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ben Okafor").await;
    let done = onramp.import_usage_file(&id, &sample(GAS)).await.unwrap();
    let s = &done.series[0];
    assert_eq!((s.commodity.as_str(), s.unit.as_str()), ("gas", "therm"));
    assert_eq!(s.currency.as_deref(), Some("USD"));
    let millitherms: i64 = s.months.iter().map(|m| m.energy_milli).sum();
    // Values are millitherms (powerOfTenMultiplier -3): thousandths of a therm, as stored.
    assert_eq!(millitherms, naive_sum(&sample(GAS)));
    assert_eq!(
        s.service_address.as_deref(),
        Some("1 MAIN ST, ANYTOWN ME 12345")
    );
    assert!(
        s.months.iter().all(|m| m.cost.is_some_and(|c| c > 0.0)),
        "{:?}",
        s.months
    );

    let nine = onramp
        .import_usage_file(&id, &sample(NINE_DAYS))
        .await
        .unwrap();
    assert!(nine.series[0].months.iter().any(|m| m.cost.is_some()));
    assert_eq!(onramp.usage(&id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_bad_file_says_why_and_stores_nothing() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Carla Nguyen").await;
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(sample(NINE_DAYS)).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("cut-off.xml", full[..full.len() / 2].to_vec()),
        ("usage.csv", b"Date,Usage (kWh)\n2025-01-01,12.5\n".to_vec()),
        ("empty.xml", Vec::new()),
        (
            "page.html",
            b"<html><body><p>Sign in</p></body></html>".to_vec(),
        ),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let e = onramp.import_usage_file(&id, &p).await.unwrap_err();
        assert_eq!(e.code, Code::Validation, "{name}: {e:?}");
        assert!(
            e.message.contains(name) && e.message.contains("Nothing was saved"),
            "{name}: {}",
            e.message
        );
        assert!(e.hint.is_some(), "{name}");
        let e2 = onramp
            .import_usage_bytes(&id, name, bytes)
            .await
            .unwrap_err();
        assert_eq!(e2.code, Code::Validation, "{name}");
    }
    let e = onramp
        .import_usage_file(&id, &dir.path().join("missing.xml"))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert_eq!(row_count(&onramp, "usage_series").await, 0);
    assert_eq!(row_count(&onramp, "usage_months").await, 0);
    assert!(onramp
        .events(Some(&id))
        .await
        .unwrap()
        .iter()
        .all(|e| e.kind != "usage_imported"));
    // An unknown customer is refused before the file is read.
    let e = onramp
        .import_usage_file("no-such-customer", &sample(GAS))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::NotFound);
}

#[tokio::test]
async fn a_folder_from_before_exact_energy_reads_the_same_months() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Dana Reyes").await;
    let done = onramp
        .import_usage_file(&id, &sample(HOURLY_YEAR))
        .await
        .unwrap();
    let before = done.series[0].months.clone();
    onramp.close().await;
    // Make the folder as an Onramp before migration 11 left it: energy only as REAL kWh, one
    // month holding the float a sum of readings gave (199.563 kWh as 199.56300000000002).
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", w.db_path().display());
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        for sql in [
            "ALTER TABLE usage_months DROP COLUMN energy_milli",
            "ALTER TABLE usage_series DROP COLUMN service_address",
            "UPDATE usage_months SET energy = 199.56300000000002 WHERE month = '2011-03'",
            "DELETE FROM _sqlx_migrations WHERE version = 11",
        ] {
            sqlx::query(sql).execute(&mut db).await.unwrap();
        }
        db.close().await.unwrap();
    }
    let onramp = w.open().await;
    let after = &onramp.usage(&id).await.unwrap()[0];
    assert_eq!(after.service_address, None, "an old import named no place");
    assert_eq!(after.months.len(), before.len());
    for (a, b) in after.months.iter().zip(&before) {
        let want = if a.month == "2011-03" {
            199_563
        } else {
            b.energy_milli
        };
        assert_eq!((&a.month, a.energy_milli), (&b.month, want));
    }
}
