//! Backups against the sandbox, a real SQLite file and the real keyring: a data folder backed
//! up and restored into another one (another data key) brings back every customer, connection,
//! vendor app, installer account and usage series, and the signed-in grants still refresh; a
//! keyring that lost the folder's key gets it back through a restore; every bad file (wrong
//! passphrase, cut short, one changed byte, not a backup, a newer format) says so and changes
//! nothing; the file holds no secret in plain text and is private.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use onramp_core::model::{AppSource, ConnectionState, ProviderId, VaultState};
use onramp_core::service::RESTORE_NOTE;
use onramp_core::store::Snapshot;
use onramp_core::vault::Sensitive;
use onramp_core::{Code, Onramp};
use onramp_sandbox::OAuthVendor;

const PASSPHRASE: &str = "maple ladder seven orbit";

fn pass(s: &str) -> Sensitive<String> {
    Sensitive::new(s.to_string())
}

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/core/tests/data/greenbutton")
        .join(name)
}

struct Filled {
    ada: String,
    ben: String,
    key_conn: String,
    tesla: String,
}

/// Two customers: Ada with a SolarEdge key and a usage file, Ben signed in at Tesla through
/// the app saved in Settings; the SolarEdge installer account set up.
async fn fill(w: &World, onramp: &Onramp) -> Filled {
    let app = w.sandbox.oauth_client(OAuthVendor::Tesla);
    onramp
        .save_oauth_app(
            ProviderId::Tesla,
            &app.client_id,
            Sensitive::new(app.client_secret),
            None,
        )
        .await
        .unwrap();
    let demo = w.sandbox.demo().clone();
    onramp
        .save_installer_account(solaredge_key(&demo.solaredge_account_key))
        .await
        .unwrap();
    let ada = customer(onramp, "Ada Garcia").await;
    let ben = customer(onramp, "Ben Okafor").await;
    let key_conn = onramp
        .connect_customer_key(&ada, customer_key(w, 0))
        .await
        .unwrap()
        .id;
    onramp
        .import_usage_file(&ada, &sample("TestGBDataHourlyNineDaysBinnedDaily.xml"))
        .await
        .unwrap();
    let tesla = sign_in(onramp, &ben, ProviderId::Tesla).await;
    Filled {
        ada,
        ben,
        key_conn,
        tesla,
    }
}

