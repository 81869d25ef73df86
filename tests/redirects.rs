//! A vendor that answers with a redirect, on its token endpoint or its data API: every request
//! Onramp sends carries a secret, so Onramp follows none of them. The redirect's target receives
//! nothing, the error names the vendor and says what to check, and nothing is marked broken.

mod common;

use common::*;
use onramp_core::model::{ConnectionState, ProviderId};
use onramp_core::Code;
use onramp_sandbox::{OAuthVendor, RedirectAt};

const VENDORS: [(ProviderId, OAuthVendor, &str); 3] = [
    (ProviderId::Tesla, OAuthVendor::Tesla, "Tesla"),
    (ProviderId::Enphase, OAuthVendor::Enphase, "Enphase"),
    (ProviderId::Sma, OAuthVendor::Sma, "SMA"),
];

fn assert_refused(e: &onramp_core::Error, name: &str, what: &str) {
    assert_eq!(e.code, Code::VendorError, "{name} {what}: {e:?}");
    assert!(
        e.message.starts_with(&format!(
            "{name} answered with a redirect to another address; Onramp does not follow redirects with your credentials."
        )),
        "{name} {what}: {}",
        e.message
    );
    assert!(e.hint.is_some(), "{name} {what}: no hint");
}

#[tokio::test]
async fn a_redirecting_token_endpoint_is_not_followed_and_the_grant_survives() {
    let w = World::new().await;
    let onramp = w.open().await;
    let ada = customer(&onramp, "Ada").await;
    for (provider, vendor, name) in VENDORS {
        let id = sign_in(&onramp, &ada, provider).await;
        // 302 would turn the POST into a GET; 307 and 308 would carry the form (client secret,
        // refresh token) to the new address.
        for status in [302, 307, 308] {
            let asked = w.sandbox.token_requests(vendor);
            w.sandbox
                .set_redirects(vendor, RedirectAt::TokenEndpoint, status, 1);
            let e = onramp.refresh_connection(&id).await.unwrap_err();
            assert_refused(&e, name, &format!("token endpoint {status}"));
            assert_eq!(
                w.sandbox.token_requests(vendor),
                asked + 1,
                "{name} {status}: asked once, never again elsewhere"
            );
            assert_eq!(
                w.sandbox.elsewhere_requests(),
                0,
                "{name} {status}: the redirect target received nothing"
            );
            let conn = onramp.check_connection(&id).await.unwrap();
            assert_eq!(conn.state, ConnectionState::Active, "{name} {status}");
        }
        // The vendor is well again: the same grant refreshes.
        onramp.refresh_connection(&id).await.unwrap();
    }
    onramp.close().await;
}

#[tokio::test]
async fn a_redirecting_data_api_is_not_followed() {
    let w = World::new().await;
    let onramp = w.open().await;
    let ada = customer(&onramp, "Ada").await;
    for (provider, vendor, name) in VENDORS {
        let id = sign_in(&onramp, &ada, provider).await;
        for status in [301, 302, 307] {
            let asked = w.sandbox.api_requests(vendor);
            w.sandbox
                .set_redirects(vendor, RedirectAt::DataApi, status, 1);
            let e = onramp.check_connection(&id).await.unwrap_err();
            assert_refused(&e, name, &format!("data API {status}"));
            assert!(w.sandbox.api_requests(vendor) > asked, "{name}: asked");
            assert_eq!(
                w.sandbox.elsewhere_requests(),
                0,
                "{name} {status}: the redirect target received nothing"
            );
        }
        let conn = onramp.check_connection(&id).await.unwrap();
        assert_eq!(conn.state, ConnectionState::Active, "{name}");
    }
    onramp.close().await;
}
