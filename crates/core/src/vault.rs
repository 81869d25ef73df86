//! Secrets in the OS keyring (Secret Service, macOS Keychain, Windows Credential Manager).
//!
//! One secret per entry (Windows caps an entry at 2,560 bytes). Entries are named
//! `{store_id}/{key}` under the service `onramp`, so two data folders never share a secret.
//! On Linux the Secret Service is reached over one connection for the process
//! (`secret_service.rs`); elsewhere through the keyring crate, which without a platform
//! feature silently falls back to an in-memory mock. `self_test` writes, reads back and
//! deletes, so a mock, a missing or a locked store is caught at start-up and reported instead
//! of losing secrets later.

use serde::Serialize;

use crate::error::{Code, Error, Result};
use crate::model::VaultStatus;

/// A secret in memory. Prints as `***` and refuses to be serialized, so it cannot slip into
/// logs, events, JSON sent to the UI, or the database.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }

    /// The secret itself: only the vault and request builders should call this.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl<T> Serialize for Sensitive<T> {
    fn serialize<S: serde::Serializer>(&self, _: S) -> std::result::Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refusing to serialize a secret"))
    }
}

impl Sensitive<String> {
    /// The last characters of the secret, for recognising it ("…B1O6"). Short secrets show nothing.
    pub fn hint(&self) -> String {
        mask(&self.0)
    }
}

/// A masked form of a credential: the last 4 characters when it is long enough to keep most of it hidden.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() >= 12 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("…{tail}")
    } else {
        "…".to_string()
    }
}

const SELF_TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The keyring's last known state: the error of the last call that found it unavailable,
/// cleared by the next call that works. Shared by every clone of a [`Vault`].
type Health = std::sync::Arc<std::sync::Mutex<Option<Error>>>;

#[derive(Clone, Debug)]
pub struct Vault {
    store_id: String,
    health: Health,
    backend: Backend,
}

/// Where the secrets go: the OS keyring, or (benchmarks only) this process's memory.
#[derive(Clone)]
enum Backend {
    Keyring,
    Memory(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Keyring => "Keyring",
            Backend::Memory(_) => "Memory",
        })
    }
}

fn backend_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "macOS Keychain"
    } else if cfg!(target_os = "windows") {
        "Windows Credential Manager"
    } else {
        "Secret Service"
    }
}

/// Where the OS keyring is reached: the Secret Service (one connection for the process) on
/// Linux, the `keyring` crate's native stores elsewhere.
#[cfg(target_os = "linux")]
mod os {
    use crate::error::Result;
    use crate::secret_service::{call, Op};

    pub(super) fn put(name: &str, value: &str) -> Result<()> {
        call(Op::Put(name.to_string(), value.to_string())).map(|_| ())
    }

    pub(super) fn get(name: &str) -> Result<Option<String>> {
        call(Op::Get(name.to_string()))
    }

    pub(super) fn delete(name: &str) -> Result<()> {
        call(Op::Delete(name.to_string())).map(|_| ())
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    use crate::error::{Code, Error, Result};

    const SERVICE: &str = "onramp";

    fn unavailable(err: &keyring::Error) -> Error {
        let detail = match err {
            keyring::Error::NoStorageAccess(e) => format!("the keyring refused access ({e})"),
            keyring::Error::PlatformFailure(e) => {
                format!("the keyring could not be reached ({e})")
            }
            other => other.to_string(),
        };
        Error::new(
            Code::KeychainUnavailable,
            format!("Secure storage is unavailable: {detail}. Nothing was saved."),
        )
        .hint("Unlock the system keychain, then try again.")
    }

    fn entry(name: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(SERVICE, name).map_err(|e| unavailable(&e))
    }

    pub(super) fn put(name: &str, value: &str) -> Result<()> {
        entry(name)?
            .set_password(value)
            .map_err(|e| unavailable(&e))
    }

    pub(super) fn get(name: &str) -> Result<Option<String>> {
        match entry(name)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(&e)),
        }
    }

    pub(super) fn delete(name: &str) -> Result<()> {
        match entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(&e)),
        }
    }
}

impl Vault {
    pub fn new(store_id: impl Into<String>) -> Self {
        Vault {
            store_id: store_id.into(),
            health: Health::default(),
            backend: Backend::Keyring,
        }
    }

    /// Secrets held in this process's memory only, lost when it exits. Benchmarks use it to
    /// set the keyring's cost aside; Onramp itself never does.
    pub fn in_memory(store_id: impl Into<String>) -> Self {
        Vault {
            backend: Backend::Memory(Default::default()),
            ..Vault::new(store_id)
        }
    }