async fn snapshot(onramp: &Onramp) -> Snapshot {
    onramp.store().snapshot().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restored_into_a_new_data_folder_brings_everything_back() {
    let w = World::new().await;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("laptop.onrampbackup");
    let old_dir = w.dir.path().join("old");
    let a = w.open_bare(&old_dir).await;
    let f = fill(&w, &a).await;
    let before = snapshot(&a).await;
    let old_key = a.vault().current_key_id().unwrap();

    let short = a
        .create_backup(&file, &pass("too short"))
        .await
        .unwrap_err();
    assert_eq!(short.code, Code::Validation);
    assert!(short.message.contains("at least 12"), "{}", short.message);
    assert!(!file.exists());

    let made = a.create_backup(&file, &pass(PASSPHRASE)).await.unwrap();
    assert_eq!(made.customers, 2);
    assert_eq!(made.connections, 2);
    assert_eq!(made.usage_series, 1);
    assert!(made.vendor_apps >= 2, "{made:?}");
    assert!(made.secrets >= 4, "{made:?}");
    assert_eq!(made.note, None);
    a.close().await;

    // The file: private, one piece, no secret and no passphrase in it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let names: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("laptop.onrampbackup")]);
    let bytes = std::fs::read(&file).unwrap();
    let secrets = w.sandbox.issued_secrets();
    assert!(secrets.iter().any(|s| s.starts_with("rt_")));
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(
            !contains(&bytes, s),
            "a secret ({}…) is in the backup",
            &s[..4]
        );
    }
    for plain in [PASSPHRASE, "Ada Garcia", "onramp-backup", "refresh_token"] {
        assert!(
            !contains(&bytes, plain),
            "{plain:?} is in the backup in plain text"
        );
    }

    // A new data folder: a new store, a new data key.
    let new_dir = w.dir.path().join("new");
    let b = w.open_bare(&new_dir).await;
    assert_ne!(b.vault().current_key_id().unwrap(), old_key);
    let restored = b
        .restore_backup(&file, &pass(PASSPHRASE), false)
        .await
        .unwrap();
    assert_eq!(restored.customers, 2);
    assert_eq!(restored.note.as_deref(), Some(RESTORE_NOTE));
    assert_eq!(b.status().vault.state, VaultState::Ready);

    let after = snapshot(&b).await;
    assert_eq!(after.customers, before.customers);
    assert_eq!(after.sites, before.sites);
    assert_eq!(after.usage_series, before.usage_series);
    assert_eq!(after.usage_months, before.usage_months);
    assert_eq!(after.connections.len(), before.connections.len());
    for (x, y) in after.connections.iter().zip(&before.connections) {
        assert_eq!(
            (x.sealed.is_some(), 0),
            (y.sealed.is_some(), x.generation),
            "{}",
            x.id
        );
        let mut x = x.clone();
        x.sealed.clone_from(&y.sealed);
        x.generation = y.generation;
        assert_eq!(&x, y);
    }
    // Every event came across, the restore's own last.
    assert_eq!(&after.events[..before.events.len()], &before.events[..]);
    assert_eq!(after.events.last().unwrap().kind, "backup_restored");
    // Sealed again with the new folder's key.
    let new_key = b.vault().current_key_id().unwrap();
    for c in after.connections.iter().filter_map(|c| c.sealed.as_ref()) {
        assert!(c.starts_with(&format!("o1.{new_key}.")));
    }
    assert_no_tokens_in_store(&new_dir, &w.sandbox);

    // The vendor app and installer account work, the key opens, the Tesla grant refreshes
    // (the sandbox revokes a grant shown a wrong refresh token).
    let apps = b.vendor_apps().await.unwrap();
    let tesla_app = apps
        .iter()
        .find(|a| a.provider == ProviderId::Tesla)
        .unwrap();
    assert_eq!(tesla_app.source, AppSource::Settings);
    let found = b
        .search_account_sites(ProviderId::Solaredge, "")
        .await
        .unwrap();
    assert!(found.total > 0);
    assert_eq!(
        b.check_connection(&f.key_conn).await.unwrap().state,
        ConnectionState::Active
    );
    let refreshed = b.refresh_connection(&f.tesla).await.unwrap();
    assert_eq!(refreshed.state, ConnectionState::Active);
    assert_eq!(b.store().generation(&f.tesla).await.unwrap(), 1);
    let ada = b.customer(&f.ada).await.unwrap();
    assert_eq!(ada.usage.len(), 1);
    assert_eq!(b.customer(&f.ben).await.unwrap().connections.len(), 1);

    // Restoring again over customers needs the installer's yes.
    let e = b
        .restore_backup(&file, &pass(PASSPHRASE), false)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert!(
        e.message
            .contains("This laptop already has 2 customers; restoring replaces them."),
        "{}",
        e.message
    );
    b.close().await;
}

