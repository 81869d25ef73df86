//! Which sites are the customer's: a key (or an installer account, or a sign-in) may reach other
//! households' sites. Those at another address start unattached, with the reason shown; the
//! installer's choice is kept, changes nothing when refused, and is recorded.

mod common;

use common::*;
use onramp_core::model::{EventKind, NewCustomer, ProviderId};
use onramp_core::Code;

#[tokio::test]
async fn sites_at_another_address_start_unattached_and_the_installer_chooses() {
    let w = World::new().await;
    let onramp = w.open().await;
    let key = w
        .sandbox
        .demo()
        .solis_customer_keys
        .iter()
        .position(|k| k.station_ids.len() >= 2)
        .expect("the sandbox has a customer key with two stations");
    // Without an address on file nothing can be told apart: every site is kept.
    let probe = onramp
        .add_customer(NewCustomer {
            name: "No Address".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    let first = onramp
        .connect_customer_key(&probe, customer_key(&w, key))
        .await
        .unwrap();
    assert!(first.sites.len() >= 2);
    assert!(first
        .sites
        .iter()
        .all(|s| s.attached && s.address_matches.is_none()));

    // A customer who lives at the first station's address.
    let home = first.sites[0]
        .address
        .clone()
        .expect("Solis stations have addresses");
    let ada = onramp
        .add_customer(NewCustomer {
            name: "Ada Garcia".into(),
            address: Some(home.clone()),
            email: None,
            phone: None,
            job_number: None,
        })
        .await
        .unwrap()
        .id;
    let conn = onramp
        .connect_customer_key(&ada, customer_key(&w, key))
        .await
        .unwrap();
    // The sandbox's seeded stations for this key are in two towns.
    assert!(
        conn.sites.iter().any(|s| s.address_matches == Some(false)),
        "{:?}",
        conn.sites
    );
    let at_home = conn
        .sites
        .iter()
        .find(|s| s.address.as_deref() == Some(&home))
        .unwrap();
    assert!(at_home.attached);
    assert_eq!(at_home.address_matches, Some(true));
    for s in &conn.sites {
        if s.address_matches == Some(false) {
            assert!(!s.attached, "{s:?} is another household's");
        }
    }
    let kept = |c: &onramp_core::model::Connection| c.sites.iter().filter(|s| s.attached).count();
    assert_eq!(sites_listed(&onramp, &ada).await, kept(&conn));

    // Refused choices change nothing: none kept, a site the connection does not have.
    let events = row_count(&onramp, "events").await;
    let e = onramp.choose_sites(&conn.id, &[]).await.unwrap_err();
    assert_eq!(e.code, Code::Validation);
    let e = onramp
        .choose_sites(&conn.id, &["not-a-station".into()])
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert_eq!(onramp.store().connection(&conn.id).await.unwrap(), conn);
    assert_eq!(row_count(&onramp, "events").await, events);

    // The installer keeps every one of them, then only the first; each choice is recorded.
    let all: Vec<String> = conn.sites.iter().map(|s| s.external_id.clone()).collect();
    let now = onramp.choose_sites(&conn.id, &all).await.unwrap();
    assert_eq!(kept(&now), conn.sites.len());
    assert_eq!(sites_listed(&onramp, &ada).await, conn.sites.len());
    let now = onramp
        .choose_sites(&conn.id, std::slice::from_ref(&at_home.external_id))
        .await
        .unwrap();
    assert_eq!(kept(&now), 1);
    let chosen = onramp
        .events(Some(&ada))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::SitesChosen)
        .count();
    assert_eq!(chosen, 2);
    // The hand-off sheet names only the kept one; a check keeps the choice.
    let sheet = onramp.hand_off(&ada).await.unwrap();
    let solis = sheet
        .items
        .iter()
        .find(|i| i.provider == ProviderId::Solis)
        .unwrap();
    assert_eq!(solis.sites, vec![at_home.name.clone()]);
    let checked = onramp.check_connection(&conn.id).await.unwrap();
    assert_eq!(kept(&checked), 1);
    onramp.close().await;
}

/// The sites the customers list counts for one customer.
async fn sites_listed(onramp: &onramp_core::service::Onramp, id: &str) -> usize {
    onramp
        .list_customers(None)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == id)
        .unwrap()
        .sites as usize
}
