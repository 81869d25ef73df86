//! The `onramp` binary, as an installer or a script would run it: Sandbox environment, real
//! store and keyring, secrets on standard input.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use onramp_sandbox::{Sandbox, SandboxConfig};

mod common;
use common::connect_args;

fn bin() -> PathBuf {
    // target/debug/deps/cli-xxxx -> target/debug/onramp
    let mut p = std::env::current_exe().unwrap();
    p.pop();
    p.pop();
    p.push("onramp");
    assert!(
        p.exists(),
        "build the CLI first: cargo build -p onramp-cli ({})",
        p.display()
    );
    p
}

fn onramp(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    onramp_with(dir, &dir.join("absent.toml"), &[], args, stdin)
}

/// `onramp` with a configuration file and extra environment (`BROWSER`).
fn onramp_with(
    dir: &std::path::Path,
    config: &std::path::Path,
    env: &[(&str, &std::path::Path)],
    args: &[&str],
    stdin: &str,
) -> Output {
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(config)
        .envs(env.iter().copied())
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
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "onramp failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn enrolls_solis_from_the_terminal_and_sends_solaredge_customers_to_sign_in() {
    // The CLI starts its own sandbox with the default seed: the same demo keys as this one.
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let demo = sb.demo().clone();
    let dir = tempfile::tempdir().unwrap();

    let id = ok(onramp(
        dir.path(),
        &["customer", "add", "--name", "Ada Garcia", "--job", "J-77"],
        "",
    ))
    .trim()
    .to_string();
    assert_eq!(id.len(), 36, "prints the new customer's id: {id}");

    // SolarEdge Monitoring API V2 has no customer key: the CLI says which two ways there are.
    let no_key = onramp(
        dir.path(),
        &["connect", "solaredge", "--customer", &id],
        &format!("{}\n", demo.solaredge_account_key),
    );
    assert!(!no_key.status.success());
    let err = String::from_utf8_lossy(&no_key.stderr);
    assert!(err.contains("no customer key"), "{err}");
    assert!(
        err.contains("solaredge-site") && err.contains("--site"),
        "{err}"
    );

    let solis = &demo.solis_customer_keys[0];
    ok(onramp(
        dir.path(),
        &["connect", "solis", "--customer", &id],
        &format!("{}\n{}\n", solis.key_id, solis.key_secret),
    ));

    let bad = onramp(
        dir.path(),
        &["account", "set", "solaredge"],
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ\n",
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("SolarEdge rejected this key"), "{err}");
    assert!(err.contains("hint:"), "{err}");

    let list: serde_json::Value =
        serde_json::from_str(&ok(onramp(dir.path(), &["list", "--json"], ""))).unwrap();
    let conns = list[0]["connections"].as_array().unwrap();
    assert_eq!(list[0]["customer"]["job_number"], "J-77");
    assert_eq!(conns.len(), 1);
    let solis_sites = conns.iter().find(|c| c["provider"] == "solis").unwrap()["sites"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(solis_sites, solis.station_ids.len());

    let json = serde_json::to_string(&list).unwrap();
    assert!(
        !json.contains(&demo.solaredge_account_key) && !json.contains(&solis.key_secret),
        "no secret in the export"
    );
}

#[tokio::test]
async fn installer_account_from_the_terminal() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let demo = sb.demo().clone();
    let dir = tempfile::tempdir().unwrap();
    let out = ok(onramp(
        dir.path(),
        &["account", "set", "solaredge"],
        &format!("{}\n", demo.solaredge_account_key),
    ));
    assert!(out.contains("installer account saved"), "{out}");
    let found: serde_json::Value = serde_json::from_str(&ok(onramp(
        dir.path(),
        &["account", "sites", "solaredge", "--json"],
        "",
    )))
    .unwrap();
    let first = found["sites"][0]["external_id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = ok(onramp(
        dir.path(),
        &["customer", "add", "--name", "Ben"],
        "",
    ))
    .trim()
    .to_string();
    let out = ok(onramp(
        dir.path(),
        &["connect", "solaredge", "--customer", &id, "--site", &first],
        "",
    ));
    assert!(out.contains(&first), "{out}");

    // The Enphase partner plan: the partner application and the Enlighten user once (the
    // password is sent to Enphase and kept nowhere), then the customer's system picked from the
    // partner's list in later calls, which renew nothing until the day-long token lapses.
    let p = sb.enphase_partner();
    let out = ok(onramp(
        dir.path(),
        &["account", "set", "enphase"],
        &format!(
            "{}\n{}\n{}\n{}\n{}\n",
            p.client_id, p.client_secret, p.api_key, p.username, p.password
        ),
    ));
    assert!(out.contains("installer account saved"), "{out}");
    let store = std::fs::read(dir.path().join("sandbox.sqlite")).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("sandbox.sqlite-wal")).unwrap_or_default();
    for bytes in [&store, &wal] {
        assert!(
            !bytes
                .windows(p.password.len())
                .any(|w| w == p.password.as_bytes()),
            "the Enlighten password is never stored"
        );
    }
    let found: serde_json::Value = serde_json::from_str(&ok(onramp(
        dir.path(),
        &["account", "sites", "enphase", "--json"],
        "",
    )))
    .unwrap();
    assert_eq!(found["total"], 30, "every system of the partner: {found}");
    let system = found["sites"][0]["external_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ok(onramp(
        dir.path(),
        &["connect", "enphase", "--customer", &id, "--site", &system],
        "",
    ));
    assert!(out.contains(&system), "{out}");
}

