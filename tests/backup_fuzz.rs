//! Hostile backup files against a real store: the plaintext of a real backup, mutated a fixed
//! number of times by the fuzz crate's mutator (cut, flipped, spliced, numbers changed), each
//! encrypted to the passphrase like a backup and restored over a store in a real SQLite file
//! with the real keyring. Every refused file says so with a validation error and leaves the
//! store's rows and its key exactly as they were; an accepted one is a whole restore.
//! `FUZZ_REPLAY_RUNS` sets the count (200 unless told).

mod common;

use std::io::{Read, Write};
use std::path::Path;

use common::*;
use onramp_core::store::Snapshot;
use onramp_core::vault::Sensitive;
use onramp_core::{Code, Onramp};
use onramp_fuzz::Mutator;

const PASSPHRASE: &str = "maple ladder seven orbit";

fn pass() -> Sensitive<String> {
    Sensitive::new(PASSPHRASE.to_string())
}

async fn state(o: &Onramp) -> (Snapshot, Vec<(String, String)>) {
    let meta = sqlx::query_as::<_, (String, String)>("SELECT key, value FROM meta ORDER BY key")
        .fetch_all(o.store().pool())
        .await
        .unwrap();
    (o.store().snapshot().await.unwrap(), meta)
}

/// `plaintext` encrypted to the passphrase with a small scrypt work factor (the file says its
/// own factor, so restoring it is quick; Onramp's own backups use age's default).
fn encrypt(path: &Path, plaintext: &[u8]) {
    let mut r = age::scrypt::Recipient::new(PASSPHRASE.to_string().into());
    r.set_work_factor(2);
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut w = enc
        .wrap_output(std::fs::File::create(path).unwrap())
        .unwrap();
    w.write_all(plaintext).unwrap();
    w.finish().unwrap();
}

fn decrypt(path: &Path) -> Vec<u8> {
    let d = age::Decryptor::new(std::fs::File::open(path).unwrap()).unwrap();
    let id = age::scrypt::Identity::new(PASSPHRASE.to_string().into());
    let mut out = Vec::new();
    d.decrypt(std::iter::once(&id as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_backup_file_changes_nothing_in_the_store() {
    let w = World::new().await;
    let out = tempfile::tempdir().unwrap();
    let good = out.path().join("good.onrampbackup");
    let a = w.open_bare(&w.dir.path().join("old")).await;
    let ada = customer(&a, "Ada Garcia").await;
    a.connect_customer_key(&ada, customer_key(&w, 0))
        .await
        .unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/core/tests/data/greenbutton/ngma_natural_gas_billing_billing_data_Service_1_1_2021-05-26_to_2024-04-25.xml");
    a.import_usage_file(&ada, &sample).await.unwrap();
    a.create_backup(&good, &pass()).await.unwrap();
    a.close().await;
    let plain = decrypt(&good);

    let b = w.open_bare(&w.dir.path().join("other")).await;
    let carla = customer(&b, "Carla Diaz").await;
    b.connect_customer_key(&carla, customer_key(&w, 1))
        .await
        .unwrap();
    let mut before = state(&b).await;

    let runs: usize = std::env::var("FUZZ_REPLAY_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut m = Mutator::new(7);
    let (mut refused, mut restored) = (0, 0);
    let file = out.path().join("mutant.onrampbackup");
    for i in 0..runs {
        let mutant = m.mutate(&plain, &plain, plain.len() * 2);
        encrypt(&file, &mutant);
        match b.restore_backup(&file, &pass(), true).await {
            Err(e) => {
                refused += 1;
                assert_eq!(e.code, Code::Validation, "mutant {i}: {e:?}");
                assert!(
                    e.message.contains("Nothing was restored")
                        || e.message.contains("not an Onramp backup"),
                    "mutant {i}: {}",
                    e.message
                );
                assert!(
                    state(&b).await == before,
                    "mutant {i} was refused but changed the store"
                );
            }
            Ok(_) => {
                // A change the checks cannot tell from real data (a name, a month's figure):
                // restored whole, and the store is now that.
                restored += 1;
                before = state(&b).await;
            }
        }
    }
    assert!(
        refused > runs / 2,
        "only {refused} of {runs} mutants were refused"
    );
    eprintln!("{runs} mutated backups: {refused} refused with the store unchanged, {restored} restored whole");
}
