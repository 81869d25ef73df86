//! Customers through the facade: edited, removed (connections revoked at the vendor, or moved
//! to another customer, nothing half done), told apart (a duplicate's warning), imported from
//! CSV (all or nothing), and an imported usage series removed; each with its event.

mod common;

use std::path::PathBuf;

use common::*;
use onramp_core::model::{
    ConnectionsOnRemove, EventKind, ImportDuplicate, NewCustomer, ProviderId,
};
use onramp_core::Code;
use onramp_sandbox::OAuthVendor;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

fn green_button() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/core/tests/data/greenbutton/TestGBDataHourlyNineDaysBinnedDaily.xml")
}

async fn kinds(onramp: &onramp_core::Onramp, customer: Option<&str>) -> Vec<EventKind> {
    onramp
        .events(customer)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[tokio::test]
async fn a_customer_is_edited_checked_and_logged() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ada Garcia").await;
    let c = onramp
        .update_customer(
            &id,
            NewCustomer {
                name: " Ada Garcia-Lee ".into(),
                address: Some("12 Elm St".into()),
                email: Some("ada@example.com".into()),
                phone: None,
                job_number: Some("J-7".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(c.name, "Ada Garcia-Lee");
    assert_eq!(c.id, id);
    let stored = onramp.customer(&id).await.unwrap();
    assert_eq!(stored.customer, c);
    let e = &stored.events[0];
    assert_eq!(e.kind, EventKind::CustomerUpdated);
    assert!(
        e.summary.contains("name, address, email, job number"),
        "{}",
        e.summary
    );

    // Bad input: a clear error, nothing changed, no event.
    let events = row_count(&onramp, "events").await;
    for bad in [
        NewCustomer {
            name: "  ".into(),
            ..Default::default()
        },
        NewCustomer {
            name: "Ada".into(),
            email: Some("ada at example".into()),
            ..Default::default()
        },
    ] {
        let e = onramp.update_customer(&id, bad).await.unwrap_err();
        assert_eq!(e.code, Code::Validation, "{e:?}");
    }
    let e = onramp
        .update_customer(
            "nobody",
            NewCustomer {
                name: "X".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::NotFound);
    assert_eq!(onramp.customer(&id).await.unwrap().customer, c);
    // The same values again change nothing and log nothing.
    onramp
        .update_customer(
            &id,
            NewCustomer {
                name: c.name.clone(),
                address: c.address.clone(),
                email: c.email.clone(),
                phone: None,
                job_number: c.job_number.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(row_count(&onramp, "events").await, events);
}

#[tokio::test]
async fn a_new_customer_with_an_existing_name_and_address_is_flagged() {
    let w = World::new().await;
    let onramp = w.open().await;
    let first = onramp
        .add_customer(NewCustomer {
            name: "Ada Garcia".into(),
            address: Some("12 Elm Street, Fresno".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let twin = NewCustomer {
        name: "  ada GARCIA".into(),
        address: Some("12 elm st. fresno".into()),
        ..Default::default()
    };
    let similar = onramp.similar_customers(&twin).await.unwrap();
    assert_eq!(similar.len(), 1);
    assert_eq!(similar[0].id, first.id);
    let other = NewCustomer {
        name: "Ada Garcia".into(),
        address: Some("14 Elm Street, Fresno".into()),
        ..Default::default()
    };
    assert!(onramp.similar_customers(&other).await.unwrap().is_empty());
    // A warning only: the installer may still add the twin.
    onramp.add_customer(twin).await.unwrap();
    assert_eq!(row_count(&onramp, "customers").await, 2);
}

#[tokio::test]
async fn removing_a_customer_revokes_their_grants_first_and_a_refusal_removes_nothing() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ida Revoke").await;
    let conn = sign_in(&onramp, &id, ProviderId::Solaredge).await;
    onramp
        .import_usage_file(&id, &green_button())
        .await
        .unwrap();
    assert_eq!(w.sandbox.revocations(OAuthVendor::SolarEdgeSite), 0);

    // The vendor cannot be reached: nothing is removed, and the error says so.
    let mut cfg = w.config();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    cfg.oauth.entry("solaredge".into()).or_default().revoke_url =
        Some(format!("http://127.0.0.1:{port}/v2/oauth2/revoke-token"));
    onramp.close().await;
    let offline = w.open_with(cfg).await;
    let e = offline
        .remove_customer(&id, ConnectionsOnRemove::Revoke)
        .await
        .unwrap_err();
    assert!(
        e.message.contains("Ida Revoke was not removed"),
        "{}",
        e.message
    );
    assert!(e.message.contains("SolarEdge"), "{}", e.message);
    assert_eq!(row_count(&offline, "customers").await, 1);
    assert_eq!(row_count(&offline, "connections").await, 1);
    assert_eq!(row_count(&offline, "usage_series").await, 1);
    assert!(!kinds(&offline, None)
        .await
        .contains(&EventKind::CustomerRemoved));
    offline.close().await;

    let onramp = w.open().await;
    onramp
        .remove_customer(&id, ConnectionsOnRemove::Revoke)
        .await
        .unwrap();
    assert_eq!(w.sandbox.revocations(OAuthVendor::SolarEdgeSite), 1);
    for table in [
        "customers",
        "connections",
        "sites",
        "usage_series",
        "usage_months",
    ] {
        assert_eq!(row_count(&onramp, table).await, 0, "{table}");
    }
    // The consent record keeps what happened.
    let log = kinds(&onramp, Some(&id)).await;
    assert!(log.contains(&EventKind::CustomerRemoved), "{log:?}");
    assert!(log.contains(&EventKind::ConnectionRemoved), "{log:?}");
    let e = onramp.check_connection(&conn).await.unwrap_err();
    assert_eq!(e.code, Code::NotFound);
    let e = onramp.customer(&id).await.unwrap_err();
    assert_eq!(e.code, Code::NotFound);
}

#[tokio::test]
async fn removing_a_customer_can_move_their_connections_to_another() {
    let w = World::new().await;
    let onramp = w.open().await;
    let from = customer(&onramp, "Wrong Name").await;
    let to = customer(&onramp, "Right Name").await;
    let conn = sign_in(&onramp, &from, ProviderId::Solaredge).await;
    onramp
        .import_usage_file(&from, &green_button())
        .await
        .unwrap();

    let e = onramp
        .remove_customer(
            &from,
            ConnectionsOnRemove::MoveTo {
                customer_id: from.clone(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    let e = onramp
        .remove_customer(
            &from,
            ConnectionsOnRemove::MoveTo {
                customer_id: "nobody".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::NotFound);
    assert_eq!(row_count(&onramp, "customers").await, 2);

    onramp
        .remove_customer(
            &from,
            ConnectionsOnRemove::MoveTo {
                customer_id: to.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        w.sandbox.revocations(OAuthVendor::SolarEdgeSite),
        0,
        "nothing revoked"
    );
    let page = onramp.customer(&to).await.unwrap();
    assert_eq!(page.connections.len(), 1);
    assert_eq!(page.connections[0].id, conn);
    assert!(
        page.usage.is_empty(),
        "a file's usage goes with its customer"
    );
    assert_eq!(page.events[0].kind, EventKind::ConnectionMoved);
    assert!(
        page.events[0].summary.contains("Wrong Name"),
        "{}",
        page.events[0].summary
    );
    // The moved grant still works for its new customer.
    let checked = onramp.check_connection(&conn).await.unwrap();
    assert_eq!(checked.customer_id, to);
    assert!(kinds(&onramp, Some(&from))
        .await
        .contains(&EventKind::CustomerRemoved));
}

#[tokio::test]
async fn an_imported_usage_series_can_be_removed() {
    let w = World::new().await;
    let onramp = w.open().await;
    let id = customer(&onramp, "Ada Garcia").await;
    let done = onramp
        .import_usage_file(&id, &green_button())
        .await
        .unwrap();
    let series = done.series[0].id.clone();
    assert!(row_count(&onramp, "usage_months").await > 0);
    onramp.remove_usage_series(&series).await.unwrap();
    assert_eq!(row_count(&onramp, "usage_series").await, 0);
    assert_eq!(row_count(&onramp, "usage_months").await, 0);
    let page = onramp.customer(&id).await.unwrap();
    assert_eq!(page.events[0].kind, EventKind::UsageRemoved);
    let e = onramp.remove_usage_series(&series).await.unwrap_err();
    assert_eq!(e.code, Code::NotFound);
}

#[tokio::test]
async fn a_customers_csv_imports_whole_or_not_at_all() {
    let w = World::new().await;
    let onramp = w.open().await;
    onramp
        .add_customer(NewCustomer {
            name: "Ada Garcia".into(),
            address: Some("12 Elm St, Fresno, CA".into()),
            ..Default::default()
        })
        .await
        .unwrap();

    // A row in error: nothing is written, and the error names the lines.
    let events = row_count(&onramp, "events").await;
    let e = onramp
        .import_customers_file(&data("customers-bad.csv"), false)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert!(e.message.contains("lines 3, 4"), "{}", e.message);
    assert!(e.message.contains("Nothing was imported"), "{}", e.message);
    assert_eq!(row_count(&onramp, "customers").await, 1);
    assert_eq!(row_count(&onramp, "events").await, events);

    let preview = onramp
        .preview_customer_import_file(&data("customers.csv"))
        .await
        .unwrap();
    assert!(preview.ready(), "{preview:?}");
    assert_eq!(preview.rows.len(), 3);
    assert!(matches!(
        preview.rows[0].duplicate,
        Some(ImportDuplicate::Existing { .. })
    ));
    assert_eq!(
        row_count(&onramp, "customers").await,
        1,
        "a preview writes nothing"
    );

    let done = onramp
        .import_customers_file(&data("customers.csv"), true)
        .await
        .unwrap();
    assert_eq!((done.imported, done.skipped_duplicates), (2, 1));
    let list = onramp.list_customers(Some("J-1003")).await.unwrap();
    assert_eq!(list[0].name, "Cy Ng");
    assert_eq!(list[0].address.as_deref(), Some("7 \"The Pines\" Rd"));
    let page = onramp.customer(&list[0].id).await.unwrap();
    assert!(
        page.events[0]
            .summary
            .contains("imported from customers.csv"),
        "{}",
        page.events[0].summary
    );
    // Again, without skipping: every row is now a duplicate, and imported as asked.
    let again = onramp
        .preview_customer_import_file(&data("customers.csv"))
        .await
        .unwrap();
    assert!(again.rows.iter().all(|r| r.duplicate.is_some()));
}
