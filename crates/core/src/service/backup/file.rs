//! The backup file: written encrypted under a temporary name, synced and renamed into place;
//! read back and decrypted whole; checked to hold together before anything is restored.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::errors::{decrypt_error, io_error, newer, not_a_backup, payload_error, stream_error};
use super::{Body, Counts, Header, FORMAT, VERSION};
use crate::error::{Error, Result};
use crate::model::{ConnectionState, CredentialKind, ProviderId};

/// Writes the payload, encrypted, to a temporary file beside `path`, syncs it and renames it
/// into place. Nothing is left behind on failure.
pub(super) fn write_file(
    path: &Path,
    passphrase: age::secrecy::SecretString,
    header: &Header,
    body: &Body,
) -> Result<()> {
    if path.is_dir() {
        return Err(Error::validation(format!(
            "{} is a folder: give the backup a file name.",
            path.display()
        )));
    }
    let name = path
        .file_name()
        .ok_or_else(|| Error::validation("Give the backup a file name."))?
        .to_string_lossy()
        .to_string();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(".{name}.{}.partial", uuid::Uuid::new_v4().simple()));
    let written = (|| -> std::io::Result<()> {
        let file = crate::private::write_new(&tmp)?;
        let encryptor = age::Encryptor::with_user_passphrase(passphrase);
        let mut w = encryptor
            .wrap_output(BufWriter::new(file))
            .map_err(std::io::Error::other)?;
        serde_json::to_writer(&mut w, header)?;
        w.write_all(b"\n")?;
        serde_json::to_writer(&mut w, body)?;
        let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(path, "write the backup", &e));
    }
    Ok(())
}

/// Where a backup is read from: a file on disk (dropped on the window, or named on the
/// command line), or the bytes of a file the installer picked in the window.
pub(super) enum Source {
    File(PathBuf),
    Picked { name: PathBuf, bytes: Vec<u8> },
}

impl Source {
    /// The file as the installer's messages name it.
    pub(super) fn name(&self) -> &Path {
        match self {
            Source::File(path) => path,
            Source::Picked { name, .. } => name,
        }
    }
}

/// Decrypts and parses a backup (nothing is written anywhere).
pub(super) fn read_source(
    source: &Source,
    passphrase: age::secrecy::SecretString,
) -> Result<(Header, Body)> {
    match source {
        Source::File(path) => {
            let file = std::fs::File::open(path).map_err(|e| io_error(path, "read", &e))?;
            if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
                return Err(not_a_backup(path));
            }
            decrypt(path, BufReader::new(file), passphrase)
        }
        Source::Picked { name, bytes } if bytes.is_empty() => Err(not_a_backup(name)),
        Source::Picked { name, bytes } => decrypt(name, &bytes[..], passphrase),
    }
}

fn decrypt(
    path: &Path,
    file: impl BufRead,
    passphrase: age::secrecy::SecretString,
) -> Result<(Header, Body)> {
    let decryptor = age::Decryptor::new_buffered(file).map_err(|e| match e {
        // No age header could be read at all.
        age::DecryptError::Io(_) => not_a_backup(path),
        e => decrypt_error(path, e),
    })?;
    if !decryptor.is_scrypt() {
        // An age file, but encrypted to someone's key: not a backup Onramp made.
        return Err(not_a_backup(path));
    }
    let identity = age::scrypt::Identity::new(passphrase);
    let stream = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| decrypt_error(path, e))?;
    read_payload(path, BufReader::new(stream))
}

/// Parses a backup's plaintext (the decrypted stream): the header, then the body, then nothing.
fn read_payload(path: &Path, mut reader: impl Read) -> Result<(Header, Body)> {
    let mut de = serde_json::Deserializer::from_reader(&mut reader);
    let first = serde_json::Value::deserialize(&mut de).map_err(|e| payload_error(path, &e))?;
    if first.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(not_a_backup(path));
    }
    match first.get("version").and_then(|v| v.as_u64()) {
        Some(VERSION) => {}
        Some(v) if v > VERSION => return Err(newer(v)),
        _ => return Err(not_a_backup(path)),
    }
    let header: Header = serde_json::from_value(first).map_err(|_| not_a_backup(path))?;
    let body = Body::deserialize(&mut de).map_err(|e| payload_error(path, &e))?;
    de.end().map_err(|e| payload_error(path, &e))?;
    // The end of the stream is authenticated too: read it.
    let mut rest = Vec::new();
    reader
        .read_to_end(&mut rest)
        .map_err(|e| stream_error(path, &e))?;
    if !rest.is_empty() {
        return Err(not_a_backup(path));
    }
    Ok((header, body))
}

