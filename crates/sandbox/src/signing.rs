//! Solis Cloud request signing, checked the way the vendor checks it.
//!
//! `Content-MD5` = base64 of the raw MD5 digest of the exact body bytes; `Date` = RFC 1123 GMT
//! within 15 minutes of the server clock; `Authorization: API {KeyId}:{Sign}` where
//! `Sign = base64(HMAC-SHA1(KeySecret, "POST\n{Content-MD5}\n{Content-Type}\n{Date}\n{path}"))`,
//! Content-Type being the exact header value sent and path excluding host and query.
//!
//! Content-MD5 is checked as Solis checks it: the digest of the body, or of the same JSON with
//! the whitespace between its tokens taken out. Widely used clients (soliscloud-api, the Home
//! Assistant Solis integration) hash `json.dumps(body, separators=(",", ":"))` and then send
//! aiohttp's `json=body`, which writes `", "` and `": "`; Solis answers them. Anything else (a
//! changed value, key or order) is a mismatch. Onramp itself hashes exactly what it sends.

use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};

/// How far the `Date` header may be from the server clock, either way.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// base64 of the raw MD5 digest of `body` (an empty body signs as an empty string).
pub fn content_md5(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(body))
}

/// The JSON text `body` with the whitespace between tokens removed (strings untouched); `None`
/// if `body` is not JSON.
fn without_insignificant_whitespace(body: &[u8]) -> Option<Vec<u8>> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).ok()?;
    let mut out = Vec::with_capacity(body.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    Some(out)
}

/// Whether `md5` is the Content-MD5 Solis accepts for `body`: of the bytes received, or of the
/// same JSON without the whitespace between tokens.
fn md5_matches(md5: &str, body: &[u8]) -> bool {
    md5 == content_md5(body)
        || without_insignificant_whitespace(body)
            .is_some_and(|compact| md5 == content_md5(&compact))
}

