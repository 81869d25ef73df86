//! Pending authorizations: PKCE + state, single use across processes, expiry, and refusal of
//! forged, replayed, late or misdirected callbacks, with a real SQLite file and the real keyring.

use onramp_core::auth::callback::{parse_url, DEEP_LINK};
use onramp_core::auth::{Authorizations, BeginRequest, DEFAULT_TTL};
use onramp_core::model::ProviderId;
use onramp_core::store::Store;
use onramp_core::vault::Vault;
use onramp_core::Code;
use time::OffsetDateTime;

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
    vault: Vault,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("onramp.sqlite");
    let store = Store::open(&path).await.unwrap();
    let vault = Vault::new(store.store_id());
    assert!(vault.unlock(&store).await.available, "the data key is held");
    Fixture {
        _dir: dir,
        path,
        store,
        vault,
    }
}

fn request(provider: ProviderId) -> BeginRequest<'static> {
    BeginRequest {
        provider,
        customer_id: "cust-1",
        connection_id: None,
        redirect_uri: DEEP_LINK,
        ttl: DEFAULT_TTL,
        details: None,
    }
}

fn callback(params: &str) -> onramp_core::auth::callback::Callback {
    parse_url(&format!("{DEEP_LINK}?{params}")).unwrap()
}

#[tokio::test]
async fn the_first_valid_callback_completes_and_any_replay_is_refused() {
    let f = fixture().await;
    let auth = Authorizations::new(&f.store, &f.vault);
    let now = OffsetDateTime::now_utc();
    let begun = auth
        .begin(&request(ProviderId::Solaredge), now)
        .await
        .unwrap();

    let cb = callback(&format!(
        "code=the-code&state={}&site_id=4012345",
        begun.state.expose()
    ));
    let done = auth
        .complete(&cb, Some(ProviderId::Solaredge), now)
        .await
        .unwrap();
    assert_eq!(done.code.as_ref().map(|c| c.expose()), Some("the-code"));
    assert_eq!(done.redirect_uri, DEEP_LINK);
    assert_eq!(done.customer_id, "cust-1");
    assert_eq!(
        done.extra.get("site_id").map(String::as_str),
        Some("4012345")
    );
    // The verifier kept in the keyring is the one the challenge was made from.
    let v = oauth2::PkceCodeVerifier::new(done.verifier.expose().clone());
    assert_eq!(
        oauth2::PkceCodeChallenge::from_code_verifier_sha256(&v).as_str(),
        begun.challenge
    );

    let again = auth
        .complete(&cb, Some(ProviderId::Solaredge), now)
        .await
        .unwrap_err();
    assert_eq!(again.code, Code::Validation);
    assert!(again.message.contains("already used"), "{}", again.message);
}

#[tokio::test]
async fn forged_missing_late_and_misdirected_callbacks_are_refused() {
    let f = fixture().await;
    let auth = Authorizations::new(&f.store, &f.vault);
    let now = OffsetDateTime::now_utc();

    let forged = auth
        .complete(&callback("code=c&state=forged"), None, now)
        .await
        .unwrap_err();
    assert!(
        forged.message.contains("does not match"),
        "{}",
        forged.message
    );
    let stateless = auth
        .complete(&callback("code=c"), None, now)
        .await
        .unwrap_err();
    assert!(
        stateless.message.contains("no state"),
        "{}",
        stateless.message
    );

    let late = auth
        .begin(&request(ProviderId::Solaredge), now)
        .await
        .unwrap();
    let e = auth
        .complete(
            &callback(&format!("code=c&state={}", late.state.expose())),
            None,
            now + time::Duration::minutes(11),
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("expired"), "{}", e.message);

    let other = auth.begin(&request(ProviderId::Solis), now).await.unwrap();
    let e = auth
        .complete(
            &callback(&format!("code=c&state={}", other.state.expose())),
            Some(ProviderId::Solaredge),
            now,
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("is for Solis"), "{}", e.message);
}

#[tokio::test]
async fn an_answer_without_a_code_is_refused_unless_the_vendor_answers_so() {
    let f = fixture().await;
    let auth = Authorizations::new(&f.store, &f.vault);
    let now = OffsetDateTime::now_utc();
    // Tesla always sends a code: a state-only answer is refused, and nothing is sent.
    let begun = auth.begin(&request(ProviderId::Tesla), now).await.unwrap();
    let cb = callback(&format!("state={}", begun.state.expose()));
    let Err(e) = auth.complete(&cb, Some(ProviderId::Tesla), now).await else {
        panic!("a codeless Tesla answer is refused");
    };
    assert_eq!(e.code, Code::Validation, "{e:?}");
    // Derapi Join answers with its state and an enrollmentID only.
    let begun = auth.begin(&request(ProviderId::Derapi), now).await.unwrap();
    let cb = callback(&format!(
        "state={}&enrollmentID=enr-7",
        begun.state.expose()
    ));
    let done = auth
        .complete(&cb, Some(ProviderId::Derapi), now)
        .await
        .unwrap();
    assert!(done.code.is_none());
    assert_eq!(done.extra["enrollmentID"], "enr-7");
}

#[tokio::test]
async fn a_decline_reads_as_the_customer_declining() {
    let f = fixture().await;
    let auth = Authorizations::new(&f.store, &f.vault);
    let now = OffsetDateTime::now_utc();
    let begun = auth
        .begin(&request(ProviderId::Solaredge), now)
        .await
        .unwrap();
    let e = auth
        .complete(
            &callback(&format!(
                "error=access_denied&state={}",
                begun.state.expose()
            )),
            None,
            now,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Declined);
    assert!(
        e.message.starts_with("The customer declined"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn two_processes_racing_with_the_same_callback_complete_it_once() {
    let f = fixture().await;
    let now = OffsetDateTime::now_utc();
    let begun = Authorizations::new(&f.store, &f.vault)
        .begin(&request(ProviderId::Solaredge), now)
        .await
        .unwrap();
    // A second store on the same file stands for the second app process single-instance hands off to.
    let second = Store::open(&f.path).await.unwrap();
    let cb = callback(&format!("code=c&state={}", begun.state.expose()));
    let a = Authorizations::new(&f.store, &f.vault);
    let b = Authorizations::new(&second, &f.vault);
    let (x, y) = tokio::join!(a.complete(&cb, None, now), b.complete(&cb, None, now));
    assert_eq!([x.is_ok(), y.is_ok()].iter().filter(|ok| **ok).count(), 1);
}

#[tokio::test]
async fn the_database_never_holds_a_live_state_or_verifier() {
    let f = fixture().await;
    let auth = Authorizations::new(&f.store, &f.vault);
    let begun = auth
        .begin(&request(ProviderId::Solaredge), OffsetDateTime::now_utc())
        .await
        .unwrap();
    f.store.close().await;
    let mut bytes = Vec::new();
    for e in std::fs::read_dir(f.path.parent().unwrap()).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            bytes.extend(std::fs::read(p).unwrap());
        }
    }
    assert!(!bytes
        .windows(begun.state.expose().len())
        .any(|w| w == begun.state.expose().as_bytes()));
}
