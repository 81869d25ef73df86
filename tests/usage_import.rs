//! A Green Button import that is cancelled half way, or refused for going beyond a limit,
//! leaves the store as it was (a real SQLite file): the usage stored before, the rows, the
//! activity. Progress is reported as the file is read.

mod common;

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use common::*;
use onramp_core::model::UsageImportProgress;
use onramp_core::{Code, Onramp};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/core/tests/data/greenbutton")
        .join(name)
}

const HOURLY_YEAR: &str = "Coastal_Multi_Family_12hr_Jan_1_2011_to_Jan_1_2012_RetailCustomer_3.xml";
const GAS: &str = "ngma_natural_gas_billing_billing_data_Service_1_1_2021-05-26_to_2024-04-25.xml";

/// What the store holds for a customer: their usage (with months), the usage rows and the
/// activity log.
async fn snapshot(onramp: &Onramp, id: &str) -> (String, i64, i64, usize) {
    let usage = format!("{:?}", onramp.usage(id).await.unwrap());
    (
        usage,
        row_count(onramp, "usage_series").await,
        row_count(onramp, "usage_months").await,
        onramp.events(None).await.unwrap().len(),
    )
}

#[tokio::test]
async fn a_cancelled_import_stores_nothing_and_frees_the_customer() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Dana Ortiz").await;
    onramp.import_usage_file(&id, &sample(GAS)).await.unwrap();
    let before = snapshot(&onramp, &id).await;

    // The import reports, then waits until the test has pressed Cancel.
    let (to_test, reports) = mpsc::channel::<UsageImportProgress>();
    let (to_import, acks) = mpsc::channel::<()>();
    let acks = Mutex::new(acks);
    let progress: onramp_core::service::UsageProgress = Arc::new(move |p| {
        if to_test.send(p.clone()).is_ok() {
            let _ = acks.lock().unwrap().recv();
        }
    });
    let path = sample(HOURLY_YEAR);
    let total = std::fs::metadata(&path).unwrap().len() as i64;
    let import = onramp.import_usage_file_with(&id, &path, progress);
    let press = async {
        let first = tokio::task::spawn_blocking(move || {
            let first = reports.recv().unwrap();
            (first, reports)
        })
        .await
        .unwrap();
        let (first, reports) = first;
        assert_eq!(first.customer_id, id);
        assert_eq!(first.file_name, HOURLY_YEAR);
        assert_eq!(first.total, total);
        assert!(first.read > 0 && first.read < total, "{first:?}");
        // A second import for the same customer waits its turn.
        let e = onramp
            .import_usage_file(&id, &sample(GAS))
            .await
            .unwrap_err();
        assert_eq!(e.code, Code::Busy, "{e:?}");
        assert!(onramp.cancel_usage_import(&id));
        drop(reports);
        to_import.send(()).unwrap();
    };
    let (r, ()) = tokio::join!(import, press);
    let e = r.unwrap_err();
    assert_eq!(e.code, Code::Cancelled, "{e:?}");
    assert!(e.message.contains("Nothing was saved"), "{}", e.message);
    assert_eq!(snapshot(&onramp, &id).await, before);
    assert!(!onramp.cancel_usage_import(&id), "nothing runs any more");

    // The customer is free again: the same file imports whole, with progress to its end.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let done = onramp
        .import_usage_file_with(
            &id,
            &path,
            Arc::new(move |p| s.lock().unwrap().push(p.read)),
        )
        .await
        .unwrap();
    assert_eq!(done.series[0].readings, 8760);
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 10, "{seen:?}");
    assert_eq!(*seen.last().unwrap(), total);
}

#[tokio::test]
async fn a_file_beyond_a_limit_is_refused_naming_it_and_stores_nothing() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Eli Park").await;
    onramp.import_usage_file(&id, &sample(GAS)).await.unwrap();
    let before = snapshot(&onramp, &id).await;
    let gas = std::fs::read_to_string(sample(GAS)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deep = gas.replacen(
        "<entry>",
        &format!("<entry>{}{}", "<x>".repeat(100), "</x>".repeat(100)),
        1,
    );
    assert_ne!(deep, gas);
    let attribute = gas.replacen(
        "<entry>",
        &format!("<entry data=\"{}\">", "a".repeat(1 << 20)),
        1,
    );
    let cases = [
        ("deep.xml", deep, "nested more than 64 deep"),
        (
            "attribute.xml",
            attribute,
            "attributes are longer than 64 KB",
        ),
    ];
    for (name, xml, words) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, &xml).unwrap();
        let e = onramp.import_usage_file(&id, &p).await.unwrap_err();
        assert_eq!(e.code, Code::Validation, "{name}: {e:?}");
        assert!(
            e.message.contains(name) && e.message.contains(words),
            "{name}: {}",
            e.message
        );
        assert!(e.message.contains("Nothing was saved"), "{}", e.message);
        assert!(e.hint.is_some());
        let e = onramp
            .import_usage_bytes(&id, name, xml.into_bytes())
            .await
            .unwrap_err();
        assert!(e.message.contains(words), "{name}: {}", e.message);
        assert_eq!(snapshot(&onramp, &id).await, before, "{name}");
    }
}

#[tokio::test]
async fn bytes_from_the_window_are_capped_before_they_are_read() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Fay Lund").await;
    let before = snapshot(&onramp, &id).await;
    let big = vec![b' '; onramp_core::service::MAX_USAGE_BYTES as usize + 1];
    let e = onramp
        .import_usage_bytes(&id, "big.xml", big)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert!(e.message.contains("larger than 128 MB"), "{}", e.message);
    assert_eq!(snapshot(&onramp, &id).await, before);
}
