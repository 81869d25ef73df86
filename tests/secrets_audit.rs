//! The secrets audit: every flow Onramp has, run against the sandbox with the real keyring and
//! SQLite and every log line captured at the most verbose level; then every secret the sandbox
//! issued or accepts (codes, access and refresh tokens, client secrets, API keys, partner and
//! demo keys, every PKCE verifier presented), every OAuth `state`, a wrong key the installer
//! typed and the backup's passphrase are looked for, in every form ([`audit`]: raw, base64 and
//! base64url at each alignment, URL-encoded, hex, split by a JSON escape), in the database
//! files (db, WAL, journal), the logs, the events, the exports and the hand-off and backup
//! files written to disk, everything the UI is sent (answers and the keep-alive's events) and
//! every error shown. Zero hits. (The argv and environment of the browser Onramp starts are
//! audited in the real window's e2e.) The keyring itself holds none of them either: they are
//! sealed in the store under the data folder's key.
//!
//! Its own test binary: it installs the process's log subscriber.

mod audit;
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use onramp_core::auth::loopback::Loopback;
use onramp_core::model::*;
use onramp_core::service::{ExportFormat, Redirect, Sweep};
use onramp_core::vault::Sensitive;
use onramp_core::Error;
use onramp_sandbox::browser::submit_form;
use onramp_sandbox::{Faults, OAuthVendor};

/// Log lines, as written.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The customer at the vendor: consents on a page that redirects at once, or presses the button
/// on a hosted page (Pelm Connect, Derapi Join). Where the browser is sent back.
async fn consent(authorize_url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(authorize_url).send().await.unwrap();
    if resp.status().is_redirection() {
        return resp.headers()["location"].to_str().unwrap().to_string();
    }
    submit_form(authorize_url, "allow", &[]).await.unwrap()
}

fn options(utility: Option<&str>, vendor: Option<&str>) -> SignInOptions {
    SignInOptions {
        utility: utility.map(str::to_string),
        scope: None,
        vendor: vendor.map(str::to_string),
    }
}

/// Everything the app hands the UI, as the UI receives it (JSON).
struct Seen(Vec<(String, String)>);

