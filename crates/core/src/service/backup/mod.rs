//! Backups: the whole data folder in one file, encrypted to a passphrase the installer chooses,
//! so a new laptop (or a keyring that was reset) gets every customer and connection back.
//!
//! The file is an age file (scrypt passphrase recipient) whose plaintext is two JSON values:
//! a small header (format, version, when, which Onramp, how many of each) and the body (every
//! table's rows, and every secret opened). The secrets are not sealed with the data key: the
//! laptop that restores has its own. The JSON is streamed into age's writer, so no plaintext
//! ever reaches the disk; the file is written under a temporary name (0600), synced, then
//! renamed into place.
//!
//! A restore reads, decrypts and checks everything before it writes anything, then replaces
//! the store's content in one transaction, sealing every secret again with this data folder's
//! key (a fresh one when the keyring lost the old one). Pending sign-ins are not carried.
//!
//! This file holds the payload's shape and the facade's calls; `errors.rs` the errors in the
//! installer's words; `file.rs` writing, reading and checking the file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::Onramp;
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::seal::{Aad, Secrets};
use crate::store::{
    app_aad, app_aad_at, connection_aad, would_replace, KeyChange, NewEvent, Snapshot,
};
use crate::vault::Sensitive;

mod errors;
mod file;

use errors::{check_passphrase, io_error, secret_string};
pub use file::check_payload as check_backup_payload;
use file::{read_source, validate, write_file, Source};

/// The payload's format name.
pub const FORMAT: &str = "onramp-backup";
/// The payload's format version this Onramp writes and reads.
pub const VERSION: u64 = 1;
/// The shortest passphrase a backup is made with.
pub const MIN_PASSPHRASE: usize = 12;
/// The backup file's extension.
pub const EXTENSION: &str = "onrampbackup";
/// What a backup cannot bring back, said after every restore.
pub const RESTORE_NOTE: &str = "A refresh token rotated after the backup was taken is dead at the vendor; such connections show \"needs sign-in\" at their next refresh.";

/// The payload's first JSON value.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u64,
    created_at: String,
    onramp_version: String,
    counts: Counts,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Counts {
    customers: u32,
    connections: u32,
    sites: u32,
    vendor_apps: u32,
    usage_series: u32,
    usage_months: u32,
    events: u32,
    secrets: u32,
}

impl Counts {
    fn of(data: &Snapshot, secrets: usize) -> Counts {
        let n = |len: usize| u32::try_from(len).unwrap_or(u32::MAX);
        Counts {
            customers: n(data.customers.len()),
            connections: n(data.connections.len()),
            sites: n(data.sites.len()),
            vendor_apps: n(data.provider_apps.len()),
            usage_series: n(data.usage_series.len()),
            usage_months: n(data.usage_months.len()),
            events: n(data.events.len()),
            secrets: n(secrets),
        }
    }
}

/// A row's secrets in plain text (inside the encrypted payload only), wiped when dropped.
#[derive(Default, Serialize, Deserialize)]
#[serde(transparent)]
struct SecretValues(BTreeMap<String, String>);

impl Drop for SecretValues {
    fn drop(&mut self) {
        for v in self.0.values_mut() {
            v.zeroize();
        }
    }
}

impl SecretValues {
    fn of(secrets: &Secrets) -> SecretValues {
        SecretValues(
            secrets
                .names()
                .filter_map(|n| Some((n.to_string(), secrets.get(n)?.expose().clone())))
                .collect(),
        )
    }

    fn secrets(&self) -> Secrets {
        let mut s = Secrets::new();
        for (k, v) in &self.0 {
            s.insert(k, Sensitive::new(v.clone()));
        }
        s
    }
}

/// One row's secrets, by the row's place (`connections`/id, `provider_apps`/`{provider}/{kind}`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretEntry {
    table: String,
    row: String,
    values: SecretValues,
}

/// The payload's second JSON value.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    data: Snapshot,
    secrets: Vec<SecretEntry>,
}

fn summary(path: &Path, header: &Header, note: Option<String>) -> BackupSummary {
    let c = header.counts;
    BackupSummary {
        path: path.display().to_string(),
        created_at: header.created_at.clone(),
        onramp_version: header.onramp_version.clone(),
        customers: c.customers,
        connections: c.connections,
        sites: c.sites,
        vendor_apps: c.vendor_apps,
        usage_series: c.usage_series,
        events: c.events,
        secrets: c.secrets,
        note,
    }
}

