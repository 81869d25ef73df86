//! Shared set-up: a sandbox on loopback, a real SQLite file in a temp folder, the real keyring.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use onramp_core::config::Config;
use onramp_core::model::{Environment, KeyInput, NewCustomer, ProviderId};
use onramp_core::{Onramp, OpenOptions};
use onramp_sandbox::{Sandbox, SandboxConfig};

pub struct World {
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
}

impl World {
    pub async fn new() -> World {
        World::with(SandboxConfig::default()).await
    }

    pub async fn with(cfg: SandboxConfig) -> World {
        let sandbox = Sandbox::start(cfg).await.expect("sandbox starts");
        World {
            sandbox,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A production-shaped config whose vendor endpoints point at the sandbox.
    pub fn config(&self) -> Config {
        let mut c = Config {
            environment: Environment::Production,
            ..Config::default()
        };
        onramp_launch::wire(&self.sandbox, &mut c);
        c
    }

    pub async fn open(&self) -> Onramp {
        self.open_with(self.config()).await
    }

    pub async fn open_with(&self, config: Config) -> Onramp {
        Onramp::open(OpenOptions {
            data_dir: self.dir.path().to_path_buf(),
            config_file: self.dir.path().join("onramp.toml"),
            config,
            actor: "app",
            sandbox_keys: vec![],
            // The sandbox's demo apps, as if saved in Settings.
            oauth_apps: onramp_launch::wire(&self.sandbox, &mut Config::default()),
        })
        .await
        .expect("onramp opens")
    }

    /// Onramp on a data folder of its own, with no demo apps: vendor apps come from the store
    /// only (a new laptop, or one set up by hand).
    pub async fn open_bare(&self, dir: &Path) -> Onramp {
        Onramp::open(OpenOptions {
            data_dir: dir.to_path_buf(),
            config_file: dir.join("onramp.toml"),
            config: self.config(),
            actor: "app",
            sandbox_keys: vec![],
            oauth_apps: vec![],
        })
        .await
        .expect("onramp opens")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("onramp.sqlite")
    }
}

pub async fn customer(onramp: &Onramp, name: &str) -> String {
    onramp
        .add_customer(NewCustomer {
            name: name.into(),
            address: Some("1 Main St".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

pub fn solaredge_key(key: &str) -> KeyInput {
    KeyInput {
        api_key: Some(key.into()),
        ..KeyInput::empty(ProviderId::Solaredge)
    }
}

/// A customer's own key for their site: Solis (KeyId/KeySecret). SolarEdge Monitoring API V2
/// has no per-site key (the homeowner signs in, or the installer picks from the fleet key).
pub fn customer_key(w: &World, i: usize) -> KeyInput {
    let k = &w.sandbox.demo().solis_customer_keys[i];
    solis_key(&k.key_id, &k.key_secret)
}

pub fn solis_key(id: &str, secret: &str) -> KeyInput {
    KeyInput {
        key_id: Some(id.into()),
        key_secret: Some(secret.into()),
        ..KeyInput::empty(ProviderId::Solis)
    }
}

/// The Enphase partner plan's sign-in as the installer types it in Settings: the partner
/// application and the Enlighten user (with this password).
pub fn enphase_partner_input(p: &onramp_sandbox::EnphasePartner, password: &str) -> KeyInput {
    KeyInput {
        client_id: Some(p.client_id.clone()),
        client_secret: Some(p.client_secret.clone()),
        api_key: Some(p.api_key.clone()),
        username: Some(p.username.clone()),
        password: Some(password.into()),
        ..KeyInput::empty(ProviderId::Enphase)
    }
}

/// Every byte of the store (database and its write-ahead log), for secret scans.
pub fn store_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().contains("sqlite") {
            all.extend(std::fs::read(&p).unwrap());
        }
    }
    all
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Whether `hay` holds a sandbox token: `prefix` followed by at least 16 lowercase hex digits
/// (so a column name such as `redirect_uri` does not count as a `ct_` token).
pub fn contains_token(hay: &[u8], prefix: &str) -> bool {
    let p = prefix.as_bytes();
    hay.windows(p.len() + 16).any(|w| {
        w.starts_with(p)
            && w[p.len()..]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    })
}

/// No secret the sandbox issued or accepts (every token, code, client secret, API key and demo
/// key: [`Sandbox::issued_secrets`]) is anywhere in the store's files (db, WAL, journal). The
/// exact values are looked for: a token-shaped run of characters can occur by chance inside
/// sealed (base64url) values, the tokens themselves cannot.
pub fn assert_no_tokens_in_store(dir: &Path, sandbox: &Sandbox) {
    let bytes = store_bytes(dir);
    let secrets = sandbox.issued_secrets();
    assert!(!secrets.is_empty(), "the sandbox issued something");
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(
            !contains(&bytes, secret),
            "a secret the sandbox issued ({}…) is in SQLite",
            &secret[..4]
        );
    }
}

pub async fn row_count(onramp: &Onramp, table: &str) -> i64 {
    let sql = match table {
        "customers" => "SELECT COUNT(*) FROM customers",
        "connections" => "SELECT COUNT(*) FROM connections",
        "sites" => "SELECT COUNT(*) FROM sites",
        "events" => "SELECT COUNT(*) FROM events",
        "provider_apps" => "SELECT COUNT(*) FROM provider_apps",
        "usage_series" => "SELECT COUNT(*) FROM usage_series",
        "usage_months" => "SELECT COUNT(*) FROM usage_months",
        other => panic!("no table {other}"),
    };
    sqlx::query_scalar(sql)
        .fetch_one(onramp.store().pool())
        .await
        .unwrap()
}

/// The sandbox's test account consents at once: where the vendor sends the browser back.
pub async fn consent(authorize_url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(authorize_url).send().await.unwrap();
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// The customer signs in at the vendor through the deep link; the connection's id.
pub async fn try_sign_in(
    onramp: &Onramp,
    customer: &str,
    provider: ProviderId,
) -> onramp_core::Result<String> {
    let start = onramp
        .begin_oauth(customer, provider, onramp_core::service::Redirect::DeepLink)
        .await?;
    let back = consent(&start.authorize_url).await;
    Ok(onramp.complete_oauth(&back, Some(provider)).await?.id)
}

/// [`try_sign_in`], which must work.
pub async fn sign_in(onramp: &Onramp, customer: &str, provider: ProviderId) -> String {
    try_sign_in(onramp, customer, provider).await.unwrap()
}

/// `onramp connect <provider> --customer <id> --timeout 60 --json`: a sign-in that the test's
/// browser (`BROWSER`) completes, answered with the connection as JSON.
pub fn connect_args<'a>(provider: &'a str, customer: &'a str) -> [&'a str; 7] {
    [
        "connect",
        provider,
        "--customer",
        customer,
        "--timeout",
        "60",
        "--json",
    ]
}