/// `onramp connect sma` opens the sign-in in $BROWSER (here a script playing the customer, who
/// signs in and is sent back to the loopback listener) and ends with the plants listed.
#[tokio::test]
async fn connects_sma_through_the_loopback_listener() {
    let dir = tempfile::tempdir().unwrap();
    let browser = dir.path().join("customer-browser");
    std::fs::write(
        &browser,
        "#!/usr/bin/env python3\nimport sys, urllib.request\nurllib.request.urlopen(sys.argv[1], timeout=20).read()\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();

    let id = ok(onramp(
        dir.path(),
        &["customer", "add", "--name", "Ada"],
        "",
    ))
    .trim()
    .to_string();
    let out = Command::new(bin())
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--config")
        .arg(dir.path().join("absent.toml"))
        .args(connect_args("sma", &id))
        .env("BROWSER", &browser)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let conn: serde_json::Value = serde_json::from_str(&ok(out)).unwrap();
    assert_eq!(conn["provider"], "sma");
    assert_eq!(conn["kind"], "oauth");
    assert_eq!(conn["state"], "active");
    assert_eq!(conn["sites"].as_array().unwrap().len(), 2);
}

/// In production-shaped set-ups the vendor app is saved first; the secret comes on stdin.
#[tokio::test]
async fn saves_a_vendor_app_with_its_secret_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("onramp.toml");
    std::fs::write(&config, "environment = \"production\"\n").unwrap();
    let run = |args: &[&str], stdin: &str| onramp_with(dir.path(), &config, &[], args, stdin);
    let out = ok(run(
        &["app", "set", "enphase", "--client-id", "abc123"],
        "s3cret-value\nkey-value\n",
    ));
    assert!(out.contains("Enphase app saved"), "{out}");
    let missing = run(&["app", "set", "tesla", "--client-id", "x"], "");
    assert!(!missing.status.success());
    let events = ok(run(&["events", "--json"], ""));
    assert!(events.contains("Enphase app saved"), "{events}");
    assert!(!events.contains("s3cret-value") && !events.contains("key-value"));
}

/// Green Button Download My Data from a terminal: the summary printed, a bad file refused
/// with the reason and a non-zero exit, nothing stored.
#[tokio::test]
async fn imports_a_green_button_file_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let id = ok(onramp(
        dir.path(),
        &["customer", "add", "--name", "Ada"],
        "",
    ))
    .trim()
    .to_string();
    let data =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/core/tests/data/greenbutton");
    let gas =
        data.join("ngma_natural_gas_billing_billing_data_Service_1_1_2021-05-26_to_2024-04-25.xml");
    let out = ok(onramp(
        dir.path(),
        &["usage", "import", gas.to_str().unwrap(), "--customer", &id],
        "",
    ));
    assert!(out.contains("1 meter reading series"), "{out}");
    assert!(out.contains("therm"), "{out}");
    assert!(out.contains("USD"), "{out}");

    let cut = dir.path().join("cut.xml");
    let full = std::fs::read(data.join("TestGBDataHourlyNineDaysBinnedDaily.xml")).unwrap();
    std::fs::write(&cut, &full[..full.len() / 3]).unwrap();
    let bad = onramp(
        dir.path(),
        &["usage", "import", cut.to_str().unwrap(), "--customer", &id],
        "",
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("cut off") && err.contains("Nothing was saved"),
        "{err}"
    );

    let shown: serde_json::Value = serde_json::from_str(&ok(onramp(
        dir.path(),
        &["usage", "show", "--customer", &id, "--json"],
        "",
    )))
    .unwrap();
    let series = shown.as_array().unwrap();
    assert_eq!(series.len(), 1, "only the good file was stored: {shown}");
    assert_eq!(series[0]["commodity"], "gas");
}

