//! The Linux vault backend: one Secret Service connection and one encrypted session for the
//! whole process, owned by a thread of its own, instead of a new D-Bus connection, a new
//! Diffie-Hellman session and a disconnect for every keyring call.
//!
//! It is faster (issue: the keyring was the refresh sweep's bottleneck), and it spares the
//! daemon the connect-call-disconnect churn that trips a known gnome-keyring race (the daemon
//! aborts when it handles a request of a client that already left). Items keep the attributes
//! the `keyring` crate gives them (`service`, `username`, `target`, `application`), so secrets
//! stored by earlier versions of Onramp are found and replaced in place.
//!
//! If the daemon dies, the next call reconnects (the session bus starts a new one) and the call
//! is made once more; a locked keyring asks for the unlock prompt and gives up after a minute.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use dbus_secret_service::{EncryptionType, Error as SsError, SecretService};

use crate::error::{Code, Error, Result};

const SERVICE: &str = "onramp";
const TARGET: &str = "default";
/// How long an unlock prompt may stay open before the call gives up.
const PROMPT_SECONDS: u64 = 60;

pub(crate) enum Op {
    Get(String),
    Put(String, String),
    Delete(String),
}

struct Job {
    op: Op,
    reply: mpsc::Sender<Result<Option<String>>>,
}

fn worker() -> &'static Mutex<mpsc::Sender<Job>> {
    static WORKER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    WORKER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("onramp-keyring".into())
            .spawn(move || {
                let mut conn: Option<SecretService> = None;
                for job in rx {
                    let _ = job.reply.send(run(&mut conn, &job.op));
                }
            })
            .expect("the keyring thread starts");
        Mutex::new(tx)
    })
}

/// Runs one keyring operation on the process's connection (blocking).
pub(crate) fn call(op: Op) -> Result<Option<String>> {
    let (reply, answer) = mpsc::channel();
    worker()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(Job { op, reply })
        .map_err(|_| Error::internal("the keyring thread stopped"))?;
    answer
        .recv()
        .map_err(|_| Error::internal("the keyring thread stopped"))?
}

fn run(conn: &mut Option<SecretService>, op: &Op) -> Result<Option<String>> {
    match attempt(conn, op) {
        // The connection or its session died with the daemon: start over once.
        Err(SsError::Dbus(e)) => {
            tracing::warn!(error = %e, "the keyring connection failed; reconnecting");
            *conn = None;
            attempt(conn, op).map_err(|e| unavailable(&e))
        }
        other => other.map_err(|e| unavailable(&e)),
    }
}

fn attempt(
    conn: &mut Option<SecretService>,
    op: &Op,
) -> std::result::Result<Option<String>, SsError> {
    if conn.is_none() {
        *conn = Some(SecretService::connect_with_max_prompt_timeout(
            EncryptionType::Dh,
            PROMPT_SECONDS,
        )?);
    }
    let ss = conn.as_ref().expect("connected above");
    match op {
        Op::Get(name) => {
            let found = ss.search_items(search(name))?;
            let item = match (found.unlocked.first(), found.locked.first()) {
                (Some(item), _) => item,
                (None, Some(item)) => {
                    item.unlock()?;
                    item
                }
                (None, None) => return Ok(None),
            };
            let secret = item.get_secret()?;
            String::from_utf8(secret)
                .map(Some)
                .map_err(|_| SsError::UnsupportedSecretFormat)
        }
        Op::Put(name, secret) => {
            let collection = ss.get_default_collection()?;
            collection.ensure_unlocked()?;
            let mut attributes = search(name);
            attributes.insert("application", "rust-keyring");
            // `replace`: an item with the same attributes gets the new secret in place.
            collection.create_item(
                &format!("{name}@{SERVICE}:{TARGET} (Onramp)"),
                attributes,
                secret.as_bytes(),
                true,
                "text/plain",
            )?;
            Ok(None)
        }
        Op::Delete(name) => {
            let found = ss.search_items(search(name))?;
            for item in found.unlocked.iter() {
                item.delete()?;
            }
            for item in found.locked.iter() {
                item.unlock()?;
                item.delete()?;
            }
            Ok(None)
        }
    }
}

fn search(name: &str) -> HashMap<&str, &str> {
    HashMap::from([("service", SERVICE), ("username", name), ("target", TARGET)])
}

fn unavailable(err: &SsError) -> Error {
    let (what, todo) = match err {
        SsError::Locked | SsError::Prompt => (
            "the keyring is locked",
            "Unlock your keyring (GNOME Keyring or KWallet; it opens when you sign in to the laptop), then try again.",
        ),
        _ => (
            "the keyring could not be reached",
            "Onramp keeps keys and tokens in the system keyring (GNOME Keyring or KWallet) and none answers: sign in to the desktop session, or have gnome-keyring installed and started, then try again.",
        ),
    };
    Error::new(
        Code::KeychainUnavailable,
        format!("Secure storage is unavailable: {what}. Nothing was saved."),
    )
    .hint(todo)
    .details(err.to_string())
}
