//! Where the vault's entries go: the OS keyring (the Secret Service over one connection for the
//! process on Linux, the keyring crate's native stores elsewhere) or this process's memory, and
//! the vault's calls to it, each off the async runtime and bounded in time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Vault;
use crate::error::{Code, Error, Result};
use crate::sensitive::Sensitive;

/// Where the keyring entries go: the OS keyring, or (benchmarks, unit tests) this process's memory.
#[derive(Clone)]
pub(super) enum Backend {
    Keyring,
    Memory(Arc<Mutex<HashMap<String, String>>>),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Keyring => "Keyring",
            Backend::Memory(_) => "Memory",
        })
    }
}

pub(super) fn backend_name() -> &'static str {
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
        let what = match err {
            keyring::Error::NoStorageAccess(_) => "the keychain is locked",
            _ => "the keychain could not be reached",
        };
        Error::new(
            Code::KeychainUnavailable,
            format!("Secure storage is unavailable: {what}. Nothing was saved."),
        )
        .hint("Unlock the system keychain, then try again.")
        .details(err.to_string())
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
    fn name(&self, key: &str) -> String {
        format!("{}/{}", self.store_id, key)
    }

    fn memory(&self) -> Option<std::sync::MutexGuard<'_, HashMap<String, String>>> {
        match &self.backend {
            Backend::Memory(m) => Some(m.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Keyring => None,
        }
    }

    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // A locked keyring may show an unlock prompt; past this, nobody is answering it (or the
        // daemon hangs) and Onramp says so instead of waiting for ever.
        const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);
        let result = match tokio::time::timeout(PATIENCE, tokio::task::spawn_blocking(f)).await {
            Ok(joined) => {
                joined.map_err(|e| Error::internal(format!("keyring task failed: {e}")))?
            }
            Err(_) => Err(Error::new(
                Code::KeychainUnavailable,
                "Secure storage did not answer within 2 minutes. Nothing was saved.",
            )
            .hint("The keyring may be locked with an unlock prompt waiting: unlock it (GNOME Keyring or KWallet), then try again.")),
        };
        self.note(result.as_ref().err());
        result
    }

    pub(super) async fn put(&self, key: &str, secret: &Sensitive<String>) -> Result<()> {
        let name = self.name(key);
        if let Some(mut m) = self.memory() {
            m.insert(name, secret.expose().clone());
            return Ok(());
        }
        let value = secret.expose().clone();
        self.blocking(move || os::put(&name, &value)).await
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<Sensitive<String>>> {
        let name = self.name(key);
        if let Some(m) = self.memory() {
            return Ok(m.get(&name).cloned().map(Sensitive::new));
        }
        self.blocking(move || Ok(os::get(&name)?.map(Sensitive::new)))
            .await
    }

    pub(super) async fn delete(&self, key: &str) -> Result<()> {
        let name = self.name(key);
        if let Some(mut m) = self.memory() {
            m.remove(&name);
            return Ok(());
        }
        self.blocking(move || os::delete(&name)).await
    }
}
