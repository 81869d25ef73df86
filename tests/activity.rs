//! The activity log as the consent record: who acted (Settings: your name), the scopes a
//! sign-in granted, filtered by kind and day and exported as filtered; and the providers the
//! company uses, which the customer page lists.

mod common;

use common::*;
use onramp_core::model::{ActivityFilter, CompanySettings, EventKind, ProviderId};
use onramp_core::service::ExportFormat;
use onramp_core::Code;

#[tokio::test]
async fn events_name_the_installer_and_a_sign_in_keeps_its_scopes() {
    let w = World::new().await;
    let onramp = w.open().await;
    let before = customer(&onramp, "Before Name").await;
    let s = onramp
        .save_company_settings(&CompanySettings {
            installer_name: Some("  Sam Ortiz ".into()),
            providers: ProviderId::ALL.to_vec(),
            all_providers: true,
        })
        .await
        .unwrap();
    assert_eq!(s.installer_name.as_deref(), Some("Sam Ortiz"));
    let c = customer(&onramp, "Ada Garcia").await;
    let conn = sign_in(&onramp, &c, ProviderId::Tesla).await;
    let events = onramp.events(None).await.unwrap();
    let made = |id: &str| {
        events
            .iter()
            .find(|e| e.customer_id.as_deref() == Some(id) && e.kind == EventKind::CustomerCreated)
            .unwrap()
            .clone()
    };
    assert_eq!(made(&before).installer, None, "no name was set then");
    assert_eq!(made(&c).installer.as_deref(), Some("Sam Ortiz"));
    let connected = events
        .iter()
        .find(|e| {
            e.connection_id.as_deref() == Some(conn.as_str()) && e.kind == EventKind::Connected
        })
        .unwrap();
    let granted = onramp.store().connection(&conn).await.unwrap().scopes;
    assert!(granted.is_some(), "the sandbox's Tesla grants scopes");
    assert_eq!(connected.scopes, granted);

    // The name survives a restart (it is the store's, not the window's).
    drop(events);
    onramp.close().await;
    let onramp = w.open().await;
    assert_eq!(
        onramp
            .company_settings()
            .await
            .unwrap()
            .installer_name
            .as_deref(),
        Some("Sam Ortiz")
    );

    // Filtered by kind, and exported as filtered: installer and scopes are columns.
    let only = ActivityFilter {
        kind: Some(EventKind::Connected),
        ..Default::default()
    };
    let listed = onramp.activity(&only).await.unwrap();
    assert_eq!(listed.len(), 1);
    let csv = onramp
        .export_filtered(&only, ExportFormat::Csv)
        .await
        .unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.contains("installer") && header.contains("scopes"),
        "{header}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{csv}");
    assert!(
        rows[0].contains("Sam Ortiz") && rows[0].contains("Ada Garcia"),
        "{csv}"
    );
    assert!(rows[0].contains(granted.as_deref().unwrap()), "{csv}");

    // By day: nothing before the first day Onramp ran; a day range the wrong way round is
    // refused.
    let none = ActivityFilter {
        until: Some("2000-01-01".into()),
        ..Default::default()
    };
    assert!(onramp.activity(&none).await.unwrap().is_empty());
    let backwards = ActivityFilter {
        since: Some("2030-01-02".into()),
        until: Some("2030-01-01".into()),
        ..Default::default()
    };
    assert_eq!(
        onramp.activity(&backwards).await.unwrap_err().code,
        Code::Validation
    );
    let garbled = ActivityFilter {
        since: Some("yesterday".into()),
        ..Default::default()
    };
    assert_eq!(
        onramp.activity(&garbled).await.unwrap_err().code,
        Code::Validation
    );
    onramp.close().await;
}

