//! The keyring goes away or gets locked while Onramp runs, and comes back: Onramp says so
//! plainly (status, errors with a hint), refreshes nothing it could not store, writes no
//! half-connection, marks nothing broken, and works again once the keyring is back.
//!
//! Each test owns a private session bus with no service activation and a gnome-keyring-daemon
//! it starts, kills and restarts (locked or unlocked) itself, so nothing here touches the
//! keyring the other tests use. Its own test binary: the in-process test points this process's
//! session bus at the private one.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use onramp_core::model::VaultState;
use onramp_core::model::{ConnectionState, ProviderId};
use onramp_core::service::Sweep;
use onramp_core::Code;
use onramp_sandbox::OAuthVendor;

const PASSWORD: &str = "onramp-trouble";

/// A session bus of its own and a keyring daemon on it.
///
/// While the keyring is meant to be up, the bus can start a replacement, unlocked, if the
/// daemon dies by itself (gnome-keyring 42 aborts now and then when a client leaves right after
/// a call); while it is meant to be gone or locked, it cannot.
struct PrivateKeyring {
    dir: tempfile::TempDir,
    bus: Child,
    address: String,
    daemon: Option<Child>,
}

impl PrivateKeyring {
    fn new() -> PrivateKeyring {
        let dir = tempfile::tempdir().unwrap();
        for d in ["home/.local/share/keyrings", "run", "services"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("run"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let script = dir.path().join("keyring-daemon");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf {PASSWORD} | exec gnome-keyring-daemon --foreground --unlock --components=secrets\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let conf = dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={d}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{d}/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                d = dir.path().display()
            ),
        )
        .unwrap();
        let d = dir.path();
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address=1"])
            // What a daemon the bus starts sees: the private keyring folders.
            .env("HOME", d.join("home"))
            .env("XDG_DATA_HOME", d.join("home/.local/share"))
            .env("XDG_RUNTIME_DIR", d.join("run"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon runs");
        let mut line = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "bus address: {address:?}");
        PrivateKeyring {
            dir,
            bus,
            address,
            daemon: None,
        }
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        let d = self.dir.path();
        vec![
            ("HOME", d.join("home")),
            ("XDG_DATA_HOME", d.join("home/.local/share")),
            ("XDG_RUNTIME_DIR", d.join("run")),
        ]
    }

    /// Lets the bus start an unlocked replacement (or not), effective at once.
    fn allow_replacement(&self, allow: bool) {
        let file = self
            .dir
            .path()
            .join("services/org.freedesktop.secrets.service");
        if allow {
            std::fs::write(
                &file,
                format!(
                    "[D-BUS Service]\nName=org.freedesktop.secrets\nExec={}\n",
                    self.dir.path().join("keyring-daemon").display()
                ),
            )
            .unwrap();
        } else {
            let _ = std::fs::remove_file(&file);
        }
        self.bus_call(&["org.freedesktop.DBus.ReloadConfig"]);
    }

    fn bus_call(&self, args: &[&str]) -> String {
        let out = Command::new("dbus-send")
            .args([
                &format!("--bus={}", self.address),
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
            ])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the daemon; `unlock` types the password as a login would, otherwise the keyring
    /// it finds on disk stays locked.
    fn start(&mut self, unlock: bool) {
        assert!(self.daemon.is_none());
        let mut cmd = Command::new("gnome-keyring-daemon");
        cmd.args(["--foreground", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .envs(self.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if unlock {
            cmd.arg("--unlock");
        }
        let mut child = cmd.spawn().expect("gnome-keyring-daemon runs");
        let mut stdin = child.stdin.take().unwrap();
        if unlock {
            stdin.write_all(PASSWORD.as_bytes()).unwrap();
        }
        drop(stdin);
        self.daemon = Some(child);
        self.wait_for_name(true);
        self.allow_replacement(unlock);
    }

    /// Kills the keyring (as a crash or a logout would), and whatever replaced it.
    fn kill(&mut self) {
        self.allow_replacement(false);
        let owner = self.bus_call(&[
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            "string:org.freedesktop.secrets",
        ]);
        if let Some(pid) = owner
            .split_whitespace()
            .last()
            .and_then(|p| p.parse::<u32>().ok())
        {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.wait_for_name(false);
    }

    fn running(&self) -> bool {
        self.daemon.is_some()
    }

    fn wait_for_name(&self, owned: bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.bus_call(&[
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ]);
            if text.contains(if owned {
                "boolean true"
            } else {
                "boolean false"
            }) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the keyring daemon did not {} the bus: {text}",
                if owned { "join" } else { "leave" }
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// Mid-run: the keyring dies, then comes back locked, then unlocked. An Onramp that already
/// holds the data folder's key goes on (refreshes and sign-ins need no keyring call); one that
/// starts meanwhile cannot open its secure storage, says so, writes nothing, asks no vendor,
/// and recovers when the keyring is back. A keyring reset (the key gone) is its own state.
#[tokio::test(flavor = "multi_thread")]
async fn the_keyring_lost_mid_run_pauses_refreshes_and_recovers() {
    let mut keyring = PrivateKeyring::new();
    keyring.start(true);
    // This binary's keyring calls go to the private bus (libdbus reads it on every connect).
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &keyring.address);

    let w = World::new().await;
    let onramp = w.open().await;
    assert!(
        onramp.status().vault.available,
        "{:?}",
        onramp.status().vault
    );
    let ada = customer(&onramp, "Ada").await;
    let tesla = try_sign_in(&onramp, &ada, ProviderId::Tesla).await.unwrap();

    // Gone: the running Onramp holds its key and carries on.
    keyring.kill();
    let report = onramp.refresh_sweep(Sweep::All).await.unwrap();
    assert_eq!(report.refreshed, vec![tesla.clone()], "{report:?}");
    try_sign_in(&onramp, &ada, ProviderId::Enphase)
        .await
        .unwrap();
    assert!(onramp.recheck_vault().await.available);
    assert_eq!(row_count(&onramp, "connections").await, 2);
    onramp.close().await;
    drop(onramp);

    // A new start while it is gone: unavailable, with what to do; nothing written, no vendor asked.
    let before = w.sandbox.token_requests(OAuthVendor::Tesla);
    let second = w.open().await;
    let vault = second.status().vault;
    assert!(!vault.available);
    assert_eq!(vault.state, VaultState::Unavailable, "{vault:?}");
    assert!(vault.hint.unwrap().contains("keyring"));
    let e = second.refresh_sweep(Sweep::All).await.unwrap_err();
    assert_eq!(e.code, Code::KeychainUnavailable, "{e:?}");
    let e = try_sign_in(&second, &ada, ProviderId::Sma)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::KeychainUnavailable, "{e:?}");
    assert_eq!(row_count(&second, "connections").await, 2);
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Tesla), before);
    let detail = second.customer(&ada).await.unwrap();
    assert!(
        detail
            .connections
            .iter()
            .all(|c| c.state == ConnectionState::Active),
        "a keyring outage is not the connections' fault"
    );

    // Back, but locked (nobody to answer the unlock prompt): still a clear state, not a hang.
    keyring.start(false);
    let asked = Instant::now();
    assert!(!second.recheck_vault().await.available);
    assert!(
        asked.elapsed() < Duration::from_secs(30),
        "took {:?}",
        asked.elapsed()
    );
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Tesla), before);

    // Unlocked: the next check takes hold of the key, and the same grants refresh.
    keyring.kill();
    keyring.start(true);
    let vault = second.recheck_vault().await;
    assert!(vault.available, "{vault:?}");
    let report = second.refresh_sweep(Sweep::All).await.unwrap();
    assert_eq!(report.refreshed.len(), 2, "{report:?}");
    second.close().await;
    drop(second);

    // Reset: the keyring forgot everything. The key is missing: its own state, the health
    // board does not say all is well, nothing is sent or written.
    let out = Command::new("secret-tool")
        .args(["clear", "service", "onramp"])
        .env("DBUS_SESSION_BUS_ADDRESS", &keyring.address)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = w.sandbox.token_requests(OAuthVendor::Tesla);
    let third = w.open().await;
    let vault = third.status().vault;
    assert_eq!(vault.state, VaultState::KeyMissing, "{vault:?}");
    assert!(
        vault.hint.as_deref().unwrap().contains("backup"),
        "{vault:?}"
    );
    let e = third.health().await.unwrap_err();
    assert_eq!(e.code, Code::KeychainUnavailable);
    let e = third.refresh_connection(&tesla).await.unwrap_err();
    assert_eq!(e.code, Code::KeychainUnavailable);
    assert_eq!(w.sandbox.token_requests(OAuthVendor::Tesla), before);
    assert!(!third.recheck_vault().await.available, "still missing");
    third.close().await;
}

fn onramp_bin() -> PathBuf {
    let mut p = std::env::current_exe().unwrap();
    p.pop();
    p.pop();
    p.push("onramp");
    assert!(p.exists(), "build the CLI first: {}", p.display());
    p
}

/// At start-up, from the terminal: each run of `onramp` meets the keyring as it is now.
#[tokio::test(flavor = "multi_thread")]
async fn the_terminal_says_when_the_keyring_is_gone_or_locked_and_recovers() {
    let mut keyring = PrivateKeyring::new();
    keyring.start(true);
    let sb = onramp_sandbox::Sandbox::start(Default::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = onramp_core::config::Config {
        environment: onramp_core::model::Environment::Production,
        ..Default::default()
    };
    onramp_launch::wire(&sb, &mut config);
    let config_file = dir.path().join("onramp.toml");
    std::fs::write(&config_file, toml::to_string(&config).unwrap()).unwrap();
    let browser = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/customer_browser.py");
    let bus = keyring.address.clone();
    let run = |args: &[&str], stdin: &str| -> Output {
        let mut child = Command::new(onramp_bin())
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--config")
            .arg(&config_file)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .env("BROWSER", &browser)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let ok = |out: Output| -> String {
        assert!(
            out.status.success(),
            "onramp failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json = |s: String| -> serde_json::Value { serde_json::from_str(&s).unwrap() };

    let app = sb.oauth_client(OAuthVendor::Sma);
    ok(run(
        &["app", "set", "sma", "--client-id", &app.client_id],
        &format!("{}\n", app.client_secret),
    ));
    let id = ok(run(&["customer", "add", "--name", "Ada"], ""))
        .trim()
        .to_string();
    let conn = json(ok(run(
        &[
            "connect",
            "sma",
            "--customer",
            &id,
            "--timeout",
            "60",
            "--json",
        ],
        "",
    )));
    let before = sb.token_requests(OAuthVendor::Sma);
    let list_before = ok(run(&["list", "--json"], ""));

    for locked in [false, true] {
        if keyring.running() {
            keyring.kill();
        }
        if locked {
            keyring.start(false);
        }
        let status = json(ok(run(&["status", "--json"], "")));
        assert_eq!(status["vault"]["available"], false, "{status}");
        let text = ok(run(&["status"], ""));
        assert!(text.contains("secure storage: UNAVAILABLE"), "{text}");

        let out = run(&["refresh", "--all"], "");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Secure storage is unavailable"), "{err}");
        assert!(err.contains("hint:") && err.contains("keyring"), "{err}");
        assert_eq!(
            sb.token_requests(OAuthVendor::Sma),
            before,
            "no token was asked for"
        );

        let out = run(
            &["connect", "sma", "--customer", &id, "--timeout", "60"],
            "",
        );
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Secure storage"), "{err}");
        assert_eq!(
            ok(run(&["list", "--json"], "")),
            list_before,
            "nothing half-written, nothing marked broken"
        );
    }

    keyring.kill();
    keyring.start(true);
    let status = json(ok(run(&["status", "--json"], "")));
    assert_eq!(status["vault"]["available"], true, "{status}");
    let all = json(ok(run(&["refresh", "--all", "--json"], "")));
    assert_eq!(all["refreshed"], serde_json::json!([conn["id"]]), "{all}");
    let checked = json(ok(run(
        &["check", conn["id"].as_str().unwrap(), "--json"],
        "",
    )));
    assert_eq!(checked["state"], "active", "{checked}");
}
