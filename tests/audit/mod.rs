//! The secrets audit's eyes: looks for a secret in every form it could leak in. A place (a
//! file, a log, an answer to the UI, a child process's argv) is read as it is and in decoded
//! views: JSON string escapes undone (so `\/` or `\u00xx` in the middle of a secret does not
//! hide it), percent-encoding undone (`+` as a space), and both. In each view the secret is
//! looked for raw, as hex (either case) and as base64 and base64url at each of the three
//! alignments it can have inside a longer base64 string (an HTTP Basic header of `id:secret`),
//! padded or not. The positive controls below plant each form of a known secret in each kind of
//! place and fail if the audit misses one.

use aho_corasick::AhoCorasick;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;

/// One needle: which secret, in which form.
struct Needle {
    secret: usize,
    form: &'static str,
}

/// The secrets to look for, compiled once into a single automaton over all their forms.
pub struct Audit {
    secrets: Vec<String>,
    needles: Vec<Needle>,
    matcher: AhoCorasick,
}

/// A secret found: which one, in which form, in which view of the place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub secret: usize,
    pub form: &'static str,
    pub view: &'static str,
}

/// The base64 that only the secret's bytes decide, whatever comes before or after it in a longer
/// string: the secret from byte `skip` on, cut to whole 3-byte groups.
fn base64_core(secret: &[u8], skip: usize, engine: &impl Engine) -> Option<String> {
    let rest = secret.get(skip..)?;
    let whole = rest.len() / 3 * 3;
    (whole >= 9).then(|| engine.encode(&rest[..whole]))
}

