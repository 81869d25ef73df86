//! Crash safety: `onramp refresh --all` is killed (SIGKILL) at random moments, over and over,
//! while it refreshes signed-in connections against the sandbox's rotating refresh tokens; every
//! connection must still refresh afterwards and none may need the customer again.
//!
//! The one window no client can close alone is a kill after the vendor rotated the token and
//! before the keyring holds the new one. The sandbox models what rotating vendors offer for it:
//! a used refresh token may be presented again until the answer it got is used (its refresh
//! token presented, or its access token used); after that it is a replay and revokes the grant.
//! Onramp's part: the new refresh token reaches the keyring before the new access token (so an
//! access token in use always has its refresh token stored), and a token is never presented
//! twice on purpose (single flight). The checks between rounds use the stored access token,
//! which is what would expose the wrong order.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use onramp_core::model::ProviderId;
use onramp_core::service::Redirect;
use onramp_core::vault::Sensitive;
use onramp_sandbox::OAuthVendor;

fn bin() -> PathBuf {
    let mut p = std::env::current_exe().unwrap();
    p.pop();
    p.pop();
    p.push("onramp");
    assert!(p.exists(), "build the CLI first: {}", p.display());
    p
}

fn refresh_all(data: &Path, config: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .args(["refresh", "--all", "--json"])
        .env("ONRAMP_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    c
}

/// The process that owns the Secret Service name on the session bus.
fn secret_service_pid() -> Option<u32> {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            "string:org.freedesktop.secrets",
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

/// Fails the test as an environment fault when the keyring daemon was replaced mid-run.
fn keyring_still(original: Option<u32>, when: &str) {
    let now = secret_service_pid();
    if now != original {
        panic!(
            "ENVIRONMENT: the Secret Service daemon was replaced {when} (pid {original:?} -> {now:?}); \
             gnome-keyring-daemon died under SIGKILLed clients, so this run says nothing about Onramp"
        );
    }
}

/// Waits for a command, killing it after `limit` (a locked keyring's prompt never answers here).
fn output_within(mut c: Command, limit: Duration) -> std::process::Output {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > limit {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A small deterministic generator (the seed is printed, so a failure can be replayed).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Runs on its own (`make crash-test`, part of `make test`) in a keyring session of its own:
/// gnome-keyring-daemon itself sometimes dies when a client is SIGKILLed in the middle of a
/// Secret Service call, and its D-Bus-activated replacement starts locked. That would take the
/// other tests' keyring down with it, so they never share a session with this one; and when it
/// happens the test says so (`ENVIRONMENT:`) rather than blaming Onramp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by `make crash-test` in a keyring session of its own"]
async fn killed_at_random_moments_mid_refresh_no_connection_is_lost() {
    let keyring = secret_service_pid();
    assert!(keyring.is_some(), "no Secret Service in this session");
    let rounds: u32 = std::env::var("ONRAMP_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let w = World::new().await;
    let config = w.config();
    let config_file = w.dir.path().join("onramp.toml");
    std::fs::write(&config_file, toml::to_string(&config).unwrap()).unwrap();

    // Three customers signed in at Tesla (single-use refresh tokens), the company's app saved
    // for the CLI processes.
    let onramp = w.open_with(config).await;
    let app = w.sandbox.oauth_client(OAuthVendor::Tesla);
    onramp
        .save_oauth_app(
            ProviderId::Tesla,
            &app.client_id,
            Sensitive::new(app.client_secret.clone()),
            None,
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for name in ["Ada", "Ben", "Carla"] {
        let c = customer(&onramp, name).await;
        let start = onramp
            .begin_oauth(&c, ProviderId::Tesla, Redirect::DeepLink)
            .await
            .unwrap();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let resp = client.get(&start.authorize_url).send().await.unwrap();
        let back = resp.headers()["location"].to_str().unwrap().to_string();
        ids.push(onramp.complete_oauth(&back, None).await.unwrap().id);
    }
    onramp.close().await;

    // How long a run takes to reach its first token request, and then to finish: the kills
    // land anywhere in the refresh part (opening the store and the keyring comes before it).
    let before = w.sandbox.token_requests(OAuthVendor::Tesla);
    let t = Instant::now();
    let mut child = refresh_all(w.dir.path(), &config_file).spawn().unwrap();
    while w.sandbox.token_requests(OAuthVendor::Tesla) == before {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let startup = t.elapsed();
    assert!(child.wait().unwrap().success());
    let run = t.elapsed() - startup;

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("kill test: seed {seed}, {rounds} rounds; a run opens in {startup:?} and refreshes in {run:?}");
    let mut rng = Lcg(seed);
    let (mut killed_mid_refresh, mut finished) = (0, 0);
    for round in 0..rounds {
        // Now and then the installer checks a connection: it uses the access token the keyring
        // holds, which tells the vendor that answer arrived. Had Onramp stored a new access
        // token before its refresh token, the next refresh would present a replayed one.
        if round % 4 == 3 {
            let id = &ids[round as usize % ids.len()];
            let mut check = Command::new(bin());
            check
                .arg("--data-dir")
                .arg(w.dir.path())
                .arg("--config")
                .arg(&config_file)
                .args(["check", id])
                .env("ONRAMP_LOG", "error")
                .stdin(Stdio::null());
            let out = output_within(check, Duration::from_secs(60));
            if !out.status.success() {
                keyring_still(keyring, &format!("before round {round}"));
            }
            assert!(
                out.status.success(),
                "check after round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let before = w.sandbox.token_requests(OAuthVendor::Tesla);
        let mut child = refresh_all(w.dir.path(), &config_file).spawn().unwrap();
        // Until the first token request (or the end of a run that had nothing to do)...
        let started = Instant::now();
        while w.sandbox.token_requests(OAuthVendor::Tesla) == before
            && child.try_wait().unwrap().is_none()
            && started.elapsed() < startup * 4
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // ...then anywhere in the refreshes, a little past their usual end included.
        let wait = Duration::from_micros(rng.below(run.as_micros() as u64 * 11 / 10 + 1));
        tokio::time::sleep(wait).await;
        let done = child.try_wait().unwrap().is_some();
        if done {
            finished += 1;
        } else {
            child.kill().unwrap(); // SIGKILL: no destructor, no flush
        }
        child.wait().unwrap();
        if !done && w.sandbox.token_requests(OAuthVendor::Tesla) > before {
            killed_mid_refresh += 1;
        }
    }
    eprintln!("kill test: {killed_mid_refresh} kills after a token request, {finished} runs finished first");
    keyring_still(keyring, "during the kills");
    // Afterwards every connection refreshes, and works.
    let out = output_within(
        refresh_all(w.dir.path(), &config_file),
        Duration::from_secs(60),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(out.status.success(), "{report}");
    assert_eq!(
        report["refreshed"].as_array().unwrap().len(),
        ids.len(),
        "{report}"
    );
    let onramp = w.open().await;
    for id in &ids {
        let conn = onramp.check_connection(id).await.unwrap();
        assert_eq!(
            conn.state,
            onramp_core::model::ConnectionState::Active,
            "{id}"
        );
    }
    onramp.close().await;
    assert!(
        killed_mid_refresh >= rounds / 2,
        "too few kills landed in a refresh ({killed_mid_refresh} of {rounds}): the test proves little"
    );
}