    fn memory(
        &self,
    ) -> Option<std::sync::MutexGuard<'_, std::collections::HashMap<String, String>>> {
        match &self.backend {
            Backend::Memory(m) => Some(m.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Keyring => None,
        }
    }

    /// Whether the keyring worked on its last call (or self-test), and if not, what was wrong:
    /// a keyring locked or gone mid-run shows here at once, and clears when a call works again.
    pub fn status(&self) -> VaultStatus {
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        match &*health {
            None => VaultStatus {
                available: true,
                backend: backend_name().to_string(),
                message: None,
                hint: None,
            },
            Some(e) => VaultStatus {
                available: false,
                backend: backend_name().to_string(),
                message: Some(e.message.clone()),
                hint: e.hint.clone(),
            },
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

    fn name(&self, key: &str) -> String {
        format!("{}/{}", self.store_id, key)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let result = Self::run_blocking(f).await;
        self.note(result.as_ref().err());
        result
    }

    async fn run_blocking<T: Send + 'static>(
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // A locked keyring may show an unlock prompt; past this, nobody is answering it (or the
        // daemon hangs) and Onramp says so instead of waiting for ever.
        const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);
        match tokio::time::timeout(PATIENCE, tokio::task::spawn_blocking(f)).await {
            Ok(joined) => {
                joined.map_err(|e| Error::internal(format!("keyring task failed: {e}")))?
            }
            Err(_) => Err(Error::new(
                Code::KeychainUnavailable,
                "Secure storage did not answer within 2 minutes. Nothing was saved.",
            )
            .hint("The keyring may be locked with an unlock prompt waiting: unlock it (GNOME Keyring or KWallet), then try again.")),
        }
    }

    pub async fn put(&self, key: &str, secret: &Sensitive<String>) -> Result<()> {
        let name = self.name(key);
        if let Some(mut m) = self.memory() {
            m.insert(name, secret.expose().clone());
            return Ok(());
        }
        let value = secret.expose().clone();
        self.blocking(move || os::put(&name, &value)).await
    }

    pub async fn get(&self, key: &str) -> Result<Option<Sensitive<String>>> {
        let name = self.name(key);
        if let Some(m) = self.memory() {
            return Ok(m.get(&name).cloned().map(Sensitive::new));
        }
        self.blocking(move || Ok(os::get(&name)?.map(Sensitive::new)))
            .await
    }

    /// The secret, or an error saying it is missing from the keyring.
    pub async fn require(&self, key: &str) -> Result<Sensitive<String>> {
        self.get(key).await?.ok_or_else(|| {
            Error::new(
                Code::KeychainUnavailable,
                "A saved key is missing from secure storage.",
            )
            .hint("The keyring may have been reset. Enter the key again to reconnect.")
        })
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        let name = self.name(key);
        if let Some(mut m) = self.memory() {
            m.remove(&name);
            return Ok(());
        }
        self.blocking(move || os::delete(&name)).await
    }

    /// Write, read back through a fresh entry, delete. Catches a missing, locked or mock store.
    pub async fn self_test(&self) -> VaultStatus {
        let probe = format!("self-test/{}", uuid::Uuid::new_v4());
        let value = Sensitive::new(uuid::Uuid::new_v4().to_string());
        let check = async {
            self.put(&probe, &value).await?;
            let read = self.get(&probe).await?;
            self.delete(&probe).await?;
            if read.as_ref() != Some(&value) {
                return Err(Error::new(
                    Code::KeychainUnavailable,
                    "Secure storage is unavailable: a secret written to the keyring could not be read back.",
                )
                .hint("The keyring is not persistent on this system. Install and unlock gnome-keyring or KWallet."));
            }
            Ok(())
        };
        // A keyring waiting on an unlock prompt nobody answers must not keep Onramp from opening.
        let result = match tokio::time::timeout(SELF_TEST_TIMEOUT, check).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                Code::KeychainUnavailable,
                "Secure storage is unavailable: the keyring did not answer (it may be waiting to be unlocked).",
            )
            .hint("Unlock the keyring when the system asks; Onramp checks again by itself.")),
        };
        self.note(result.as_ref().err());
        self.status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_never_prints_or_serializes() {
        let s = Sensitive::new("L4QLVQ1LOKCQX2193VSEICXW61NP6B1O".to_string());
        assert_eq!(format!("{s:?}"), "***");
        assert!(serde_json::to_string(&s).is_err());
        assert_eq!(s.hint(), "…6B1O");
    }

    #[test]
    fn short_secrets_are_fully_masked() {
        assert_eq!(mask("abc"), "…");
        assert_eq!(mask("123456789012"), "…9012");
    }
}
