//! The data folder's key in the OS keyring (Secret Service, macOS Keychain, Windows Credential
//! Manager), and sealing with it.
//!
//! The keyring holds one entry per data folder: its data key, named
//! `{store_id}/data-key/{key id}` under the service `onramp`. Every secret itself is sealed with
//! that key ([`crate::seal`]) and kept in the store row it belongs to, written in the same
//! transaction as that row's state. The key is read once when Onramp opens (or when the
//! keyring comes back) and then held in memory, so refreshes never wait for the keyring.
//!
//! The store keeps a check value sealed with the key: a keyring that was reset (the key is
//! gone) or answers with another key is told apart from a locked one at start-up, and each is
//! its own state ([`VaultState`]), never taken for "every connection works".
//!
//! On Linux the Secret Service is reached over one connection for the process
//! (`secret_service.rs`); elsewhere through the keyring crate. A new key is written, then read
//! back, so a keyring that only pretends to keep secrets is caught before anything is sealed.
//! Secrets of the earlier layout (one keyring entry per secret) are read and removed through
//! [`Vault::legacy_get`] and [`Vault::legacy_delete`] when a data folder moves over.
//!
//! This file holds the key's lifecycle (unlock, seal, open, rotate); `keyring.rs` the entries'
//! backends (the OS keyring, or memory). Secrets in memory ([`Sensitive`] and the one-kind
//! strings) live in [`crate::sensitive`], below both the vault and the seal, and are re-exported
//! here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Code, Error, Result};
use crate::model::{VaultState, VaultStatus};
use crate::seal::{key_id_of, Aad, DataKey, Secrets};

mod keyring;

use keyring::{backend_name, Backend};

pub use crate::sensitive::{mask, AuthCode, OAuthState, Sensitive};

/// Where the vault finds and records the data folder's key: the store
/// ([`crate::store::Store`] implements it), which the vault does not depend on.
pub trait KeyRecord: Sync {
    /// A value of the store's `meta` table (`data_key`, `data_key_check`).
    fn meta(&self, key: &str) -> impl std::future::Future<Output = Result<Option<String>>> + Send;
    /// Records the key id and check value unless a key is already recorded; the id that stands.
    fn init_data_key(
        &self,
        key_id: &str,
        check: &str,
    ) -> impl std::future::Future<Output = Result<String>> + Send;
}

/// How long unlocking may wait for the keyring before Onramp opens without it.
const UNLOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The keyring's last known state: the error of the last call that found it unavailable,
/// cleared by the next call that works. Shared by every clone of a [`Vault`].
type Health = Arc<Mutex<Option<Error>>>;

#[derive(Clone, Debug)]
pub struct Vault {
    store_id: String,
    health: Health,
    backend: Backend,
    keys: Arc<RwLock<Keys>>,
}

/// The data keys this process holds, and what keeps it from holding the current one.
#[derive(Debug, Default)]
struct Keys {
    /// The key new secrets are sealed with.
    current: Option<Arc<DataKey>>,
    /// Keys that opened values sealed before a rotation (by this or another process).
    others: HashMap<String, Arc<DataKey>>,
    problem: Option<KeyProblem>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyProblem {
    /// The store names a key the keyring does not have (reset keyring, another laptop).
    Missing,
    /// The keyring's key does not open the store's check value.
    Mismatch,
}

/// Where the check value is sealed: the `meta` row of the key it proves.
fn check_aad(key_id: &str) -> Aad<'_> {
    Aad {
        table: "meta",
        row: key_id,
        generation: 0,
    }
}

const CHECK: &str = "check";
const CHECK_VALUE: &str = "onramp data key check";

fn key_entry(key_id: &str) -> String {
    format!("data-key/{key_id}")
}

pub(crate) fn key_missing() -> Error {
    Error::new(
        Code::KeychainUnavailable,
        "Onramp's key for this data folder is not in the keyring, so its saved connections cannot be opened.",
    )
    .hint("The keyring was reset, or this data folder came from another laptop. Restore a backup (Settings → Data → Restore a backup); without one, each customer signs in again.")
}