/// The utility and aggregator providers from the terminal: the customer's browser (the same
/// script the window test uses: it follows redirects and completes the vendor's own consent
/// form) signs in at UtilityAPI, Metry, Pelm Connect and Derapi Join; the loopback listener takes
/// each answer back; the usage fetched at connect time is then shown by `onramp usage show`.
#[tokio::test]
async fn connects_the_utility_and_aggregator_providers_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let browser = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/customer_browser.py");
    let id = ok(onramp(
        dir.path(),
        &["customer", "add", "--name", "Ada"],
        "",
    ))
    .trim()
    .to_string();
    let connect = |extra: &[&str]| {
        let out = Command::new(bin())
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--config")
            .arg(dir.path().join("absent.toml"))
            .args(["connect", "--customer", &id, "--timeout", "60", "--json"])
            .args(extra)
            .env("BROWSER", &browser)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&ok(out)).unwrap()
    };

    let ua = connect(&["utilityapi", "--utility", "demo"]);
    assert_eq!(ua["provider"], "utilityapi");
    assert_eq!(ua["state"], "active");
    assert!(
        ua["scopes"]
            .as_str()
            .unwrap()
            .contains("IntervalDuration=3600"),
        "the scope the customer granted is kept: {ua}"
    );
    let metry = connect(&["metry"]);
    assert_eq!(metry["state"], "active", "{metry}");
    let pelm = connect(&["pelm"]);
    assert_eq!(pelm["state"], "active", "{pelm}");
    assert!(!pelm["sites"].as_array().unwrap().is_empty(), "{pelm}");
    let derapi = connect(&["derapi", "--vendor", "enphasevpp"]);
    assert_eq!(derapi["state"], "active", "{derapi}");
    assert!(!derapi["sites"].as_array().unwrap().is_empty(), "{derapi}");
    // The older Join session: the page does not redirect; the CLI asks Derapi until it is done.
    let session = connect(&["derapi", "--vendor", "tesla", "--join", "session"]);
    assert_eq!(session["state"], "active", "{session}");

    let shown: serde_json::Value = serde_json::from_str(&ok(onramp(
        dir.path(),
        &["usage", "show", "--customer", &id, "--json"],
        "",
    )))
    .unwrap();
    let commodities: Vec<&str> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["commodity"].as_str().unwrap())
        .collect();
    assert!(
        commodities.contains(&"electricity") && commodities.contains(&"gas"),
        "UtilityAPI's electric and gas meters and Metry's meters: {commodities:?}"
    );
    assert!(shown.as_array().unwrap().len() >= 3, "{shown}");
}

