//! A backup's errors, in the installer's words: each says what happened and what to do, and is
//! chosen by the error's kind (age's, the stream's, JSON's), never by its text.

use std::path::Path;

use super::{MIN_PASSPHRASE, VERSION};
use crate::error::{Code, Error, Result};
use crate::vault::Sensitive;

pub(super) fn not_a_backup(path: &Path) -> Error {
    Error::validation(format!("{} is not an Onramp backup.", path.display()))
        .hint("Pick the .onrampbackup file Onramp made (Settings → Data → Back up).")
}

fn wrong_passphrase() -> Error {
    Error::validation("The passphrase does not open this backup.").hint(
        "Type the passphrase chosen when the backup was made (capitals count). If you are sure it is right, the file was changed: use another copy.",
    )
}

fn damaged(path: &Path) -> Error {
    Error::validation(format!(
        "The backup {} is damaged: it was changed or cut short after it was made. Nothing was restored.",
        path.display()
    ))
    .hint("Use another copy of the backup (the one on the USB stick or in the cloud folder).")
}

fn truncated(path: &Path) -> Error {
    Error::validation(format!(
        "The backup {} is incomplete: the file ends too early (the copy was interrupted?). Nothing was restored.",
        path.display()
    ))
    .hint("Copy the backup again, or use another copy.")
}

pub(super) fn newer(version: u64) -> Error {
    Error::validation(format!(
        "This backup was made by a newer Onramp (backup format {version}; this Onramp reads format {VERSION}). Nothing was restored."
    ))
    .hint("Update Onramp on this laptop, then restore again.")
}

fn too_strong() -> Error {
    Error::validation(
        "This backup's passphrase protection would take this laptop too long to open. Nothing was restored.",
    )
    .hint("Restore it on a faster computer, make a new backup there, and restore that one here.")
}

pub(super) fn io_error(path: &Path, verb: &str, e: &std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        return Error::not_found(format!("There is no file {}.", path.display()))
            .hint("Check the file's name and folder.");
    }
    Error::new(
        Code::Storage,
        format!("Could not {verb} {}: {e}", path.display()),
    )
    .hint("Check that the folder exists, is writable and the disk is not full, then try again.")
}

/// Errors of age's decryption, by variant.
pub(super) fn decrypt_error(path: &Path, e: age::DecryptError) -> Error {
    use age::DecryptError as D;
    match e {
        D::DecryptionFailed | D::KeyDecryptionFailed => wrong_passphrase(),
        D::InvalidMac => damaged(path),
        D::ExcessiveWork { .. } => too_strong(),
        D::Io(e) => stream_error(path, &e),
        D::InvalidHeader | D::UnknownFormat | D::NoMatchingKeys => not_a_backup(path),
    }
}

/// Errors while reading the encrypted stream: cut short, or a chunk that does not open.
pub(super) fn stream_error(path: &Path, e: &std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => truncated(path),
        std::io::ErrorKind::InvalidData => damaged(path),
        _ => io_error(path, "read", e),
    }
}

/// A JSON error while reading the payload: the stream's (cut or changed), or the content's
/// (authentic, but not an Onramp backup).
pub(super) fn payload_error(path: &Path, e: &serde_json::Error) -> Error {
    match e.io_error_kind() {
        Some(std::io::ErrorKind::UnexpectedEof) => truncated(path),
        Some(std::io::ErrorKind::InvalidData) => damaged(path),
        Some(_) => Error::new(
            Code::Storage,
            format!("Could not read {}: {e}", path.display()),
        ),
        None if e.is_eof() => truncated(path),
        None => not_a_backup(path),
    }
}

pub(super) fn check_passphrase(passphrase: &Sensitive<String>) -> Result<()> {
    let n = passphrase.expose().chars().count();
    if n < MIN_PASSPHRASE {
        return Err(Error::validation(format!(
            "The passphrase needs at least {MIN_PASSPHRASE} characters (this one has {n})."
        ))
        .hint("Use a few unrelated words, like \"maple ladder seven orbit\": long is what makes it strong. Keep it apart from the backup file."));
    }
    Ok(())
}

pub(super) fn secret_string(passphrase: &Sensitive<String>) -> age::secrecy::SecretString {
    age::secrecy::SecretString::from(passphrase.expose().clone())
}