fn key_mismatch() -> Error {
    Error::new(
        Code::KeychainUnavailable,
        "The keyring holds a different key than the one this data folder was sealed with, so its saved connections cannot be opened.",
    )
    .hint("The keyring entry was changed or replaced. Restore a backup (Settings → Data → Restore a backup).")
}

fn not_unlocked() -> Error {
    Error::new(
        Code::KeychainUnavailable,
        "Onramp cannot open its secure storage: the system keyring is locked or not running. Nothing was saved.",
    )
    .hint("Unlock the keyring (GNOME Keyring or KWallet unlock when you sign in to the desktop), then press Try again.")
}

impl Vault {
    pub fn new(store_id: impl Into<String>) -> Self {
        Vault {
            store_id: store_id.into(),
            health: Health::default(),
            backend: Backend::Keyring,
            keys: Arc::default(),
        }
    }

    /// A keyring in this process's memory only: the data key of a store opened with it is
    /// gone when the process exits. Benchmarks use it to set the OS keyring aside; Onramp
    /// itself never does.
    pub fn in_memory(store_id: impl Into<String>) -> Self {
        Vault {
            backend: Backend::Memory(Default::default()),
            ..Vault::new(store_id)
        }
    }

    fn keys(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    fn keys_mut(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.keys.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether secrets can be sealed and opened now, and if not, why and what to do.
    pub fn status(&self) -> VaultStatus {
        let keys = self.keys();
        let (state, error) = match (&keys.current, keys.problem) {
            (Some(_), _) => (VaultState::Ready, None),
            (None, Some(KeyProblem::Missing)) => (VaultState::KeyMissing, Some(key_missing())),
            (None, Some(KeyProblem::Mismatch)) => (VaultState::KeyMismatch, Some(key_mismatch())),
            (None, None) => (
                VaultState::Unavailable,
                Some(
                    self.health
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone()
                        .unwrap_or_else(not_unlocked),
                ),
            ),
        };
        VaultStatus {
            available: state == VaultState::Ready,
            state,
            backend: backend_name().to_string(),
            message: error.as_ref().map(|e| e.message.clone()),
            hint: error.and_then(|e| e.hint),
        }
    }

    /// Fails with the reason (locked, reset, another key) unless the key is held.
    pub fn require_ready(&self) -> Result<()> {
        match self.keys().current {
            Some(_) => Ok(()),
            None => Err(self.unavailable()),
        }
    }

    /// The error for anything that needs a secret while the key is not held.
    fn unavailable(&self) -> Error {
        match self.keys().problem {
            Some(KeyProblem::Missing) => key_missing(),
            Some(KeyProblem::Mismatch) => key_mismatch(),
            None => self
                .health
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_else(not_unlocked),
        }
    }

    fn note(&self, outcome: Option<&Error>) {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Some(e) if e.code == Code::KeychainUnavailable => *health = Some(e.clone()),
            Some(_) => {}
            None => *health = None,
        }
    }

    /// The id of the key new secrets are sealed with, once held.
    pub fn current_key_id(&self) -> Option<String> {
        self.keys().current.as_ref().map(|k| k.id().to_string())
    }

    /// Seals a row's secrets with the current key. Fails, writing nothing anywhere, while the
    /// key is not held (keyring locked, reset or mismatched).
    pub fn seal(&self, aad: &Aad<'_>, secrets: &Secrets) -> Result<String> {
        let key = self
            .keys()
            .current
            .clone()
            .ok_or_else(|| self.unavailable())?;
        key.seal(aad, secrets)
    }

    /// Opens a sealed value: with the key that sealed it, read from the keyring if this process
    /// has not held it yet (another process rotated the key).
    pub async fn open(&self, aad: &Aad<'_>, sealed: &str) -> Result<Secrets> {
        let key = self.key_for(sealed).await?;
        key.open(aad, sealed)
    }

    async fn key_for(&self, sealed: &str) -> Result<Arc<DataKey>> {
        let id = key_id_of(sealed).unwrap_or_default().to_string();
        {
            let keys = self.keys();
            match &keys.current {
                Some(k) if k.id() == id => return Ok(k.clone()),
                None => return Err(self.unavailable()),
                Some(_) => {}
            }
            if let Some(k) = keys.others.get(&id) {
                return Ok(k.clone());
            }
        }
        let exported = self.get(&key_entry(&id)).await?.ok_or_else(key_missing)?;
        let key = Arc::new(DataKey::import(&id, &exported).ok_or_else(key_mismatch)?);
        self.keys_mut().others.insert(id, key.clone());
        Ok(key)
    }

    /// Takes hold of the data folder's key: reads the one the store names from the keyring and
    /// proves it with the check value, or, for a store that has none yet, makes one, writes it
    /// to the keyring, reads it back and only then records it in the store. A keyring that is
    /// locked or gone leaves the vault unavailable (the status says why) and changes nothing.
    pub async fn unlock(&self, store: &impl KeyRecord) -> VaultStatus {
        if self.keys().current.is_some() {
            return self.status();
        }
        let outcome = tokio::time::timeout(UNLOCK_TIMEOUT, self.try_unlock(store)).await;
        let outcome = outcome.unwrap_or_else(|_| {
            Err(Unlock::Keyring(Error::new(
                Code::KeychainUnavailable,
                "Onramp cannot open its secure storage: the keyring did not answer (it may be waiting to be unlocked).",
            )
            .hint("Unlock the keyring when the system asks; Onramp checks again by itself.")))
        });
        match outcome {
            Ok(key) => {
                let mut keys = self.keys_mut();
                keys.problem = None;
                keys.current = Some(Arc::new(key));
            }
            Err(Unlock::Problem(p)) => {
                let mut keys = self.keys_mut();
                keys.problem = Some(p);
            }
            Err(Unlock::Keyring(e)) => {
                tracing::warn!(error = %e, "secure storage unavailable");
                self.note(Some(&e));
                self.keys_mut().problem = None;
            }
        }
        self.status()
    }

    async fn try_unlock(&self, store: &impl KeyRecord) -> std::result::Result<DataKey, Unlock> {
        let named = store.meta("data_key").await?;
        let id = match named {
            Some(id) => id,
            None => {
                let key = self.create_key().await?;
                let check = key.seal(
                    &check_aad(key.id()),
                    &Secrets::new().with(CHECK, &Sensitive::new(CHECK_VALUE.into())),
                )?;
                let winner = store.init_data_key(key.id(), &check).await?;
                if winner == key.id() {
                    return Ok(key);
                }
                // Another process made the folder's key first: use that one.
                let _ = self.delete(&key_entry(key.id())).await;
                winner
            }
        };
        let exported = self
            .get(&key_entry(&id))
            .await?
            .ok_or(Unlock::Problem(KeyProblem::Missing))?;
        let key = DataKey::import(&id, &exported).ok_or(Unlock::Problem(KeyProblem::Mismatch))?;
        let check = store
            .meta("data_key_check")
            .await?
            .ok_or(Unlock::Problem(KeyProblem::Mismatch))?;
        let opened = key
            .open(&check_aad(&id), &check)
            .map_err(|_| Unlock::Problem(KeyProblem::Mismatch))?;
        if opened.get(CHECK).map(|v| v.expose().as_str()) != Some(CHECK_VALUE) {
            return Err(Unlock::Problem(KeyProblem::Mismatch));
        }
        Ok(key)
    }

    /// A new key, written to the keyring and read back (a keyring that does not keep what it
    /// is given is caught here, before anything is sealed with the key).
    async fn create_key(&self) -> Result<DataKey> {
        let key = DataKey::generate();
        let entry = key_entry(key.id());
        self.put(&entry, &key.export()).await?;
        if self.get(&entry).await?.as_ref() != Some(&key.export()) {
            let _ = self.delete(&entry).await;
            return Err(Error::new(
                Code::KeychainUnavailable,
                "Onramp cannot open its secure storage: a key written to the keyring could not be read back.",
            )
            .hint("The keyring is not persistent on this system. Install and unlock gnome-keyring or KWallet."));
        }
        Ok(key)
    }

    /// Starts a key rotation: a new key in the keyring (read back), not yet used. The caller
    /// re-seals everything under it in one transaction, then calls [`Vault::rotated`].
    pub async fn new_key(&self) -> Result<Arc<DataKey>> {
        if self.keys().current.is_none() {
            return Err(self.unavailable());
        }
        Ok(Arc::new(self.create_key().await?))
    }

    /// The check value for a key: proves at start-up that the keyring's key is the store's.
    pub fn check_value(&self, key: &DataKey) -> Result<String> {
        key.seal(
            &check_aad(key.id()),
            &Secrets::new().with(CHECK, &Sensitive::new(CHECK_VALUE.into())),
        )
    }

    /// Writes a keyring entry the way the earlier layout did (`{store_id}/{name}`): only tests
    /// that build a data folder of that layout use it.
    #[doc(hidden)]
    pub async fn legacy_put(&self, name: &str, value: &Sensitive<String>) -> Result<()> {
        self.put(name, value).await
    }

    /// The store now names `key`: seal with it from now on. The old key stays readable in this
    /// process until [`Vault::forget_key`].
    pub fn rotated(&self, key: Arc<DataKey>) {
        let mut keys = self.keys_mut();
        if let Some(old) = keys.current.replace(key) {
            keys.others.insert(old.id().to_string(), old);
        }
    }

    /// Takes the keys another vault holds (the same data folder reached through another
    /// keyring backend).
    pub fn hold_keys_of(&self, other: &Vault) {
        let theirs = other.keys();
        let mut mine = self.keys_mut();
        mine.current = theirs.current.clone();
        mine.others = theirs.others.clone();
        mine.problem = theirs.problem;
    }

    /// Replaces the key in use by one made elsewhere (a restored backup's new key).
    #[allow(dead_code)] // restoring a backup into a folder whose key is lost
    pub(crate) fn adopt(&self, key: Arc<DataKey>) {
        let mut keys = self.keys_mut();
        keys.problem = None;
        if let Some(old) = keys.current.replace(key) {
            keys.others.insert(old.id().to_string(), old);
        }
    }

    /// A fresh key for a store whose own key is lost (restoring a backup), recorded nowhere yet.
    #[allow(dead_code)] // restoring a backup into a folder whose key is lost
    pub(crate) async fn replacement_key(&self) -> Result<Arc<DataKey>> {
        Ok(Arc::new(self.create_key().await?))
    }

    /// Removes a key nothing is sealed with any more from the keyring.
    pub async fn forget_key(&self, key_id: &str) -> Result<()> {
        self.keys_mut().others.remove(key_id);
        self.delete(&key_entry(key_id)).await
    }

    /// A keyring entry of the earlier layout (`{store_id}/{secret_ref}/{name}`).
    pub async fn legacy_get(&self, name: &str) -> Result<Option<Sensitive<String>>> {
        self.get(name).await
    }

    /// Removes a keyring entry of the earlier layout, once its secret is sealed in the store.
    pub async fn legacy_delete(&self, name: &str) -> Result<()> {
        self.delete(name).await
    }
}

/// Why unlocking stopped: the keyring could not be asked, or it answered and the key is wrong.
enum Unlock {
    Keyring(Error),
    Problem(KeyProblem),
}

impl From<Error> for Unlock {
    fn from(e: Error) -> Self {
        Unlock::Keyring(e)
    }
}