/// The name a backup made now gets: `onramp-backup-YYYY-MM-DD-HHMM.onrampbackup`.
pub fn backup_file_name(at: time::OffsetDateTime) -> String {
    format!(
        "onramp-backup-{:04}-{:02}-{:02}-{:02}{:02}.{EXTENSION}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

impl Onramp {
    /// Writes one file with everything this data folder holds (customers, connections with
    /// their states and details, sites, vendor apps, installer accounts and sign-in settings,
    /// usage, the activity log) and every secret, opened and encrypted with the rest to
    /// `passphrase` (at least [`MIN_PASSPHRASE`] characters). Pending sign-ins are not carried.
    pub async fn create_backup(
        &self,
        path: &Path,
        passphrase: &Sensitive<String>,
    ) -> Result<BackupSummary> {
        check_passphrase(passphrase)?;
        let vault = self.vault.status();
        if !vault.available {
            return Err(Error::new(
                Code::KeychainUnavailable,
                vault.message.unwrap_or_else(|| {
                    "Onramp cannot open its secure storage, so the secrets cannot be backed up."
                        .into()
                }),
            )
            .hint(vault.hint.unwrap_or_default()));
        }
        // Secrets still kept the earlier way move into their rows first.
        self.reconcile().await;
        if self
            .store
            .legacy_rows()
            .await?
            .iter()
            .any(|r| r.table != "pending_authorizations")
        {
            return Err(Error::new(
                Code::KeychainUnavailable,
                "Some secrets are still kept the earlier way in the keyring and could not be moved into the store, so they cannot be backed up yet.",
            )
            .hint("Make sure the keyring is unlocked, restart Onramp, then back up again."));
        }
        let data = self.store.snapshot().await?;
        let mut secrets = Vec::new();
        for c in &data.connections {
            if let Some(sealed) = &c.sealed {
                let opened = self
                    .vault
                    .open(&connection_aad(&c.id, c.generation), sealed)
                    .await?;
                secrets.push(SecretEntry {
                    table: "connections".into(),
                    row: c.id.clone(),
                    values: SecretValues::of(&opened),
                });
            }
        }
        for a in &data.provider_apps {
            if let Some(sealed) = &a.sealed {
                let key = a.key();
                let opened = self
                    .vault
                    .open(&app_aad_at(&key, a.generation), sealed)
                    .await?;
                secrets.push(SecretEntry {
                    table: "provider_apps".into(),
                    row: key,
                    values: SecretValues::of(&opened),
                });
            }
        }
        secrets.retain(|s| !s.values.0.is_empty());
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            created_at: crate::store::rfc3339(self.now()),
            onramp_version: env!("CARGO_PKG_VERSION").into(),
            counts: Counts::of(&data, secrets.len()),
        };
        let body = Body { data, secrets };
        let (target, pass, h) = (
            path.to_path_buf(),
            secret_string(passphrase),
            header.clone(),
        );
        // scrypt takes about a second on purpose: off the async threads.
        tokio::task::spawn_blocking(move || write_file(&target, pass, &h, &body))
            .await
            .map_err(|e| Error::internal(format!("the backup task failed: {e}")))??;
        let c = header.counts;
        let _ = self
            .store
            .add_event(&NewEvent {
                customer_id: None,
                connection_id: None,
                provider: None,
                kind: crate::model::EventKind::BackupCreated,
                summary: format!(
                    "Backup made: {} customers, {} connections, {} secrets",
                    c.customers, c.connections, c.secrets
                ),
                actor: self.actor,
            })
            .await;
        Ok(summary(path, &header, None))
    }

    /// [`Onramp::create_backup`] into `folder` (the user's Downloads in the app) under a name
    /// that says when (`onramp-backup-YYYY-MM-DD-HHMM.onrampbackup`); an existing file is never
    /// replaced.
    pub async fn create_backup_in(
        &self,
        folder: &Path,
        passphrase: &Sensitive<String>,
    ) -> Result<BackupSummary> {
        check_passphrase(passphrase)?;
        std::fs::create_dir_all(folder).map_err(|e| io_error(folder, "create", &e))?;
        let name = backup_file_name(self.now());
        let stem = name.trim_end_matches(&format!(".{EXTENSION}")).to_string();
        let path = (1..)
            .map(|n| match n {
                1 => folder.join(&name),
                n => folder.join(format!("{stem}-{n}.{EXTENSION}")),
            })
            .find(|p| !p.exists())
            .unwrap_or_else(|| folder.join(&name));
        self.create_backup(&path, passphrase).await
    }

    /// Replaces this data folder's content with a backup's. Everything is decrypted, parsed
    /// and checked first; then, in one transaction, the store's rows are replaced and every
    /// secret is sealed again with this data folder's key, or with a fresh key when the
    /// keyring lost the old one (the key and its check value are recorded in the same
    /// transaction). A store with customers is replaced only with `replace`. Any failure
    /// leaves the store as it was.
    pub async fn restore_backup(
        &self,
        path: &Path,
        passphrase: &Sensitive<String>,
        replace: bool,
    ) -> Result<BackupSummary> {
        self.restore(Source::File(path.to_path_buf()), passphrase, replace)
            .await
    }

    /// [`Onramp::restore_backup`] of a file the installer picked in the window: its bytes and
    /// its name (only the name's last part is kept, for the messages).
    pub async fn restore_backup_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        passphrase: &Sensitive<String>,
        replace: bool,
    ) -> Result<BackupSummary> {
        let name = Path::new(name)
            .file_name()
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "the backup".into());
        self.restore(Source::Picked { name, bytes }, passphrase, replace)
            .await
    }

    async fn restore(
        &self,
        source: Source,
        passphrase: &Sensitive<String>,
        replace: bool,
    ) -> Result<BackupSummary> {
        let path = source.name().to_path_buf();
        let path = path.as_path();
        if passphrase.expose().is_empty() {
            return Err(Error::validation("Enter the backup's passphrase."));
        }
        if !replace {
            let n = self.store.customer_count().await?;
            if n > 0 {
                return Err(would_replace(n));
            }
        }
        let vault = self.vault.status();
        if vault.state == VaultState::Unavailable {
            return Err(Error::new(
                Code::KeychainUnavailable,
                vault.message.unwrap_or_else(|| {
                    "Onramp cannot open its secure storage, so it cannot keep the restored secrets."
                        .into()
                }),
            )
            .hint(vault.hint.unwrap_or_default()));
        }
        let pass = secret_string(passphrase);
        let (header, body) = tokio::task::spawn_blocking(move || read_source(&source, pass))
            .await
            .map_err(|e| Error::internal(format!("the restore task failed: {e}")))??;
        validate(path, &header, &body)?;

        // The key the restored secrets are sealed with.
        let replacement = match vault.state {
            VaultState::Ready => None,
            _ => Some(self.vault.replacement_key().await?),
        };
        let seal = |aad: &Aad<'_>, secrets: &Secrets| match &replacement {
            Some(key) => key.seal(aad, secrets),
            None => self.vault.seal(aad, secrets),
        };
        let Body { mut data, secrets } = body;
        let by_place: HashMap<(&str, &str), &SecretValues> = secrets
            .iter()
            .map(|s| ((s.table.as_str(), s.row.as_str()), &s.values))
            .collect();
        let sealed = (|| -> Result<()> {
            for c in &mut data.connections {
                c.generation = 0;
                c.sealed = by_place
                    .get(&("connections", c.id.as_str()))
                    .map(|v| seal(&connection_aad(&c.id, 0), &v.secrets()))
                    .transpose()?;
            }
            for a in &mut data.provider_apps {
                let key = a.key();
                a.generation = 0;
                a.sealed = by_place
                    .get(&("provider_apps", key.as_str()))
                    .map(|v| seal(&app_aad(&key), &v.secrets()))
                    .transpose()?;
            }
            Ok(())
        })();
        let check = match (&sealed, &replacement) {
            (Ok(()), Some(key)) => Some(self.vault.check_value(key)),
            _ => None,
        }
        .transpose();
        let current = self.vault.current_key_id().unwrap_or_default();
        let written = match (sealed, check) {
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(()), Ok(check)) => {
                let key = match (&replacement, &check) {
                    (Some(k), Some(check)) => KeyChange::Replace {
                        key_id: k.id(),
                        check,
                    },
                    _ => KeyChange::Keep { key_id: &current },
                };
                let c = header.counts;
                self.store
                    .replace_all(
                        &data,
                        key,
                        replace,
                        &NewEvent {
                            customer_id: None,
                            connection_id: None,
                            provider: None,
                            kind: crate::model::EventKind::BackupRestored,
                            summary: format!(
                                "Restored the backup made {}: {} customers, {} connections",
                                header.created_at, c.customers, c.connections
                            ),
                            actor: self.actor,
                        },
                    )
                    .await
            }
        };
        if let Err(e) = written {
            if let Some(key) = &replacement {
                let _ = self.vault.forget_key(key.id()).await;
            }
            return Err(e);
        }
        if let Some(key) = replacement {
            self.vault.adopt(key);
        }
        // Nothing read before the restore may be served after it.
        self.saved_apps().clear();
        self.account_sites.lock().await.clear();
        self.lifecycle.forget_connections();
        Ok(summary(path, &header, Some(RESTORE_NOTE.into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_say_when() {
        let at = time::macros::datetime!(2025-03-07 09:05 UTC);
        assert_eq!(
            backup_file_name(at),
            "onramp-backup-2025-03-07-0905.onrampbackup"
        );
    }

    #[test]
    fn short_passphrases_are_refused() {
        let e = check_passphrase(&Sensitive::new("short pass".into())).unwrap_err();
        assert_eq!(e.code, Code::Validation);
        assert!(e.message.contains("at least 12"), "{}", e.message);
        assert!(check_passphrase(&Sensitive::new("twelve chars".into())).is_ok());
    }

    #[test]
    fn secrets_survive_the_payload_round_trip() {
        let s = Secrets::new().with("refresh_token", &Sensitive::new("rt-1".into()));
        let v = SecretValues::of(&s);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#"{"refresh_token":"rt-1"}"#);
        let back: SecretValues = serde_json::from_str(&json).unwrap();
        assert_eq!(back.secrets(), s);
    }
}