/// Whether a backup's plaintext would be restored: parsed and checked as a file's would be
/// (the decryption aside). Nothing is written anywhere.
pub fn check_payload(plaintext: &[u8]) -> Result<()> {
    let path = Path::new("the backup");
    let (header, body) = read_payload(path, plaintext)?;
    validate(path, &header, &body)
}

/// Checks that the body holds together before anything is written: the counts the header
/// promised, unique ids, every reference to a row that is there, names Onramp knows.
pub(super) fn validate(path: &Path, header: &Header, body: &Body) -> Result<()> {
    let bad = |what: String| {
        Error::validation(format!(
            "The backup {} does not hold together ({what}). Nothing was restored.",
            path.display()
        ))
        .hint("Use another copy of the backup, or make a new one on the laptop it came from.")
    };
    let d = &body.data;
    if Counts::of(d, body.secrets.len()) != header.counts {
        return Err(bad("its counts do not match its content".into()));
    }
    fn unique<'a>(ids: impl Iterator<Item = &'a str>) -> Option<&'a str> {
        let mut seen = HashSet::new();
        ids.into_iter().find(|id| !seen.insert(*id))
    }
    let customers: HashSet<&str> = d.customers.iter().map(|c| c.id.as_str()).collect();
    let connections: HashSet<&str> = d.connections.iter().map(|c| c.id.as_str()).collect();
    let series: HashSet<&str> = d.usage_series.iter().map(|s| s.id.as_str()).collect();
    if let Some(id) = unique(d.customers.iter().map(|c| c.id.as_str()))
        .or_else(|| unique(d.connections.iter().map(|c| c.id.as_str())))
        .or_else(|| unique(d.sites.iter().map(|s| s.id.as_str())))
        .or_else(|| unique(d.usage_series.iter().map(|s| s.id.as_str())))
    {
        return Err(bad(format!("the id {id} appears twice")));
    }
    let known = |p: &str| ProviderId::parse(p).is_some();
    for c in &d.connections {
        if !customers.contains(c.customer_id.as_str()) {
            return Err(bad(format!("connection {} has no customer", c.id)));
        }
        if !known(&c.provider)
            || CredentialKind::parse(&c.kind).is_none()
            || ConnectionState::parse(&c.state).is_none()
        {
            return Err(bad(format!("connection {} is of an unknown kind", c.id)));
        }
    }
    for s in &d.sites {
        if !connections.contains(s.connection_id.as_str()) || !known(&s.provider) {
            return Err(bad(format!("site {} has no connection", s.id)));
        }
    }
    let mut apps = HashSet::new();
    for a in &d.provider_apps {
        if !known(&a.provider) || !apps.insert(a.key()) {
            return Err(bad(format!("vendor app {} is unknown or twice", a.key())));
        }
    }
    for s in &d.usage_series {
        if !customers.contains(s.customer_id.as_str())
            || s.connection_id
                .as_deref()
                .is_some_and(|c| !connections.contains(c))
        {
            return Err(bad(format!("usage series {} has no customer", s.id)));
        }
    }
    let mut months = HashSet::new();
    for m in &d.usage_months {
        if !series.contains(m.series_id.as_str()) || !months.insert((&m.series_id, &m.month)) {
            return Err(bad(format!("usage month {} is out of place", m.month)));
        }
    }
    let mut events = HashSet::new();
    for e in &d.events {
        if !events.insert(e.id) || e.provider.as_deref().is_some_and(|p| !known(p)) {
            return Err(bad(format!("event {} is out of place", e.id)));
        }
    }
    let mut places = HashSet::new();
    for s in &body.secrets {
        let there = match s.table.as_str() {
            "connections" => connections.contains(s.row.as_str()),
            "provider_apps" => apps.contains(&s.row),
            _ => false,
        };
        if !there || !places.insert((s.table.as_str(), s.row.as_str())) || s.values.0.is_empty() {
            return Err(bad(format!(
                "secrets for {}/{} are out of place",
                s.table, s.row
            )));
        }
    }
    Ok(())
}