impl Audit {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Audit {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        secrets.sort();
        secrets.dedup();
        for s in &secrets {
            assert!(
                s.len() >= 12,
                "too short to look for without false alarms: {s:?}"
            );
        }
        let mut patterns: Vec<String> = Vec::new();
        let mut needles = Vec::new();
        for (i, s) in secrets.iter().enumerate() {
            let mut add = |form: &'static str, p: String| {
                patterns.push(p);
                needles.push(Needle { secret: i, form });
            };
            add("raw", s.clone());
            // Hex is matched on a lower-cased view, so upper-case hex is found too.
            add("hex", hex(s.as_bytes()));
            for skip in 0..3 {
                if let Some(p) = base64_core(s.as_bytes(), skip, &STANDARD_NO_PAD) {
                    add("base64", p);
                }
                if let Some(p) = base64_core(s.as_bytes(), skip, &URL_SAFE_NO_PAD) {
                    add("base64url", p);
                }
            }
        }
        let matcher = AhoCorasick::new(&patterns).expect("the audit's patterns compile");
        Audit {
            secrets,
            needles,
            matcher,
        }
    }

    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// Every secret found in `bytes`, in any form, in any view.
    pub fn scan(&self, bytes: &[u8]) -> Vec<Hit> {
        let unescaped = json_unescape(bytes);
        let views: [(&'static str, Vec<u8>); 4] = [
            ("as written", bytes.to_vec()),
            ("JSON escapes undone", unescaped.clone()),
            ("percent-decoded", percent_decode(bytes)),
            (
                "JSON escapes and percent undone",
                percent_decode(&unescaped),
            ),
        ];
        let mut hits = Vec::new();
        for (view, hay) in &views {
            let lower = hay.to_ascii_lowercase();
            for (text, only_hex) in [(hay, false), (&lower, true)] {
                for m in self.matcher.find_overlapping_iter(text.as_slice()) {
                    let n = &self.needles[m.pattern().as_usize()];
                    if (n.form == "hex") != only_hex {
                        continue;
                    }
                    let hit = Hit {
                        secret: n.secret,
                        form: n.form,
                        view,
                    };
                    if !hits.contains(&hit) {
                        hits.push(hit);
                    }
                }
            }
        }
        hits
    }

    /// The leaks in one place, one line per secret and form (in the first view that shows it),
    /// named without showing the secret (its first characters only).
    pub fn leaks(&self, place: &str, bytes: &[u8], allowed: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen: Vec<(usize, &'static str)> = Vec::new();
        let mut out = Vec::new();
        for h in self.scan(bytes) {
            let s = &self.secrets[h.secret];
            if allowed(s) || seen.contains(&(h.secret, h.form)) {
                continue;
            }
            seen.push((h.secret, h.form));
            out.push(format!(
                "{}… ({}, {}) in {place}",
                &s[..s.len().min(6)],
                h.form,
                h.view
            ));
        }
        out
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Every JSON string escape in `bytes` undone, wherever it is (the bytes need not be JSON).
pub fn json_unescape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let simple = match bytes[i + 1] {
                b'"' => Some(b'"'),
                b'\\' => Some(b'\\'),
                b'/' => Some(b'/'),
                b'b' => Some(8),
                b'f' => Some(12),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                _ => None,
            };
            if let Some(c) = simple {
                out.push(c);
                i += 2;
                continue;
            }
            if bytes[i + 1] == b'u' && i + 6 <= bytes.len() {
                let digits: Option<Vec<u8>> =
                    bytes[i + 2..i + 6].iter().map(|&b| hex_value(b)).collect();
                if let Some(d) = digits {
                    let code = d.iter().fold(0u32, |acc, &x| acc * 16 + x as u32);
                    let mut buf = [0u8; 4];
                    let c = char::from_u32(code).unwrap_or('\u{fffd}');
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += 6;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Percent-encoding undone, and `+` read as a space (form encoding).
pub fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod positive_controls {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    /// A known secret with characters that every encoding treats differently: `/` (escaped in
    /// JSON as `\/`), `+` and space (form encoding), `~` and `.` (unreserved in URLs).
    const KNOWN: &str = "rt_Known/Secret+with space~and.dots_0123456789abcdef";

    fn percent_all(s: &str, space_as_plus: bool, upper: bool) -> String {
        s.bytes()
            .map(|b| match b {
                b' ' if space_as_plus => "+".to_string(),
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ if upper => format!("%{b:02X}"),
                _ => format!("%{b:02x}"),
            })
            .collect()
    }

    /// Each form a secret can take on its way out, by name.
    fn forms(s: &str) -> Vec<(String, String)> {
        let b = s.as_bytes();
        let mut f = vec![
            ("raw".into(), s.to_string()),
            ("base64".into(), STANDARD.encode(b)),
            ("base64, no padding".into(), STANDARD_NO_PAD.encode(b)),
            ("base64url".into(), URL_SAFE.encode(b)),
            ("base64url, no padding".into(), URL_SAFE_NO_PAD.encode(b)),
            (
                "percent-encoded, + for space".into(),
                percent_all(s, true, true),
            ),
            (
                "percent-encoded, %20, lower hex".into(),
                percent_all(s, false, false),
            ),
            (
                "every byte percent-encoded".into(),
                b.iter().map(|x| format!("%{x:02X}")).collect(),
            ),
            ("hex".into(), hex(b)),
            ("HEX".into(), hex(b).to_uppercase()),
            ("JSON string".into(), serde_json::to_string(s).unwrap()),
            ("JSON with \\/ in the middle".into(), s.replace('/', "\\/")),
            (
                "JSON with \\u00xx in the middle".into(),
                format!("{}\\u{:04x}{}", &s[..10], b[10], &s[11..]),
            ),
            (
                "a URL's query inside JSON".into(),
                serde_json::to_string(&format!(
                    "https://x.test/cb?t={}",
                    percent_all(s, true, false)
                ))
                .unwrap()
                .replace('/', "\\/"),
            ),
        ];
        // An HTTP Basic header of id:secret, for ids of each length mod 3, in both alphabets.
        for id in ["a", "ab", "abc"] {
            let pair = format!("{id}:{s}");
            f.push((
                format!("Basic {id}:secret"),
                format!("Authorization: Basic {}", STANDARD.encode(&pair)),
            ));
            f.push((
                format!("base64url of {id}:secret:x"),
                URL_SAFE_NO_PAD.encode(format!("{pair}:x")),
            ));
        }
        f
    }

    /// The kinds of place the audit reads, with a planted value inside as each would hold it.
    fn places(planted: &str) -> Vec<(&'static str, Vec<u8>)> {
        let mut db = b"SQLite format 3\0\x10\x00\x01\x01".to_vec();
        db.extend_from_slice(planted.as_bytes());
        db.extend_from_slice(&[0, 0, 7, 1]);
        vec![
            ("a store file", db),
            (
                "a log line",
                format!("2026-12-03T06:00:00Z TRACE hyper: sending body={planted} len=9\n")
                    .into_bytes(),
            ),
            (
                "an event sent to the UI",
                format!(
                    "{{\"event\":\"onramp://refresh\",\"payload\":{{\"detail\":\"{planted}\"}}}}"
                )
                .into_bytes(),
            ),
            (
                "an export",
                format!("when,kind,detail\n2026-12-03,sign-in,{planted}\n").into_bytes(),
            ),
            (
                "a child's argv",
                format!("[\"/usr/bin/xdg-open\", \"{planted}\"]").into_bytes(),
            ),
            (
                "a child's environment",
                format!("HOME=/h\0SECRET={planted}\0PATH=/bin\0").into_bytes(),
            ),
        ]
    }

    #[test]
    fn the_audit_catches_each_form_in_each_place() {
        let audit = Audit::new([KNOWN.to_string(), "pa_an0ther1secret2here3".to_string()]);
        let known = audit.secrets().iter().position(|s| s == KNOWN).unwrap();
        let mut missed = Vec::new();
        for (form, planted) in forms(KNOWN) {
            assert!(!planted.contains(KNOWN) || form == "raw" || form.starts_with("JSON string"));
            for (place, bytes) in places(&planted) {
                if !audit.scan(&bytes).iter().any(|h| h.secret == known) {
                    missed.push(format!("{form} in {place}"));
                }
            }
        }
        assert!(missed.is_empty(), "the audit missed: {missed:#?}");
    }

    /// And it does not cry wolf: the same places without the secret, or with a near miss (one
    /// character changed), are clean.
    #[test]
    fn the_audit_finds_nothing_where_there_is_nothing() {
        let audit = Audit::new([KNOWN.to_string()]);
        let near = KNOWN.replace("Known", "Knowm");
        for (form, planted) in forms(&near) {
            for (place, bytes) in places(&planted) {
                let hits = audit.scan(&bytes);
                assert!(hits.is_empty(), "{form} in {place}: {hits:?}");
            }
        }
        for (place, bytes) in places("nothing to see") {
            assert!(audit.scan(&bytes).is_empty(), "{place}");
        }
    }
}