impl Seen {
    fn add(&mut self, what: &str, value: &impl serde::Serialize) {
        self.0
            .push((what.to_string(), serde_json::to_string(value).unwrap()));
    }
    fn error(&mut self, what: &str, e: &Error) {
        self.add(what, &e.info());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_leaves_the_keyring() {
    let logs = Capture::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();

    let w = World::new().await;
    let mut onramp = w.open().await;
    onramp.set_http_timeout(Duration::from_secs(2)).unwrap();
    let sb = &w.sandbox;
    let demo = sb.demo().clone();
    let mut seen = Seen(Vec::new());
    let wrong_key = "WRONGKEY7Q2X9V4B8N1M6C3Z5L0K2J4H".to_string();

    // The installer's own setup: a vendor app, installer accounts.
    let sma_app = sb.oauth_client(OAuthVendor::Sma);
    let app = onramp
        .save_vendor_app(VendorAppInput {
            provider: ProviderId::Sma,
            client_id: sma_app.client_id.clone(),
            client_secret: sma_app.client_secret.clone(),
            api_key: None,
        })
        .await
        .unwrap();
    seen.add("save_vendor_app", &app);
    let acct = onramp
        .save_installer_account(solaredge_key(&demo.solaredge_account_key))
        .await
        .unwrap();
    seen.add("save_installer_account", &acct);
    let partner = sb.enphase_partner();
    let acct = onramp
        .save_installer_account(enphase_partner_input(&partner, &partner.password))
        .await
        .unwrap();
    seen.add("save_installer_account", &acct);
    let e = onramp
        .save_installer_account(solaredge_key(&wrong_key))
        .await
        .unwrap_err();
    seen.error("wrong installer key", &e);

    // Keys typed at the customer's site, right and wrong.
    let ada = customer(&onramp, "Ada Garcia").await;
    let solis = &demo.solis_customer_keys[0];
    let solis_conn = onramp
        .connect_customer_key(&ada, solis_key(&solis.key_id, &solis.key_secret))
        .await
        .unwrap();
    seen.add("connect_customer_key", &solis_conn);
    // SolarEdge V2 has no customer key: refused before anything is sent.
    let e = onramp
        .connect_customer_key(&ada, solaredge_key(&wrong_key))
        .await
        .unwrap_err();
    seen.error("SolarEdge customer key", &e);
    let e = onramp
        .connect_customer_key(&ada, solis_key(&solis.key_id, &wrong_key))
        .await
        .unwrap_err();
    seen.error("wrong Solis secret", &e);

    // Installer-account sites.
    let ben = customer(&onramp, "Ben Okafor").await;
    for provider in [ProviderId::Solaredge, ProviderId::Enphase] {
        let found = onramp.search_account_sites(provider, "").await.unwrap();
        seen.add("search_account_sites", &found);
        let c = onramp
            .connect_account_sites(ConnectAccountSites {
                customer_id: ben.clone(),
                provider,
                site_ids: vec![found.sites[0].external_id.clone()],
            })
            .await
            .unwrap();
        seen.add("connect_account_sites", &c);
    }

    // Every sign-in: Tesla through the loopback listener, the rest through the deep link.
    let carla = customer(&onramp, "Carla Nguyen").await;
    let lb = Loopback::bind(0).await.unwrap();
    let start = onramp
        .begin_oauth(
            &carla,
            ProviderId::Tesla,
            Redirect::Loopback(lb.redirect_uri()),
        )
        .await
        .unwrap();
    seen.add("begin_sign_in", &start);
    let state = start.state.clone();
    let waiter = tokio::spawn(async move { lb.wait(&state, Duration::from_secs(30)).await });
    reqwest::get(&start.authorize_url).await.unwrap();
    let back = waiter.await.unwrap().unwrap();
    let tesla = onramp
        .complete_oauth(&back, Some(ProviderId::Tesla))
        .await
        .unwrap();
    seen.add("sign_in_status", &tesla);
    let mut signed_in = vec![tesla.id.clone()];
    let mut utilityapi = None;
    for (provider, opts) in [
        (ProviderId::Enphase, options(None, None)),
        (ProviderId::Sma, options(None, None)),
        (ProviderId::Metry, options(None, None)),
        (ProviderId::Utilityapi, options(Some("demo"), None)),
        (ProviderId::Pelm, options(None, None)),
        (ProviderId::Derapi, options(None, Some("enphasevpp"))),
    ] {
        let start = onramp
            .begin_sign_in(&carla, provider, Redirect::DeepLink, &opts)
            .await
            .unwrap();
        seen.add("begin_sign_in", &start);
        let back = consent(&start.authorize_url).await;
        let conn = onramp.complete_oauth(&back, Some(provider)).await.unwrap();
        seen.add("sign_in_status", &conn);
        if provider == ProviderId::Utilityapi {
            utilityapi = Some(conn.id.clone());
        }
        signed_in.push(conn.id);
    }
    // A forged callback and a declined sign-in.
    let start = onramp
        .begin_oauth(&carla, ProviderId::Enphase, Redirect::DeepLink)
        .await
        .unwrap();
    let forged = format!(
        "onramp://oauth/callback?code=code_forged&state={}x",
        start.state
    );
    let e = onramp
        .complete_oauth(&forged, Some(ProviderId::Enphase))
        .await
        .unwrap_err();
    seen.error("forged callback", &e);
    sb.set_decline(OAuthVendor::Sma, true);
    let start = onramp
        .begin_oauth(&carla, ProviderId::Sma, Redirect::DeepLink)
        .await
        .unwrap();
    let back = consent(&start.authorize_url).await;
    let e = onramp
        .complete_oauth(&back, Some(ProviderId::Sma))
        .await
        .unwrap_err();
    seen.error("declined", &e);
    sb.set_decline(OAuthVendor::Sma, false);

    // Keeping them alive: sweeps, checks, usage, faults, a revoked grant and re-authorization.
    let report = onramp.refresh_sweep(Sweep::All).await.unwrap();
    assert!(report.refreshed.len() >= 4, "{report:?}");
    seen.add("refresh", &report);
    for id in &signed_in {
        match onramp.check_connection(id).await {
            Ok(c) => seen.add("check_connection", &c),
            Err(e) => seen.error("check_connection", &e),
        }
    }
    let usage = onramp
        .fetch_usage(utilityapi.as_deref().unwrap())
        .await
        .unwrap();
    seen.add("fetch_usage", &usage);
    let file = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/core/tests/data/greenbutton/TestGBDataHourlyNineDaysBinnedDaily.xml"),
    )
    .unwrap();
    let imported = onramp
        .import_usage_bytes(&ada, "usage.xml", file)
        .await
        .unwrap();
    seen.add("import_usage_bytes", &imported);
    sb.set_api_faults(
        OAuthVendor::Enphase,
        Faults {
            fail_next_5xx: 1,
            ..Default::default()
        },
    );
    let e = onramp.check_connection(&signed_in[1]).await.unwrap_err();
    seen.error("vendor 5xx", &e);
    sb.set_token_latency(OAuthVendor::Sma, Duration::from_secs(3));
    let e = onramp.refresh_connection(&signed_in[2]).await.unwrap_err();
    seen.error("token timeout", &e);
    sb.set_token_latency(OAuthVendor::Sma, Duration::ZERO);
    sb.set_token_fault(OAuthVendor::Tesla, 400, 1);
    let e = onramp.refresh_connection(&tesla.id).await.unwrap_err();
    seen.error("revoked", &e);
    let start = onramp
        .begin_reauthorize(&tesla.id, Redirect::DeepLink)
        .await
        .unwrap();
    let back = consent(&start.authorize_url).await;
    let again = onramp
        .complete_oauth(&back, Some(ProviderId::Tesla))
        .await
        .unwrap();
    assert_eq!(again.id, tesla.id);
    seen.add("reauthorized", &again);
    // The keep-alive's news, as the window is sent them (`connections-changed` after a sweep
    // with a refused grant in it, `vault-changed`), built as the keep-alive builds them.
    sb.set_token_fault(OAuthVendor::Sma, 400, 1);
    let report = onramp.refresh_sweep(Sweep::All).await.unwrap();
    assert!(!report.needs_reauth.is_empty(), "{report:?}");
    seen.add(
        "event connections-changed",
        &ConnectionsChanged {
            summary: report.summary(),
            lost: report.lost.clone(),
            refused: report.refused.clone(),
        },
    );
    seen.add("event vault-changed", &onramp.status().vault);
    onramp.remove_connection(&solis_conn.id).await.unwrap();

    // What the UI shows.
    seen.add("app_status", &onramp.status());
    seen.add(
        "list_customers",
        &onramp.list_customers(None).await.unwrap(),
    );
    for id in [&ada, &ben, &carla] {
        seen.add("get_customer", &onramp.customer(id).await.unwrap());
    }
    seen.add("health", &onramp.health().await.unwrap());
    seen.add(
        "installer_accounts",
        &onramp.installer_accounts().await.unwrap(),
    );
    seen.add("vendor_apps", &onramp.vendor_apps().await.unwrap());
    seen.add("list_providers", &onramp.providers().await.unwrap());
    let events = onramp.events(None).await.unwrap();
    assert!(events.len() >= 15, "{}", events.len());
    seen.add("list_events", &events);
    let mut exports = Vec::new();
    for format in [ExportFormat::Csv, ExportFormat::Json] {
        exports.push(onramp.export_activity(None, format).await.unwrap());
        exports.push(onramp.export_activity(Some(&carla), format).await.unwrap());
    }
    // Files written to disk: the Activity export, the hand-off sheet, a backup.
    let downloads = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for format in [ExportFormat::Csv, ExportFormat::Json] {
        files.push(
            onramp
                .export_activity_to(&ActivityFilter::default(), format, downloads.path())
                .await
                .unwrap(),
        );
    }
    let hand_off = onramp.hand_off(&carla).await.unwrap();
    seen.add("hand_off", &hand_off);
    let passphrase = "correct horse battery staple 42".to_string();
    let backup = onramp
        .create_backup_in(downloads.path(), &Sensitive::new(passphrase.clone()))
        .await
        .unwrap();
    seen.add("create_backup", &backup);
    files.push(backup.path.clone().into());
    onramp.close().await;

    // The scan.
    let states = sb.sign_in_states();
    assert!(states.len() >= 8, "states seen: {}", states.len());
    let audit = audit::Audit::new(
        sb.issued_secrets()
            .into_iter()
            .chain(states.iter().cloned())
            .chain([wrong_key.clone(), passphrase.clone()]),
    );
    let secrets = audit.secrets().to_vec();
    let count = |p: &str| secrets.iter().filter(|s| s.starts_with(p)).count();
    assert!(count("code_") >= 6, "codes issued: {}", count("code_"));
    assert!(
        count("rt_") >= 10,
        "refresh tokens issued: {}",
        count("rt_")
    );
    assert!(count("eyJ") >= 2, "Tesla access tokens: {}", count("eyJ"));
    let verifiers = sb.pkce_verifiers().len();
    // Tesla (twice: a re-authorization), Enphase and SMA sign in with PKCE.
    assert!(verifiers >= 4, "PKCE verifiers presented: {verifiers}");
    for p in ["ct_", "pc_", "pa_", "dt_"] {
        assert!(count(p) >= 1, "no {p} token was issued");
    }
    let logs = logs.0.lock().unwrap().clone();
    if let Some(path) = std::env::var_os("ONRAMP_AUDIT_LOG") {
        // To read what was scanned.
        std::fs::write(path, &logs).unwrap();
    }
    let mut places: Vec<(String, Vec<u8>)> = vec![
        ("the store files".into(), store_bytes(w.dir.path())),
        ("the logs".into(), logs.clone()),
    ];
    for (i, e) in exports.iter().enumerate() {
        places.push((format!("export {i}"), e.clone().into_bytes()));
    }
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(!bytes.is_empty(), "{}", f.display());
        places.push((format!("the file {}", f.display()), bytes));
    }
    for (what, json) in &seen.0 {
        places.push((format!("the UI's {what}"), json.clone().into_bytes()));
    }
    // The scan can see: the places hold what they should.
    assert!(contains(&places[0].1, "Carla Nguyen"));
    let log_text = String::from_utf8_lossy(&logs);
    for expected in ["refresh sweep", "keyring", "sqlx::query", "hyper_util"] {
        assert!(
            log_text.contains(expected),
            "the logs are captured ({expected}): {} bytes",
            logs.len()
        );
    }
    // Exceptions, by protocol: Pelm's connect token (single use, 30 minutes) is part of the
    // hosted Connect address the customer's browser opens, and a `state` is part of every
    // authorize address; the sign-in's answer carries that address to the window that opens the
    // browser. Nowhere else.
    let by_protocol = |secret: &str, place: &str| {
        place == "the UI's begin_sign_in"
            && (secret.starts_with("ct_") || states.iter().any(|s| s == secret))
    };
    let mut leaks = Vec::new();
    for (place, bytes) in &places {
        leaks.extend(audit.leaks(place, bytes, |secret| by_protocol(secret, place)));
    }
    assert!(
        leaks.is_empty(),
        "secrets found outside the keyring: {leaks:#?}"
    );

