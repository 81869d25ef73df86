//! A sign-in from begin to outcome in core, as the desktop shell and the CLI now run it: begin
//! (URL and id), the waiter for a loopback answer, the status the UI polls, cancellation, a deep
//! link delivered on its own, and a paste that is not the answer leaving the sign-in waiting.
//! Against the sandbox, with a real SQLite file and the real keyring.

mod common;

use common::*;
use onramp_core::model::{ProviderId, RedirectMode, SignInStatus};
use onramp_core::service::{PasteOutcome, SignInRequest};
use onramp_core::Code;

#[tokio::test]
async fn a_loopback_sign_in_is_waited_for_and_its_outcome_kept_for_the_ui() {
    let w = World::new().await;
    let onramp = std::sync::Arc::new(w.open().await);
    let c = customer(&onramp, "Ada").await;
    let req = SignInRequest::new(&c, ProviderId::Tesla, RedirectMode::Loopback);
    let (start, waiter) = onramp.start_sign_in(&req).await.unwrap();
    let waiter = waiter.expect("a loopback sign-in has a waiter");
    assert_eq!(waiter.id(), start.state);
    assert!(matches!(
        onramp.sign_in_status(&start.state).unwrap(),
        SignInStatus::Waiting
    ));
    let o = onramp.clone();
    let waiting = tokio::spawn(async move { o.wait_sign_in(waiter).await });
    // The customer consents; the browser follows the vendor's redirect to the loopback.
    let back = consent(&start.authorize_url).await;
    assert!(back.starts_with("http://127.0.0.1:"), "{back}");
    reqwest::get(&back).await.unwrap();
    let conn = waiting.await.unwrap().unwrap();
    match onramp.sign_in_status(&start.state).unwrap() {
        SignInStatus::Connected { connection } => assert_eq!(connection.id, conn.id),
        other => panic!("connected, not {other:?}"),
    }
}

#[tokio::test]
async fn a_cancelled_sign_in_stops_waiting_and_is_forgotten() {
    let w = World::new().await;
    let onramp = std::sync::Arc::new(w.open().await);
    let c = customer(&onramp, "Ben").await;
    let req = SignInRequest::new(&c, ProviderId::Sma, RedirectMode::Loopback);
    let (start, waiter) = onramp.start_sign_in(&req).await.unwrap();
    let o = onramp.clone();
    let waiting = tokio::spawn(async move { o.wait_sign_in(waiter.unwrap()).await });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    onramp.cancel_sign_in(&start.state);
    let e = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
        .await
        .expect("the waiter ends at once")
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, Code::Declined, "{e:?}");
    assert_eq!(row_count(&onramp, "connections").await, 0);
}

#[tokio::test]
async fn a_deep_link_completes_its_sign_in_and_a_stray_paste_leaves_one_waiting() {
    let w = World::new().await;
    let onramp = w.open().await;
    let c = customer(&onramp, "Cy").await;
    let req = SignInRequest::new(&c, ProviderId::Tesla, RedirectMode::DeepLink);
    let (start, waiter) = onramp.start_sign_in(&req).await.unwrap();
    assert!(waiter.is_none(), "a deep link comes back on its own");
    let back = consent(&start.authorize_url).await;
    onramp.deliver_callback(&back).await.unwrap();
    assert!(matches!(
        onramp.sign_in_status(&start.state).unwrap(),
        SignInStatus::Connected { .. }
    ));
    // A replayed deep link is refused and changes nothing.
    assert!(onramp.deliver_callback(&back).await.is_err());
    assert_eq!(row_count(&onramp, "connections").await, 1);

    // Enphase's paste: a paste that is not the answer keeps the sign-in waiting.
    let req = SignInRequest::new(&c, ProviderId::Enphase, RedirectMode::Paste);
    let (start, _) = onramp.start_sign_in(&req).await.unwrap();
    match onramp.paste_sign_in(&start.state, "   ").await {
        PasteOutcome::Unreadable(_) => {}
        other => panic!("an empty paste is no answer: {other:?}"),
    }
    assert!(matches!(
        onramp.sign_in_status(&start.state).unwrap(),
        SignInStatus::Waiting
    ));
}
