//! The Sandbox environment's vendors for a data folder, shared by every process on it (the app,
//! each CLI call): one of them serves, the others talk to it over loopback, and when the one
//! serving exits, one of the others takes over from the same file.
//!
//! - The vendors' books, ports and seed live in the data folder's `sandbox-vendors.sqlite`
//!   (see `store.rs`), saved before each answer goes out.
//! - The process that serves holds an exclusive lock on `sandbox-vendors.lock` for as long as it
//!   serves; the OS lets go of it when the process ends, however it ends (a SIGKILL included).
//! - A process that finds the lock held reads the directory (endpoints, demo apps and keys) the
//!   server recorded, waits until the vendors answer there, and tries the lock every quarter of
//!   a second from then on: the first to get it serves from the same file on the same ports.
//!
//! So two processes never serve the same file at once (their books would diverge), and the
//! vendors stay where the stored connections expect them.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::{self, VendorStore};
use crate::{Directory, MovedPort, Sandbox, SandboxConfig};

/// The lock the serving process holds, in the data folder.
pub const LOCK_FILE: &str = "sandbox-vendors.lock";

/// How long a process waits for the vendors another process serves to answer.
const WAIT_FOR_SERVER: Duration = Duration::from_secs(15);
/// How often a process that does not serve tries to take over.
const TAKEOVER_EVERY: Duration = Duration::from_millis(250);
/// How long a process taking over waits for the ports the previous one is letting go of.
const PORT_PATIENCE: Duration = Duration::from_secs(3);

struct Served {
    sandbox: Arc<Sandbox>,
    /// Declared after the sandbox: the lock goes when the servers have.
    _lock: File,
}

struct Inner {
    store: Arc<VendorStore>,
    lock_path: PathBuf,
    config: SandboxConfig,
    served: Mutex<Option<Served>>,
}

impl Inner {
    /// Serves the vendors if no other process does: the sandbox now served here, or None.
    async fn try_serve(&self) -> io::Result<Option<Arc<Sandbox>>> {
        let lock = store::create_private(&self.lock_path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        let sandbox = Arc::new(
            Sandbox::start_kept(self.config.clone(), self.store.clone(), PORT_PATIENCE).await?,
        );
        *self.served.lock().unwrap_or_else(|p| p.into_inner()) = Some(Served {
            sandbox: sandbox.clone(),
            _lock: lock,
        });
        Ok(Some(sandbox))
    }
}

/// The data folder's sandbox, served by this process or by another one on the same folder.
pub struct SharedSandbox {
    directory: Directory,
    inner: Arc<Inner>,
    moved: Vec<MovedPort>,
    takeover: Option<tokio::task::JoinHandle<()>>,
}

impl SharedSandbox {
    /// Opens the sandbox of `data_dir` (which must exist): serves it from its file if no other
    /// process does, otherwise uses the one another process serves and stands by to take over.
    /// `config`'s seed is used only when the file is new; its SolarEdge and Solis ports, when
    /// not 0, are used instead of the remembered ones.
    pub async fn open(data_dir: &Path, config: SandboxConfig) -> io::Result<SharedSandbox> {
        let store = Arc::new(VendorStore::open(&data_dir.join(store::FILE)).await?);
        let inner = Arc::new(Inner {
            store,
            lock_path: data_dir.join(LOCK_FILE),
            config,
            served: Mutex::default(),
        });
        let deadline = tokio::time::Instant::now() + WAIT_FOR_SERVER;
        loop {
            if let Some(sb) = inner.try_serve().await? {
                return Ok(SharedSandbox {
                    directory: sb.directory(),
                    moved: sb.moved_ports().to_vec(),
                    inner,
                    takeover: None,
                });
            }
            if let Some(directory) = served_elsewhere(&inner.store).await? {
                let takeover = tokio::spawn(stand_by(inner.clone()));
                return Ok(SharedSandbox {
                    directory,
                    moved: Vec::new(),
                    inner,
                    takeover: Some(takeover),
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "another process on this data folder holds its sandbox ({}), but the \
                     sandbox's vendors do not answer",
                    data_dir.join(LOCK_FILE).display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The vendors' endpoints, demo apps and keys, wherever they are served.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The sandbox, while this process is the one serving it.
    pub fn served(&self) -> Option<Arc<Sandbox>> {
        self.inner
            .served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|s| s.sandbox.clone())
    }

    /// The servers that could not have their remembered port when this process started serving.
    pub fn moved_ports(&self) -> &[MovedPort] {
        &self.moved
    }

    /// The sandbox's file.
    pub fn path(&self) -> &Path {
        self.inner.store.path()
    }

    /// Stops serving (another process may take over) and standing by.
    pub async fn shutdown(mut self) {
        if let Some(t) = self.takeover.take() {
            t.abort();
        }
        let served = self
            .inner
            .served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(Served { sandbox, _lock }) = served {
            if let Ok(sb) = Arc::try_unwrap(sandbox) {
                sb.shutdown().await;
            }
            drop(_lock);
        }
        self.inner.store.close().await;
    }
}

impl Drop for SharedSandbox {
    fn drop(&mut self) {
        if let Some(t) = self.takeover.take() {
            t.abort();
        }
    }
}

/// The directory the serving process recorded, once its vendors answer there.
async fn served_elsewhere(store: &VendorStore) -> io::Result<Option<Directory>> {
    let Some(json) = store.meta("directory").await? else {
        return Ok(None);
    };
    let Ok(directory) = serde_json::from_str::<Directory>(&json) else {
        // Written by another version: the server will write it again.
        return Ok(None);
    };
    let addr = directory
        .derapi_url
        .strip_prefix("http://")
        .unwrap_or(&directory.derapi_url)
        .to_string();
    let answers =
        tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
            .await
            .is_ok_and(|c| c.is_ok());
    Ok(answers.then_some(directory))
}

/// Tries the lock until this process gets it, then serves.
async fn stand_by(inner: Arc<Inner>) {
    loop {
        tokio::time::sleep(TAKEOVER_EVERY).await;
        match inner.try_serve().await {
            Ok(Some(sb)) => {
                tracing::info!(moved = ?sb.moved_ports(), "the sandbox's server exited: this process serves it now");
                return;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not take over serving the sandbox"),
        }
    }
}