/// What a backup cannot bring back: a refresh token rotated after it was taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_rotated_after_the_backup_needs_the_customer_again() {
    let w = World::new().await;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("b.onrampbackup");
    let a = w.open_bare(&w.dir.path().join("old")).await;
    let f = fill(&w, &a).await;
    a.create_backup(&file, &pass(PASSPHRASE)).await.unwrap();
    // The token rotates after the backup, and the new tokens are used (so the vendor's retry
    // window for the old refresh token is closed).
    a.refresh_connection(&f.tesla).await.unwrap();
    a.check_connection(&f.tesla).await.unwrap();
    a.close().await;

    let b = w.open_bare(&w.dir.path().join("new")).await;
    b.restore_backup(&file, &pass(PASSPHRASE), false)
        .await
        .unwrap();
    let _ = b.refresh_connection(&f.tesla).await;
    // The vendor takes the old token for a replay: the customer signs in again.
    let state = b.store().grant(&f.tesla).await.unwrap().state;
    assert!(
        matches!(
            state,
            ConnectionState::NeedsReauth | ConnectionState::Revoked
        ),
        "{state:?}"
    );
    // The key connection does not rotate: it works.
    assert_eq!(
        b.check_connection(&f.key_conn).await.unwrap().state,
        ConnectionState::Active
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_brings_back_a_data_folder_whose_key_the_keyring_lost() {
    let w = World::new().await;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("b.onrampbackup");
    let dir = w.dir.path().join("folder");
    let a = w.open_bare(&dir).await;
    let f = fill(&w, &a).await;
    a.create_backup(&file, &pass(PASSPHRASE)).await.unwrap();
    let key = a.vault().current_key_id().unwrap();
    let vault = a.vault().clone();
    a.close().await;
    drop(a);
    vault.forget_key(&key).await.unwrap();

    let b = w.open_bare(&dir).await;
    assert_eq!(b.status().vault.state, VaultState::KeyMissing);
    assert_eq!(
        b.check_connection(&f.key_conn).await.unwrap_err().code,
        Code::KeychainUnavailable
    );
    let before = snapshot(&b).await;
    // A wrong passphrase here too changes nothing and leaves no key behind.
    let e = b
        .restore_backup(&file, &pass("not the passphrase"), true)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert_eq!(snapshot(&b).await, before);
    assert_eq!(b.status().vault.state, VaultState::KeyMissing);

    let restored = b
        .restore_backup(&file, &pass(PASSPHRASE), true)
        .await
        .unwrap();
    assert_eq!(restored.customers, 2);
    assert_eq!(b.status().vault.state, VaultState::Ready);
    let new_key = b.vault().current_key_id().unwrap();
    assert_ne!(new_key, key);
    assert_eq!(
        b.check_connection(&f.key_conn).await.unwrap().state,
        ConnectionState::Active
    );
    b.refresh_connection(&f.tesla).await.unwrap();
    b.close().await;

    // The new key is the folder's for good: a restart finds it.
    let c = w.open_bare(&dir).await;
    assert_eq!(c.status().vault.state, VaultState::Ready);
    assert_eq!(c.vault().current_key_id().unwrap(), new_key);
    assert_eq!(
        c.check_connection(&f.key_conn).await.unwrap().state,
        ConnectionState::Active
    );
    c.close().await;
}

/// An age file encrypted to the passphrase holding `payload` (what another program, or a
/// newer Onramp, might write).
fn age_file(path: &Path, payload: &[u8]) {
    let enc = age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(
        PASSPHRASE.to_string(),
    ));
    let mut w = enc
        .wrap_output(std::fs::File::create(path).unwrap())
        .unwrap();
    w.write_all(payload).unwrap();
    w.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_file_says_why_and_changes_nothing() {
    let w = World::new().await;
    let out = tempfile::tempdir().unwrap();
    let good = out.path().join("good.onrampbackup");
    let a = w.open_bare(&w.dir.path().join("old")).await;
    fill(&w, &a).await;
    a.create_backup(&good, &pass(PASSPHRASE)).await.unwrap();
    a.close().await;

    // The store that must stay as it is: another laptop's, with its own customer.
    let b = w.open_bare(&w.dir.path().join("other")).await;
    let carla = customer(&b, "Carla Diaz").await;
    b.connect_customer_key(&carla, customer_key(&w, 1))
        .await
        .unwrap();
    let before = snapshot(&b).await;
    let meta = || async {
        sqlx::query_as::<_, (String, String)>("SELECT key, value FROM meta ORDER BY key")
            .fetch_all(b.store().pool())
            .await
            .unwrap()
    };
    let meta_before = meta().await;

    let bytes = std::fs::read(&good).unwrap();
    let write = |name: &str, content: &[u8]| {
        let p = out.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    };
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    let mut random = vec![0u8; 4096];
    for (i, b) in random.iter_mut().enumerate() {
        *b = (i * 7919 % 251) as u8;
    }
    let not_onramp = out.path().join("notes.age");
    age_file(&not_onramp, b"{\"shopping\": [\"milk\"]}\n{}");
    let newer = out.path().join("newer.onrampbackup");
    age_file(
        &newer,
        br#"{"format":"onramp-backup","version":2,"created_at":"2030-01-01T00:00:00Z"}"#,
    );
    let cases: Vec<(&str, PathBuf, &str, &str)> = vec![
        (
            "wrong passphrase",
            good.clone(),
            "wrong passphrase!",
            "passphrase does not open",
        ),
        (
            "cut in half",
            write("half", &bytes[..bytes.len() / 2]),
            PASSPHRASE,
            "damaged",
        ),
        (
            "last byte gone",
            write("short", &bytes[..bytes.len() - 1]),
            PASSPHRASE,
            "damaged",
        ),
        (
            "header only",
            write("header", &bytes[..200]),
            PASSPHRASE,
            "",
        ),
        (
            "one byte changed",
            write("flipped", &flipped),
            PASSPHRASE,
            "damaged",
        ),
        (
            "random bytes",
            write("random.bin", &random),
            PASSPHRASE,
            "not an Onramp backup",
        ),
        (
            "a text file",
            write("notes.txt", b"hello\n"),
            PASSPHRASE,
            "not an Onramp backup",
        ),
        (
            "empty",
            write("empty", b""),
            PASSPHRASE,
            "not an Onramp backup",
        ),
        (
            "another age file",
            not_onramp,
            PASSPHRASE,
            "not an Onramp backup",
        ),
        (
            "a newer format",
            newer,
            PASSPHRASE,
            "made by a newer Onramp",
        ),
    ];
    for (what, path, passphrase, says) in cases {
        let e = b
            .restore_backup(&path, &pass(passphrase), true)
            .await
            .expect_err(what);
        assert_eq!(e.code, Code::Validation, "{what}: {e:?}");
        assert!(e.message.contains(says), "{what}: {}", e.message);
        assert!(e.hint.is_some(), "{what}: a hint");
        assert_eq!(snapshot(&b).await, before, "{what}: the store changed");
        assert_eq!(meta().await, meta_before, "{what}: the key changed");

        // The same file picked in the window arrives as bytes and is refused the same way; its
        // name is all the message says of where it came from.
        let bytes = std::fs::read(&path).unwrap();
        let e = b
            .restore_backup_bytes(
                "/media/usb/picked.onrampbackup",
                bytes,
                &pass(passphrase),
                true,
            )
            .await
            .expect_err(what);
        assert_eq!(e.code, Code::Validation, "{what} (picked): {e:?}");
        assert!(e.message.contains(says), "{what} (picked): {}", e.message);
        assert!(
            !e.message.contains("/media"),
            "{what} (picked): {}",
            e.message
        );
        assert_eq!(
            snapshot(&b).await,
            before,
            "{what} (picked): the store changed"
        );
    }
    let missing = b
        .restore_backup(&out.path().join("nope"), &pass(PASSPHRASE), true)
        .await
        .unwrap_err();
    assert_eq!(missing.code, Code::NotFound);

    // Without --replace the customers already here stop it before the file is even read.
    let e = b
        .restore_backup(&good, &pass(PASSPHRASE), false)
        .await
        .unwrap_err();
    assert!(
        e.message
            .contains("This laptop already has 1 customer; restoring replaces them."),
        "{}",
        e.message
    );
    assert_eq!(snapshot(&b).await, before);

    // The good file, picked in the window, still restores over it, replacing Carla.
    let restored = b
        .restore_backup_bytes(
            "onramp-backup.onrampbackup",
            std::fs::read(&good).unwrap(),
            &pass(PASSPHRASE),
            true,
        )
        .await
        .unwrap();
    assert_eq!(restored.path, "onramp-backup.onrampbackup");
    let names: Vec<String> = b
        .list_customers(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names.len(), 2);
    assert!(!names.contains(&"Carla Diaz".to_string()), "{names:?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_into_a_folder_get_dated_names_and_never_replace_one() {
    let w = World::new().await;
    let a = w.open_bare(&w.dir.path().join("data")).await;
    customer(&a, "Ada Garcia").await;
    let downloads = w.dir.path().join("Downloads");
    let one = a
        .create_backup_in(&downloads, &pass(PASSPHRASE))
        .await
        .unwrap();
    let two = a
        .create_backup_in(&downloads, &pass(PASSPHRASE))
        .await
        .unwrap();
    assert_ne!(one.path, two.path);
    for p in [&one.path, &two.path] {
        let name = Path::new(p)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(
            name.starts_with("onramp-backup-") && name.ends_with(".onrampbackup"),
            "{name}"
        );
    }
    let events = a.events(None).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "backup_created"));
    a.close().await;
}