    // The keyring holds none of them: only the data folder's key, which seals them in the store.
    let out = std::process::Command::new("secret-tool")
        .args(["search", "--all", "service", "onramp"])
        .output()
        .expect("secret-tool runs");
    let keyring = [out.stdout, out.stderr].concat();
    let held = audit.leaks("the keyring", &keyring, |_| false);
    assert!(
        held.is_empty(),
        "no token or key is kept in the keyring itself: {held:#?}"
    );
    assert!(
        contains(&keyring, "data-key/"),
        "the keyring holds the data folder's key"
    );
}

/// The browser Onramp starts: the CLI's opener here, with `$BROWSER` a script that records its
/// argv and environment and plays the customer (the window's opener is audited the same way in
/// the real-window e2e). It is given the authorize address and nothing else: no secret the
/// sandbox issued or was handed, in any form, in its argv or environment; the sign-in's `state`
/// in the address only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_onramp_starts_is_given_no_secret() {
    let sb = onramp_sandbox::Sandbox::start(onramp_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = onramp_core::config::Config {
        environment: Environment::Production,
        ..Default::default()
    };
    onramp_launch::wire(&sb, &mut config);
    let config_file = dir.path().join("onramp.toml");
    std::fs::write(&config_file, toml::to_string(&config).unwrap()).unwrap();
    let browser =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/customer_browser.py");
    let children = dir.path().join("children");
    let mut cli = std::env::current_exe().unwrap();
    cli.pop();
    cli.pop();
    cli.push("onramp");
    assert!(cli.exists(), "build the CLI first: {}", cli.display());
    let run = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(&cli)
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--config")
            .arg(&config_file)
            .args(args)
            .env("BROWSER", &browser)
            .env("ONRAMP_E2E_CHILDREN", &children)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "onramp {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let app = sb.oauth_client(OAuthVendor::Sma);
    run(
        &["app", "set", "sma", "--client-id", &app.client_id],
        &format!("{}\n", app.client_secret),
    );
    let id = run(&["customer", "add", "--name", "Ada"], "")
        .trim()
        .to_string();
    for _ in 0..2 {
        let out = run(&connect_args("sma", &id), "");
        assert!(out.contains("\"active\""), "{out}");
    }

    let states = sb.sign_in_states();
    assert_eq!(states.len(), 2, "two sign-ins");
    assert_eq!(sb.pkce_verifiers().len(), 2, "both with PKCE");
    let audit = audit::Audit::new(sb.issued_secrets().into_iter().chain(states.clone()));
    let recorded = std::fs::read_to_string(&children).expect("the browser was started");
    let mut leaks = Vec::new();
    let mut started = 0;
    for line in recorded.lines() {
        let child: serde_json::Value = serde_json::from_str(line).unwrap();
        started += 1;
        let argv: Vec<&str> = child["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(argv.len(), 2, "the browser and one address: {}", argv.len());
        assert_eq!(argv[0], browser.to_str().unwrap());
        let address = url::Url::parse(argv[1]).unwrap();
        for (k, _) in address.query_pairs() {
            assert!(
                !["code_verifier", "client_secret", "code"].contains(&k.as_ref()),
                "the address carries {k}"
            );
        }
        // The address carries its own sign-in's state, by protocol.
        leaks.extend(audit.leaks("the browser's argv", argv[1].as_bytes(), |s| {
            states.iter().any(|st| st == s)
        }));
        let env = serde_json::to_vec(&child["env"]).unwrap();
        leaks.extend(audit.leaks("the browser's environment", &env, |_| false));
    }
    assert_eq!(started, 2, "one browser per sign-in");
    assert!(leaks.is_empty(), "{leaks:#?}");
}