/// base64(HMAC-SHA1(secret, "POST\n{md5}\n{content type}\n{date}\n{path}")), as Solis verifies it.
pub fn sign(
    key_secret: &str,
    content_md5: &str,
    content_type: &str,
    date: &str,
    path: &str,
) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(format!("POST\n{content_md5}\n{content_type}\n{date}\n{path}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Why a Solis request was refused before reaching an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// One of Content-MD5, Content-Type, Date, Authorization is missing.
    MissingHeaders,
    /// Content-MD5 is not the digest of the body received.
    Md5Mismatch,
    /// Date is not an RFC 1123 date.
    BadDate,
    /// Date is more than [`MAX_SKEW`] away from the server clock.
    ClockSkew,
    /// Authorization is not `API {KeyId}:{Sign}`.
    MalformedAuthorization,
    /// No such KeyId.
    UnknownKey,
    /// The signature does not match the KeySecret.
    BadSignature,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies a signed Solis request at `now`; returns the caller's KeyId.
/// `secret_of` looks up the KeySecret of a KeyId.
pub(crate) fn verify<'h, 's>(
    path: &str,
    headers: &'h HeaderMap,
    body: &[u8],
    now: SystemTime,
    secret_of: impl Fn(&str) -> Option<&'s str>,
) -> Result<&'h str, Rejection> {
    let (Some(md5), Some(ctype), Some(date), Some(auth)) = (
        header(headers, "content-md5"),
        header(headers, "content-type"),
        header(headers, "date"),
        header(headers, "authorization"),
    ) else {
        return Err(Rejection::MissingHeaders);
    };
    if !md5_matches(md5, body) {
        return Err(Rejection::Md5Mismatch);
    }
    let at = httpdate::parse_http_date(date).map_err(|_| Rejection::BadDate)?;
    let skew = now
        .duration_since(at)
        .or_else(|_| at.duration_since(now))
        .unwrap_or_default();
    if skew > MAX_SKEW {
        return Err(Rejection::ClockSkew);
    }
    let (key_id, signature) = auth
        .strip_prefix("API ")
        .and_then(|r| r.split_once(':'))
        .ok_or(Rejection::MalformedAuthorization)?;
    let secret = secret_of(key_id).ok_or(Rejection::UnknownKey)?;
    if sign(secret, md5, ctype, date, path) != signature {
        return Err(Rejection::BadSignature);
    }
    Ok(key_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/v1/api/userStationList";
    const DATE: &str = "Fri, 26 Jul 2019 06:00:46 GMT";
    const BODY: &[u8] = br#"{"pageNo":1,"pageSize":10}"#;

    fn headers(md5: &str, auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("content-md5", md5),
            ("content-type", "application/json"),
            ("date", DATE),
            ("authorization", auth),
        ] {
            h.insert(name, value.parse().expect("a valid header value"));
        }
        h
    }

    fn secret_2424(id: &str) -> Option<&'static str> {
        (id == "2424").then_some("6680182547")
    }

    fn at(date: &str) -> SystemTime {
        httpdate::parse_http_date(date).expect("an RFC 1123 date")
    }

    /// The worked example of the SolisCloud API document, end to end through the verifier.
    #[test]
    fn accepts_the_vendors_worked_example() {
        assert_eq!(content_md5(BODY), "kxdxk7rbAsrzSIWgEwhH4w==");
        assert_eq!(
            sign(
                "6680182547",
                "kxdxk7rbAsrzSIWgEwhH4w==",
                "application/json",
                DATE,
                PATH
            ),
            "nBYQWeuzy3Y+gp67BN8zXTmvSDk="
        );
        let h = headers(
            "kxdxk7rbAsrzSIWgEwhH4w==",
            "API 2424:nBYQWeuzy3Y+gp67BN8zXTmvSDk=",
        );
        assert_eq!(verify(PATH, &h, BODY, at(DATE), secret_2424), Ok("2424"));
    }

    #[test]
    fn the_second_published_vector() {
        let body = br#"{"pageNo":1,"pageSize":100}"#;
        let md5 = content_md5(body);
        assert_eq!(md5, "U0Xj//qmRi3zoyapfAAuXw==");
        let secret = "DEADBEEFDEADBEEFDEADBEEFDEADBEEF";
        let date = "Sun, 01 Jan 2023 00:00:00 GMT";
        let ct = "application/json";
        assert_eq!(
            sign(secret, &md5, ct, date, "TEST"),
            "8+oYgqSEFjxPaHIOgUKSpIdYCGU="
        );
        assert_eq!(
            sign(secret, &md5, ct, date, PATH),
            "xgJ/F76bAXb697WSc58DpGpLmcc="
        );
    }

    /// soliscloud-api hashes the compact JSON and sends aiohttp's spaced serialization: Solis
    /// answers it, so the sandbox does too; a changed value or key order is still refused.
    #[test]
    fn accepts_the_md5_of_the_same_json_spaced_differently() {
        let h = headers(
            "kxdxk7rbAsrzSIWgEwhH4w==",
            "API 2424:nBYQWeuzy3Y+gp67BN8zXTmvSDk=",
        );
        let now = at(DATE);
        for sent in [
            &br#"{"pageNo": 1, "pageSize": 10}"#[..],
            b"{\n  \"pageNo\": 1,\n  \"pageSize\": 10\n}\n",
        ] {
            assert_eq!(verify(PATH, &h, sent, now, secret_2424), Ok("2424"));
        }
        for sent in [
            &br#"{"pageNo": 2, "pageSize": 10}"#[..],
            br#"{"pageSize": 10, "pageNo": 1}"#,
            br#"{"pageNo": 1, "pageSize": 10"#,
        ] {
            assert_eq!(
                verify(PATH, &h, sent, now, secret_2424),
                Err(Rejection::Md5Mismatch)
            );
        }
        // Whitespace inside a string is the string's.
        let spaced = without_insignificant_whitespace(br#"{ "a b" : "c  d" }"#).unwrap();
        assert_eq!(spaced, br#"{"a b":"c  d"}"#);
        let escaped = without_insignificant_whitespace(br#"{"q": "say \"hi there\"" }"#).unwrap();
        assert_eq!(escaped, br#"{"q":"say \"hi there\""}"#);
    }

    #[test]
    fn refuses_what_the_vendor_refuses() {
        let good = headers(
            "kxdxk7rbAsrzSIWgEwhH4w==",
            "API 2424:nBYQWeuzy3Y+gp67BN8zXTmvSDk=",
        );
        let now = at(DATE);
        fn check<'h>(h: &'h HeaderMap, body: &[u8], now: SystemTime) -> Result<&'h str, Rejection> {
            verify(PATH, h, body, now, secret_2424)
        }

        let tampered = br#"{"pageNo":2,"pageSize":10}"#;
        assert_eq!(check(&good, tampered, now), Err(Rejection::Md5Mismatch));
        let late = now + MAX_SKEW + Duration::from_secs(1);
        assert_eq!(check(&good, BODY, late), Err(Rejection::ClockSkew));
        let early = now - MAX_SKEW - Duration::from_secs(1);
        assert_eq!(check(&good, BODY, early), Err(Rejection::ClockSkew));
        assert_eq!(check(&good, BODY, now + MAX_SKEW), Ok("2424"));
        // Signed for another path.
        assert_eq!(
            verify("/v1/api/stationDetail", &good, BODY, now, secret_2424),
            Err(Rejection::BadSignature)
        );
        let wrong = headers("kxdxk7rbAsrzSIWgEwhH4w==", "API 2424:AAAA");
        assert_eq!(check(&wrong, BODY, now), Err(Rejection::BadSignature));
        let unknown = headers(
            "kxdxk7rbAsrzSIWgEwhH4w==",
            "API 2425:nBYQWeuzy3Y+gp67BN8zXTmvSDk=",
        );
        assert_eq!(check(&unknown, BODY, now), Err(Rejection::UnknownKey));
        let bare = headers(
            "kxdxk7rbAsrzSIWgEwhH4w==",
            "2424:nBYQWeuzy3Y+gp67BN8zXTmvSDk=",
        );
        assert_eq!(
            check(&bare, BODY, now),
            Err(Rejection::MalformedAuthorization)
        );
        let mut no_date = good.clone();
        no_date.remove("date");
        assert_eq!(check(&no_date, BODY, now), Err(Rejection::MissingHeaders));
        let mut bad_date = good.clone();
        bad_date.insert("date", "yesterday".parse().expect("a header value"));
        assert_eq!(check(&bad_date, BODY, now), Err(Rejection::BadDate));
    }
}
