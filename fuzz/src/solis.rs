//! The Solis signer's input (`providers::solis`): any secret, date and path. Properties: the
//! signature is base64 of an HMAC-SHA1 (20 bytes) computed over Solis's documented canonical
//! string, here with the `hmac` crate directly; the content MD5 is base64 of the body's MD5.

use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use onramp_core::providers::solis::{content_md5, sign};

pub fn solis_sign(data: &[u8]) {
    let b64 = base64::engine::general_purpose::STANDARD;
    // secret \0 date \0 path \0 body: the parts of one signed call.
    let mut parts = data.splitn(4, |b| *b == 0);
    let (Some(secret), Some(date), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let body = parts.next().unwrap_or_default();
    let (Some(secret), Some(date), Some(path)) =
        (super::text(secret), super::text(date), super::text(path))
    else {
        return;
    };
    let md5 = content_md5(body);
    assert_eq!(
        b64.decode(&md5).expect("base64").as_slice(),
        Md5::digest(body).as_slice()
    );
    let sig = sign(secret, &md5, "application/json", date, path);
    let raw = b64.decode(&sig).expect("the signature is base64");
    assert_eq!(raw.len(), 20);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(format!("POST\n{md5}\napplication/json\n{date}\n{path}").as_bytes());
    mac.verify_slice(&raw)
        .expect("the signature is Solis's HMAC-SHA1");
    assert!(!super::shows(&sig, secret) || secret.len() < 8);
}
