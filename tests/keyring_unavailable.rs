//! With no Secret Service (here: a session bus that does not exist), Onramp still opens, says
//! secure storage is unavailable with a hint, and refuses to connect without writing a row.
//! Its own test binary, so the broken bus does not leak into other tests.

mod common;

use common::*;
use onramp_core::Code;

#[tokio::test]
async fn a_missing_keyring_is_reported_and_nothing_is_half_written() {
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/onramp-bus",
    );
    let w = World::new().await;
    let onramp = w.open().await;
    let status = onramp.status().vault;
    assert!(!status.available);
    assert!(status
        .message
        .as_deref()
        .unwrap()
        .starts_with("Secure storage is unavailable"));
    assert!(status.hint.as_deref().unwrap().contains("gnome-keyring"));

    let id = customer(&onramp, "Jo").await;
    let e = onramp
        .connect_customer_key(&id, customer_key(&w, 0))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::KeychainUnavailable);
    assert!(e.hint.is_some());
    assert_eq!(row_count(&onramp, "connections").await, 0);
    assert_eq!(row_count(&onramp, "sites").await, 0);

    let account_key = w.sandbox.demo().solaredge_account_key.clone();
    let e = onramp
        .save_installer_account(solaredge_key(&account_key))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::KeychainUnavailable);
    assert_eq!(row_count(&onramp, "provider_apps").await, 0);
}