// ---- the terminal -------------------------------------------------------------------------------

fn bin() -> PathBuf {
    // target/debug/deps/backup-xxxx -> target/debug/onramp
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

fn cli(dir: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(dir.join("absent.toml"))
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

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: std::process::Output) -> String {
    assert!(out.status.success(), "onramp failed: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_from_the_terminal() {
    // The CLI starts its own sandbox with the default seed: the same demo keys as this one.
    let sb = onramp_sandbox::Sandbox::start(onramp_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let demo = sb.demo().clone();
    let root = tempfile::tempdir().unwrap();
    let (old, new) = (root.path().join("old"), root.path().join("new"));
    let file = root.path().join("b.onrampbackup");
    let file_arg = file.to_str().unwrap();
    ok(cli(&old, &["customer", "add", "--name", "Ada Garcia"], ""));
    ok(cli(
        &old,
        &["account", "set", "solaredge"],
        &format!("{}\n", demo.solaredge_account_key),
    ));

    let short = cli(&old, &["backup", "create", file_arg], "too short\n");
    assert!(!short.status.success());
    assert!(text(&short).contains("at least 12"), "{}", text(&short));
    let made = ok(cli(
        &old,
        &["backup", "create", file_arg],
        &format!("{PASSPHRASE}\n"),
    ));
    assert!(made.contains("Backup written to"), "{made}");
    assert!(made.contains("1 customers"), "{made}");
    let bytes = std::fs::read(&file).unwrap();
    assert!(!contains(&bytes, &demo.solaredge_account_key));
    assert!(!contains(&bytes, PASSPHRASE));

    let wrong = cli(
        &new,
        &["backup", "restore", file_arg],
        "not the passphrase\n",
    );
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("passphrase does not open"),
        "{}",
        text(&wrong)
    );
    let restored = ok(cli(
        &new,
        &["backup", "restore", file_arg],
        &format!("{PASSPHRASE}\n"),
    ));
    assert!(restored.contains("Restored"), "{restored}");
    assert!(restored.contains(RESTORE_NOTE), "{restored}");
    let list: serde_json::Value =
        serde_json::from_str(&ok(cli(&new, &["customer", "list", "--json"], ""))).unwrap();
    assert_eq!(list[0]["name"], "Ada Garcia", "{list}");
    let sites: serde_json::Value = serde_json::from_str(&ok(cli(
        &new,
        &["account", "sites", "solaredge", "--json"],
        "",
    )))
    .unwrap();
    assert!(sites["total"].as_u64().unwrap() > 0, "{sites}");

    let again = cli(
        &new,
        &["backup", "restore", file_arg],
        &format!("{PASSPHRASE}\n"),
    );
    assert!(!again.status.success());
    assert!(
        text(&again).contains(
            "This laptop already has 1 customer; restoring replaces them. Use --replace / confirm."
        ),
        "{}",
        text(&again)
    );
    let json: serde_json::Value = serde_json::from_str(&ok(cli(
        &new,
        &["backup", "restore", file_arg, "--replace", "--json"],
        &format!("{PASSPHRASE}\n"),
    )))
    .unwrap();
    assert_eq!(json["customers"], 1, "{json}");
    assert_eq!(json["note"], RESTORE_NOTE);

    let rotated = ok(cli(&new, &["vault", "rotate-key"], ""));
    assert!(rotated.contains("1 secrets re-sealed"), "{rotated}");
    let status = ok(cli(&new, &["vault", "status"], ""));
    assert!(status.contains("(working)"), "{status}");
    let status: serde_json::Value =
        serde_json::from_str(&ok(cli(&new, &["status", "--json"], ""))).unwrap();
    assert_eq!(status["vault"]["state"], "ready", "{status}");
    sb.shutdown().await;
}