/// `onramp refresh` against a vendor that outlives each command: a production-shaped set-up
/// whose SMA endpoints are a sandbox run by the test, the company's app saved first. (The
/// commands block this thread, so the sandbox serves from other worker threads.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_due_all_and_one_connection_from_the_terminal() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = onramp_core::config::Config {
        environment: onramp_core::model::Environment::Production,
        ..Default::default()
    };
    onramp_launch::wire(&sb, &mut config);
    let config_file = dir.path().join("onramp.toml");
    std::fs::write(&config_file, toml::to_string(&config).unwrap()).unwrap();
    let browser = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/customer_browser.py");
    let run = |args: &[&str], stdin: &str| {
        onramp_with(
            dir.path(),
            &config_file,
            &[("BROWSER", browser.as_path())],
            args,
            stdin,
        )
    };
    let app = sb.oauth_client(onramp_sandbox::OAuthVendor::Sma);
    ok(run(
        &["app", "set", "sma", "--client-id", &app.client_id],
        &format!("{}\n", app.client_secret),
    ));
    let id = ok(run(&["customer", "add", "--name", "Ada"], ""))
        .trim()
        .to_string();
    let conn: serde_json::Value =
        serde_json::from_str(&ok(run(&connect_args("sma", &id), ""))).unwrap();
    let before = sb.token_requests(onramp_sandbox::OAuthVendor::Sma);

    // Fresh tokens are not due; `--all` refreshes them anyway; one connection by its id.
    let due: serde_json::Value =
        serde_json::from_str(&ok(run(&["refresh", "--due", "--json"], ""))).unwrap();
    assert_eq!(due["checked"], 1, "{due}");
    assert_eq!(due["refreshed"].as_array().unwrap().len(), 0, "{due}");
    assert!(due["next_due"].is_string(), "{due}");
    assert_eq!(sb.token_requests(onramp_sandbox::OAuthVendor::Sma), before);
    let all: serde_json::Value =
        serde_json::from_str(&ok(run(&["refresh", "--all", "--json"], ""))).unwrap();
    assert_eq!(all["refreshed"], serde_json::json!([conn["id"]]), "{all}");
    let one = ok(run(&["refresh", conn["id"].as_str().unwrap()], ""));
    assert!(one.contains("SMA"), "{one}");
    assert_eq!(
        sb.token_requests(onramp_sandbox::OAuthVendor::Sma),
        before + 2
    );
    let events = ok(run(&["events"], ""));
    assert_eq!(events.matches("tokens refreshed").count(), 2, "{events}");
    // Each line names its customer.
    assert!(
        events
            .lines()
            .filter(|l| l.contains("tokens refreshed"))
            .all(|l| l.contains("Ada")),
        "{events}"
    );

    // The customer withdrew Onramp at SMA: the sweep says who must act, and exits non-zero.
    sb.set_token_fault(onramp_sandbox::OAuthVendor::Sma, 400, 1);
    let out = run(&["refresh", "--all"], "");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("must sign in again"), "{text}");
    let health = ok(run(&["health"], ""));
    assert!(
        health.contains("Ada · SMA")
            && health.contains(&format!(
                "onramp reauthorize {}",
                conn["id"].as_str().unwrap()
            )),
        "{health}"
    );

    // The customer signs in again: the same connection is renewed.
    let again: serde_json::Value = serde_json::from_str(&ok(run(
        &[
            "reauthorize",
            conn["id"].as_str().unwrap(),
            "--timeout",
            "60",
            "--json",
        ],
        "",
    )))
    .unwrap();
    assert_eq!(again["id"], conn["id"]);
    assert_eq!(again["state"], "active");
    ok(run(&["refresh", conn["id"].as_str().unwrap()], ""));
    let health: serde_json::Value =
        serde_json::from_str(&ok(run(&["health", "--json"], ""))).unwrap();
    assert_eq!(health, serde_json::json!([]), "all well again");
    let csv = ok(run(&["events", "--export", "csv"], ""));
    assert!(
        csv.starts_with("at,customer,provider,kind,summary,actor"),
        "{csv}"
    );
    for kind in ["connected", "refreshed", "revoked", "reauthorized"] {
        assert!(csv.contains(&format!(",{kind},")), "{kind} missing: {csv}");
    }
    assert!(!csv.contains(&app.client_secret), "the app secret leaked");
}

