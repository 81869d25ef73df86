//! Sealing secrets for the store: XChaCha20-Poly1305 under the data folder's key.
//!
//! Every secret Onramp keeps (tokens, API keys, client secrets, PKCE verifiers, partner tokens)
//! lives in the store row it belongs to, in one sealed column: the row's named secrets as a small
//! JSON object, encrypted and authenticated with the data folder's key (held by the OS keyring,
//! see [`crate::vault`]). The associated data binds the ciphertext to its place, the table, the
//! row and the row's generation, so a sealed value copied to another row, or an older generation
//! put back in place of a newer one, does not open.
//!
//! The sealed form is text, `o1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`: the key id says
//! which data key sealed it, so a key rotation can tell what is left to re-seal.

use std::collections::BTreeMap;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::error::{Code, Error, Result};
use crate::sensitive::Sensitive;

const PREFIX: &str = "o1";
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// Where a sealed value belongs: it opens only there.
#[derive(Clone, Copy, Debug)]
pub struct Aad<'a> {
    /// The table (`connections`, `provider_apps`, `pending_authorizations`, `meta`).
    pub table: &'static str,
    /// The row's key within it.
    pub row: &'a str,
    /// The row's generation: bumped at every rotation of a connection's tokens.
    pub generation: i64,
}

impl Aad<'_> {
    fn bytes(&self) -> Vec<u8> {
        format!(
            "onramp/sealed/v1\0{}\0{}\0{}",
            self.table, self.row, self.generation
        )
        .into_bytes()
    }
}

/// A row's secrets by name (`access_token`, `refresh_token`, `api_key`, `client_secret`, ...).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(BTreeMap<String, Sensitive<String>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Secrets {
    pub fn new() -> Secrets {
        Secrets::default()
    }

    pub fn with(mut self, name: &str, value: &Sensitive<String>) -> Secrets {
        self.insert(name, value.clone());
        self
    }

    pub fn insert(&mut self, name: &str, value: Sensitive<String>) {
        self.0.insert(name.to_string(), value);
    }

    pub fn get(&self, name: &str) -> Option<&Sensitive<String>> {
        self.0.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let map: BTreeMap<&str, &str> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose().as_str()))
            .collect();
        Zeroizing::new(serde_json::to_vec(&map).unwrap_or_default())
    }

    fn from_json(bytes: &[u8]) -> Option<Secrets> {
        let map: BTreeMap<String, String> = serde_json::from_slice(bytes).ok()?;
        Some(Secrets(
            map.into_iter()
                .map(|(k, v)| (k, Sensitive::new(v)))
                .collect(),
        ))
    }
}

/// The id of the data key that sealed a value, without opening it.
pub fn key_id_of(sealed: &str) -> Option<&str> {
    let mut parts = sealed.splitn(3, '.');
    (parts.next()? == PREFIX).then_some(())?;
    parts.next()
}

/// A data folder's key (256 bits) and its id. The bytes are wiped when dropped.
pub struct DataKey {
    id: String,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey({})", self.id)
    }
}

fn unreadable() -> Error {
    Error::new(
        Code::KeychainUnavailable,
        "A secret in Onramp's store does not open with this data folder's key.",
    )
    .hint("The store was changed outside Onramp, or it belongs to another key. Restore a backup (Settings → Data), or connect the vendor again with the customer.")
}

impl DataKey {
    /// A new random key with a new id.
    pub fn generate() -> DataKey {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        DataKey {
            id: uuid::Uuid::new_v4().simple().to_string(),
            key,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as kept in the keyring (base64url). Only the vault calls this.
    pub(crate) fn export(&self) -> Sensitive<String> {
        Sensitive::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.key.as_ref()))
    }

    /// The key as read back from the keyring.
    pub(crate) fn import(id: &str, exported: &Sensitive<String>) -> Option<DataKey> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(exported.expose().trim())
                .ok()?,
        );
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().ok()?;
        Some(DataKey {
            id: id.to_string(),
            key: Zeroizing::new(key),
        })
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.as_ref().into())
    }

    /// Seals a row's secrets for their place (a fresh random nonce every time).
    pub fn seal(&self, aad: &Aad<'_>, secrets: &Secrets) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let plain = secrets.to_json();
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad.bytes(),
                },
            )
            .map_err(|_| Error::internal("sealing a secret failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}.{}.{}",
            self.id,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
        ))
    }

    /// Opens a sealed value; refuses one sealed elsewhere, by another key, or changed.
    pub fn open(&self, aad: &Aad<'_>, sealed: &str) -> Result<Secrets> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(PREFIX), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(unreadable());
        };
        if id != self.id {
            return Err(unreadable());
        }
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| unreadable())?;
        if raw.len() < NONCE_LEN {
            return Err(unreadable());
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ct,
                        aad: &aad.bytes(),
                    },
                )
                .map_err(|_| unreadable())?,
        );
        Secrets::from_json(&plain).ok_or_else(unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::new()
            .with("refresh_token", &Sensitive::new("rt-123".into()))
            .with("access_token", &Sensitive::new("at-456".into()))
    }

    const HERE: Aad<'static> = Aad {
        table: "connections",
        row: "c1",
        generation: 3,
    };

    #[test]
    fn a_sealed_value_opens_only_in_its_place() {
        let k = DataKey::generate();
        let sealed = k.seal(&HERE, &secrets()).unwrap();
        assert!(!sealed.contains("rt-123") && !sealed.contains("at-456"));
        assert_eq!(key_id_of(&sealed), Some(k.id()));
        assert_eq!(k.open(&HERE, &sealed).unwrap(), secrets());
        for elsewhere in [
            Aad { row: "c2", ..HERE },
            Aad {
                generation: 2,
                ..HERE
            },
            Aad {
                table: "provider_apps",
                ..HERE
            },
        ] {
            assert_eq!(
                k.open(&elsewhere, &sealed).unwrap_err().code,
                Code::KeychainUnavailable
            );
        }
        // Another key, a changed byte, a cut value: none opens.
        assert!(DataKey::generate().open(&HERE, &sealed).is_err());
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(k
            .open(&HERE, std::str::from_utf8(&flipped).unwrap())
            .is_err());
        assert!(k.open(&HERE, &sealed[..sealed.len() - 4]).is_err());
        assert!(k.open(&HERE, "garbage").is_err());
    }

    #[test]
    fn nonces_are_fresh_and_the_key_survives_export() {
        let k = DataKey::generate();
        let a = k.seal(&HERE, &secrets()).unwrap();
        let b = k.seal(&HERE, &secrets()).unwrap();
        assert_ne!(a, b, "a fresh nonce for every seal");
        let back = DataKey::import(k.id(), &k.export()).unwrap();
        assert_eq!(back.open(&HERE, &a).unwrap(), secrets());
        assert!(DataKey::import(k.id(), &Sensitive::new("short".into())).is_none());
        assert_eq!(
            format!("{:?}", secrets()),
            r#"{"access_token", "refresh_token"}"#
        );
    }
}