#[tokio::test]
async fn the_company_chooses_its_providers_and_a_bad_choice_changes_nothing() {
    let w = World::new().await;
    let onramp = w.open().await;
    assert!(onramp.providers().await.unwrap().iter().all(|p| p.in_use));
    let chosen = vec![
        ProviderId::Solaredge,
        ProviderId::Tesla,
        ProviderId::Utilityapi,
    ];
    let s = onramp
        .save_company_settings(&CompanySettings {
            installer_name: None,
            providers: chosen.clone(),
            all_providers: false,
        })
        .await
        .unwrap();
    assert!(!s.all_providers);
    let used: Vec<ProviderId> = onramp
        .providers()
        .await
        .unwrap()
        .iter()
        .filter(|p| p.in_use)
        .map(|p| p.id)
        .collect();
    assert_eq!(used.len(), 3);
    assert!(chosen.iter().all(|p| used.contains(p)));

    // Nothing chosen is refused, and what was saved stays.
    let e = onramp
        .save_company_settings(&CompanySettings {
            installer_name: Some("Sam".into()),
            providers: vec![],
            all_providers: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    let now = onramp.company_settings().await.unwrap();
    assert_eq!(now.installer_name, None);
    assert_eq!(now.providers.len(), 3);
    // A name with a line break is refused too.
    let e = onramp
        .save_company_settings(&CompanySettings {
            installer_name: Some("Sam\nOrtiz".into()),
            providers: chosen,
            all_providers: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    // Choosing every provider is "all" again (so new ones show too).
    let s = onramp
        .save_company_settings(&CompanySettings {
            installer_name: None,
            providers: ProviderId::ALL.to_vec(),
            all_providers: false,
        })
        .await
        .unwrap();
    assert!(s.all_providers);
    onramp.close().await;
}

/// The sheet the customer keeps: every working connection, today's first, with what it gives
/// and how to withdraw it at the vendor, in words that follow how it was given.
#[tokio::test]
async fn the_hand_off_sheet_says_what_was_connected_and_how_to_withdraw_it() {
    use onramp_core::model::CredentialKind;
    let w = World::new().await;
    let onramp = w.open().await;
    onramp
        .save_company_settings(&CompanySettings {
            installer_name: Some("Sam Ortiz".into()),
            providers: ProviderId::ALL.to_vec(),
            all_providers: true,
        })
        .await
        .unwrap();
    let c = customer(&onramp, "Ada Garcia").await;
    assert!(onramp.hand_off(&c).await.unwrap().items.is_empty());
    onramp
        .connect_customer_key(&c, customer_key(&w, 0))
        .await
        .unwrap();
    sign_in(&onramp, &c, ProviderId::Tesla).await;
    let sheet = onramp.hand_off(&c).await.unwrap();
    assert_eq!(sheet.customer.name, "Ada Garcia");
    assert_eq!(sheet.installer_name.as_deref(), Some("Sam Ortiz"));
    assert_eq!(sheet.items.len(), 2, "{sheet:?}");
    assert!(sheet.items.iter().all(|i| i.today && !i.sites.is_empty()));
    let solis = sheet
        .items
        .iter()
        .find(|i| i.provider == ProviderId::Solis)
        .unwrap();
    assert_eq!(solis.kind, CredentialKind::CustomerKey);
    assert!(solis.withdraw.contains("API Management"), "{solis:?}");
    assert!(solis.until.contains("delete the key"), "{solis:?}");
    let tesla = sheet
        .items
        .iter()
        .find(|i| i.provider == ProviderId::Tesla)
        .unwrap();
    assert!(tesla.withdraw.contains("Tesla account"), "{tesla:?}");
    assert!(tesla.scopes.is_some());
    // Nothing on the sheet is a secret.
    let text = serde_json::to_string(&sheet).unwrap();
    let k = &w.sandbox.demo().solis_customer_keys[0];
    assert!(!text.contains(&k.key_secret) && !text.contains(&k.key_id));
    onramp.close().await;
}

/// The filter is the store's: an entry is found however many came after it, the page holds the
/// newest that match, and the export holds every one, oldest first. Checked against the same
/// filter written out in Rust, over 1,500 entries spread across 2025 with rare kinds among them.
#[tokio::test]
async fn the_store_filters_the_whole_log_and_the_export_holds_all_of_it() {
    use onramp_core::model::{ConnectionsOnRemove, ACTIVITY_PAGE};
    let w = World::new().await;
    let onramp = w.open().await;
    let ada = customer(&onramp, "Ada Garcia").await;
    let ben = customer(&onramp, "Ben Okafor").await;
    let gone = customer(&onramp, "Eli Gone").await;
    // Written straight in at chosen times: (at, customer, provider, kind).
    let kinds = [
        EventKind::Refreshed,
        EventKind::Refreshed,
        EventKind::Refreshed,
        EventKind::CheckFailed,
    ];
    let providers = [
        ProviderId::Tesla,
        ProviderId::Enphase,
        ProviderId::Solaredge,
    ];
    let who = [&ada, &ben, &gone];
    let mut written = Vec::new();
    for n in 0..1500u32 {
        let day = 1 + n % 365;
        let date = time::Date::from_ordinal_date(2025, day as u16).unwrap();
        let at = format!("{date}T{:02}:{:02}:00Z", n % 24, n % 60);
        // One rare kind, written early in the year only.
        let kind = if n % 500 == 7 {
            EventKind::Revoked
        } else {
            kinds[(n % 4) as usize]
        };
        written.push((
            at,
            who[(n % 3) as usize].clone(),
            providers[(n % 7 % 3) as usize],
            kind,
        ));
    }
    for (at, c, p, k) in &written {
        sqlx::query("INSERT INTO events (at, customer_id, provider, kind, summary, actor) VALUES (?, ?, ?, ?, 'x', 'app')")
            .bind(at).bind(c).bind(p.as_str()).bind(k.as_str())
            .execute(onramp.store().pool()).await.unwrap();
    }
    onramp
        .remove_customer(&gone, ConnectionsOnRemove::Revoke)
        .await
        .unwrap();
    let all: Vec<_> = onramp
        .store()
        .activity(&ActivityFilter::default(), None)
        .await
        .unwrap();
    let admits = |f: &ActivityFilter, e: &onramp_core::model::Event| {
        let day = &e.at[..10];
        f.customer_id
            .as_deref()
            .is_none_or(|c| e.customer_id.as_deref() == Some(c))
            && f.provider.is_none_or(|p| e.provider == Some(p))
            && f.kind.is_none_or(|k| e.kind == k)
            && f.since.as_deref().is_none_or(|s| day >= s)
            && f.until.as_deref().is_none_or(|u| day <= u)
    };
    let filters = [
        ActivityFilter::default(),
        ActivityFilter {
            kind: Some(EventKind::Revoked),
            ..Default::default()
        },
        ActivityFilter {
            kind: Some(EventKind::CheckFailed),
            provider: Some(ProviderId::Enphase),
            ..Default::default()
        },
        ActivityFilter {
            provider: Some(ProviderId::Solaredge),
            ..Default::default()
        },
        ActivityFilter {
            customer_id: Some(ben.clone()),
            since: Some("2025-03-01".into()),
            ..Default::default()
        },
        // A day's last minute is in, the next day's first is not.
        ActivityFilter {
            since: Some("2025-02-01".into()),
            until: Some("2025-02-28".into()),
            ..Default::default()
        },
        ActivityFilter {
            until: Some("2025-01-10".into()),
            kind: Some(EventKind::Refreshed),
            ..Default::default()
        },
    ];
    for f in &filters {
        let want: Vec<i64> = all.iter().filter(|e| admits(f, e)).map(|e| e.id).collect();
        assert!(!want.is_empty(), "{f:?} matches something");
        let page: Vec<i64> = onramp
            .activity(f)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        let newest: Vec<i64> = want.iter().take(ACTIVITY_PAGE as usize).copied().collect();
        assert_eq!(page, newest, "the page for {f:?}");
        let csv = onramp.export_filtered(f, ExportFormat::Csv).await.unwrap();
        assert_eq!(
            csv.lines().count() - 1,
            want.len(),
            "every entry of {f:?} is exported"
        );
        let json: Vec<serde_json::Value> =
            serde_json::from_str(&onramp.export_filtered(f, ExportFormat::Json).await.unwrap())
                .unwrap();
        assert_eq!(json.len(), want.len());
        let times: Vec<&str> = json.iter().map(|r| r["at"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    }
    // The rare kind is found though over a thousand entries came after it.
    let revoked = ActivityFilter {
        kind: Some(EventKind::Revoked),
        ..Default::default()
    };
    let found = onramp.activity(&revoked).await.unwrap();
    assert!(
        found.iter().any(|e| e.at.starts_with("2025-01")),
        "{found:?}"
    );
    assert!(all.len() > 1000 + ACTIVITY_PAGE as usize);
    // Names come with the entries; a removed customer's keep only its id.
    assert!(all
        .iter()
        .filter(|e| e.customer_id.as_deref() == Some(ada.as_str()))
        .all(|e| e.customer_name.as_deref() == Some("Ada Garcia")));
    let of_gone: Vec<_> = all
        .iter()
        .filter(|e| e.customer_id.as_deref() == Some(gone.as_str()))
        .collect();
    assert!(!of_gone.is_empty() && of_gone.iter().all(|e| e.customer_name.is_none()));
    onramp.close().await;
}