/// A customer's browser for `BROWSER`: opens the sign-in page; the sandbox consents at once and
/// sends it back to Onramp's loopback listener.
fn customer_browser(dir: &std::path::Path) -> PathBuf {
    let browser = dir.join("customer-browser");
    std::fs::write(
        &browser,
        "#!/usr/bin/env python3\nimport sys, urllib.request\nurllib.request.urlopen(sys.argv[1], timeout=20).read()\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    browser
}

/// `onramp` in the Sandbox environment (no configuration file) with the customer's browser.
fn sandbox_cli(dir: &std::path::Path, browser: &std::path::Path, args: &[&str]) -> Output {
    onramp_with(
        dir,
        &dir.join("absent.toml"),
        &[("BROWSER", browser)],
        args,
        "",
    )
}

fn json(out: Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// The newcomer's first try: connect in the Sandbox, quit, come back. Every `onramp` call is a
/// new process; the sandbox's vendors must still know what they issued, where they issued it.
#[tokio::test]
async fn sandbox_connections_still_check_and_refresh_in_later_cli_calls() {
    let dir = tempfile::tempdir().unwrap();
    let browser = customer_browser(dir.path());
    let run = |args: &[&str]| sandbox_cli(dir.path(), &browser, args);
    let status = json(run(&["status", "--json"]));
    let key = status["sandbox_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["provider"] == "solis" && k["label"].as_str().unwrap().starts_with("Customer"))
        .unwrap()
        .clone();
    let id = ok(run(&["customer", "add", "--name", "Ada"]))
        .trim()
        .to_string();
    let sma = json(run(&connect_args("sma", &id)));
    let solis = json(onramp(
        dir.path(),
        &["connect", "solis", "--customer", &id, "--json"],
        &format!(
            "{}\n{}\n",
            key["key_id"].as_str().unwrap(),
            key["key_secret"].as_str().unwrap()
        ),
    ));
    let (sma, solis) = (sma["id"].as_str().unwrap(), solis["id"].as_str().unwrap());

    for c in [sma, solis] {
        let checked = json(run(&["check", c, "--json"]));
        assert_eq!(checked["state"], "active", "{checked}");
    }
    let refreshed = json(run(&["refresh", sma, "--json"]));
    assert_eq!(refreshed["state"], "active", "{refreshed}");
    // And again, with the token the last call was given.
    let all = json(run(&["refresh", "--all", "--json"]));
    assert_eq!(all["refreshed"], serde_json::json!([sma]), "{all}");
    for c in [sma, solis] {
        let checked = json(run(&["check", c, "--json"]));
        assert_eq!(checked["state"], "active", "{checked}");
    }
    assert_eq!(ok(run(&["health", "--json"])).trim(), "[]");
}

/// `onramp sandbox --persistent --json`: the data folder's sandbox in a process of its own; the
/// directory line it prints.
fn kept_sandbox(dir: &std::path::Path) -> (std::process::Child, serde_json::Value) {
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(dir.join("absent.toml"))
        .args(["sandbox", "--persistent", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let v = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (child, v)
}

/// A token request at SMA's sandbox, as `describe_json` names it.
async fn sma_token(sma: &serde_json::Value, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let mut all = vec![
        ("client_id", sma["client_id"].as_str().unwrap()),
        ("client_secret", sma["client_secret"].as_str().unwrap()),
    ];
    all.extend_from_slice(form);
    let r = reqwest::Client::new()
        .post(format!("{}/oauth2/token", sma["url"].as_str().unwrap()))
        .form(&all)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// A vendor's answer counts once it is sent: the sandbox is SIGKILLed the moment a refresh
/// was answered, three times over, and the token it answered last is the one it knows.
#[tokio::test]
async fn a_rotation_the_sandbox_answered_survives_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, d) = kept_sandbox(dir.path());
    let sma = d["sma"].clone();
    let redirect = "http://127.0.0.1:8765/callback";
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/oauth2/auth", sma["url"].as_str().unwrap()))
        .query(&[
            ("response_type", "code"),
            ("client_id", sma["client_id"].as_str().unwrap()),
            ("redirect_uri", redirect),
            ("scope", "offline_access"),
            ("state", "st"),
        ])
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1;
    let (status, v) = sma_token(
        &sma,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
        ],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let mut used = Vec::new();
    let mut current = v["refresh_token"].as_str().unwrap().to_string();
    for round in 0..3 {
        if round > 0 {
            let (c, again) = kept_sandbox(dir.path());
            assert_eq!(again["sma"]["url"], sma["url"], "the same port");
            child = c;
        }
        let (status, v) = sma_token(
            &sma,
            &[("grant_type", "refresh_token"), ("refresh_token", &current)],
        )
        .await;
        assert_eq!(status, 200, "round {round}: {v}");
        child.kill().unwrap();
        child.wait().unwrap();
        used.push(std::mem::replace(
            &mut current,
            v["refresh_token"].as_str().unwrap().to_string(),
        ));
    }

    let sb = onramp_sandbox::SharedSandbox::open(dir.path(), SandboxConfig::default())
        .await
        .unwrap();
    let served = sb.served().expect("the killed one holds nothing");
    use onramp_sandbox::OAuthVendor::Sma;
    assert!(served.grant_alive(Sma, &current), "the last answered token");
    for old in &used {
        assert!(
            !served.grant_alive(Sma, old),
            "a rotated-out token came back"
        );
    }
    let (status, v) = sma_token(
        &sma,
        &[("grant_type", "refresh_token"), ("refresh_token", &current)],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    drop(served);
    sb.shutdown().await;
}

/// The app (here in-process, opened as the app opens) and CLI calls on one data folder at once:
/// one sandbox. The CLI's sign-in and refresh happen at the app's vendors, the app refreshes
/// with what the CLI stored, and once the app is gone the CLI serves the same books itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_and_the_cli_on_one_data_folder_share_one_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let browser = customer_browser(dir.path());
    let app = onramp_launch::open(onramp_launch::Launch {
        data_dir: dir.path().to_path_buf(),
        config_file: dir.path().join("absent.toml"),
        actor: "app",
    })
    .await
    .unwrap();
    let shared = app.sandbox.as_ref().unwrap();
    let served = shared.served().expect("the first on the folder serves");
    use onramp_sandbox::OAuthVendor::Sma;

    let dir_path = dir.path().to_path_buf();
    let browser_path = browser.clone();
    let run = move |args: Vec<String>| {
        let (d, b) = (dir_path.clone(), browser_path.clone());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            sandbox_cli(&d, &b, &args)
        })
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let id = ok(run(args(&["customer", "add", "--name", "Ada"]))
        .await
        .unwrap())
    .trim()
    .to_string();
    let conn = json(run(args(&connect_args("sma", &id))).await.unwrap());
    let conn = conn["id"].as_str().unwrap().to_string();
    assert_eq!(
        served.token_requests(Sma),
        1,
        "the CLI's code exchange reached the app's sandbox"
    );
    let checked = app.onramp.check_connection(&conn).await.unwrap();
    assert_eq!(checked.id, conn);

    json(run(args(&["refresh", &conn, "--json"])).await.unwrap());
    app.onramp.refresh_connection(&conn).await.unwrap();
    json(run(args(&["refresh", &conn, "--json"])).await.unwrap());
    let stats = served.refresh_stats(Sma);
    assert_eq!(
        (stats.rotations, stats.replays, stats.unknown),
        (3, 0, 0),
        "every refresh, the CLI's and the app's, at one sandbox"
    );
    drop(served);

    app.onramp.close().await;
    app.sandbox.unwrap().shutdown().await;
    let checked = json(run(args(&["check", &conn, "--json"])).await.unwrap());
    assert_eq!(checked["state"], "active", "{checked}");
    let refreshed = json(run(args(&["refresh", &conn, "--json"])).await.unwrap());
    assert_eq!(refreshed["state"], "active", "{refreshed}");
}

#[tokio::test]
async fn imports_customers_from_csv_with_a_preview_all_or_nothing_then_edits_and_removes_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let good = data.join("customers.csv");
    let bad = data.join("customers-bad.csv");

    // A file with bad rows: the preview names them, and nothing is written either way.
    let dry = onramp(
        dir.path(),
        &["customer", "import", bad.to_str().unwrap(), "--dry-run"],
        "",
    );
    assert!(!dry.status.success());
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        out.contains("line    3") && out.contains("Enter the customer's name."),
        "{out}"
    );
    assert!(
        out.contains("line    4") && out.contains("not an email address"),
        "{out}"
    );
    let failed = onramp(
        dir.path(),
        &["customer", "import", bad.to_str().unwrap()],
        "",
    );
    assert!(!failed.status.success());
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(
        err.contains("lines 3, 4") && err.contains("Nothing was imported"),
        "{err}"
    );
    let list = ok(onramp(dir.path(), &["customer", "list", "--json"], ""));
    assert_eq!(list.trim(), "[]");

    // The good file: a dry run shows the rows and writes nothing; then the import.
    let out = ok(onramp(
        dir.path(),
        &["customer", "import", good.to_str().unwrap(), "--dry-run"],
        "",
    ));
    assert!(out.contains("3 rows, 0 in error, 0 duplicates"), "{out}");
    assert!(out.contains("Okafor, Ben"), "{out}");
    assert_eq!(
        ok(onramp(dir.path(), &["customer", "list", "--json"], "")).trim(),
        "[]"
    );
    let out = ok(onramp(
        dir.path(),
        &["customer", "import", good.to_str().unwrap()],
        "",
    ));
    assert!(
        out.contains("Imported 3 customers from customers.csv"),
        "{out}"
    );

    // Again: every row is a duplicate now, and --skip-duplicates leaves them out.
    let out = ok(onramp(
        dir.path(),
        &["customer", "import", good.to_str().unwrap(), "--dry-run"],
        "",
    ));
    assert!(
        out.contains("3 duplicates") && out.contains("duplicate of Ada Garcia"),
        "{out}"
    );
    let out = ok(onramp(
        dir.path(),
        &[
            "customer",
            "import",
            good.to_str().unwrap(),
            "--skip-duplicates",
            "--json",
        ],
        "",
    ));
    let o: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (o["imported"].as_u64(), o["skipped_duplicates"].as_u64()),
        (Some(0), Some(3))
    );

    // A duplicate added by hand is warned about, and added.
    let add = onramp(
        dir.path(),
        &[
            "customer",
            "add",
            "--name",
            "ada garcia",
            "--address",
            "12 Elm St. Fresno CA",
        ],
        "",
    );
    assert!(add.status.success());
    assert!(String::from_utf8_lossy(&add.stderr).contains("warning: Ada Garcia"));
    let twin = String::from_utf8(add.stdout).unwrap().trim().to_string();

    // Edit it, then remove it (revoke: it has no connections).
    let out = ok(onramp(
        dir.path(),
        &[
            "customer",
            "edit",
            &twin,
            "--name",
            "Ada Garcia Jr",
            "--phone",
            "555-0199",
            "--json",
        ],
        "",
    ));
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(c["name"], "Ada Garcia Jr");
    assert_eq!(c["phone"], "555-0199");
    assert_eq!(c["address"], "12 Elm St. Fresno CA", "kept");
    let none = onramp(dir.path(), &["customer", "remove", &twin], "");
    assert!(
        !none.status.success(),
        "remove asks what becomes of the connections"
    );
    let out = ok(onramp(
        dir.path(),
        &["customer", "remove", &twin, "--revoke"],
        "",
    ));
    assert!(out.contains("Removed Ada Garcia Jr."), "{out}");
    let list: serde_json::Value =
        serde_json::from_str(&ok(onramp(dir.path(), &["customer", "list", "--json"], ""))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
}

#[test]
fn names_a_customer_by_id_job_number_or_unique_name_and_lists_with_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let add = |name: &str, job: &str| {
        ok(onramp(
            dir.path(),
            &["customer", "add", "--name", name, "--job", job],
            "",
        ))
        .trim()
        .to_string()
    };
    let ada = add("Ada Garcia", "J-2041");
    let ben = add("Ben Okafor", "J-2042");
    add("Ben Okafor", "J-2043");

    for reference in [
        ada.as_str(),
        "J-2041",
        "j-2041",
        "ada garcia",
        " Ada Garcia ",
    ] {
        let shown = ok(onramp(dir.path(), &["customer", "show", reference], ""));
        assert!(
            shown.starts_with(&format!("Ada Garcia  {ada}")),
            "{reference}: {shown}"
        );
    }
    // A job number wins over a name; an id over both.
    let shown = ok(onramp(dir.path(), &["customer", "show", "J-2042"], ""));
    assert!(shown.contains(&ben), "{shown}");

    // A name two customers share is refused, each one named so the installer can pick.
    let out = onramp(dir.path(), &["customer", "show", "Ben Okafor"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 customers answer to “Ben Okafor”")
            && err.contains("(job J-2042)")
            && err.contains("(job J-2043)")
            && err.contains("hint: Name the customer by its id or job number."),
        "{err}"
    );
    let out = onramp(dir.path(), &["events", "--customer", "Nobody"], "");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("No customer has the id, job number or name “Nobody”"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // --customer takes a job number too.
    let events = ok(onramp(dir.path(), &["events", "--customer", "J-2041"], ""));
    assert!(
        events.contains("Ada Garcia") && !events.contains("Ben Okafor"),
        "{events}"
    );

    let out = onramp(dir.path(), &["customer", "list"], "");
    let list = ok(out.clone());
    let header = list.lines().next().unwrap();
    for column in [
        "ID",
        "NAME",
        "ADDRESS",
        "JOB",
        "CONNECTED",
        "SITES",
        "NEEDS",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("3 customers"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let none = ok(onramp(dir.path(), &["customer", "list", "-q", "zzz"], ""));
    assert_eq!(none.trim(), "No customer matches “zzz”.");
}

#[test]
fn output_to_a_reader_that_left_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        ok(onramp(
            dir.path(),
            &["customer", "add", "--name", &format!("Customer {i}")],
            "",
        ));
    }
    // The reader closes its end before Onramp writes a byte, as `| head -0` would: every
    // write meets a closed pipe.
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--config")
        .arg(dir.path().join("absent.toml"))
        .args(["customer", "list"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}
