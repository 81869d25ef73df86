//! Sign-in answers: deep links, loopback hits and pasted text (`auth::callback`).
//! Properties: whatever is accepted stays within the limits, plain http only on loopback, and a
//! parsed callback written back as Onramp's deep link parses to the same callback.

use onramp_core::auth::callback::{
    parse_pasted, parse_url, Callback, Outcome, Pasted, DEEP_LINK, MAX_URL, MAX_VALUE,
};

pub fn callback(data: &[u8]) {
    let Some(text) = super::text(data) else {
        return;
    };
    if let Ok(cb) = parse_url(text) {
        assert!(text.len() <= MAX_URL);
        check(&cb);
        let url = url::Url::parse(text.trim()).expect("an accepted callback is a URL");
        if url.scheme() == "http" {
            let host = url.host_str().unwrap_or_default();
            assert!(
                host == "localhost" || host.starts_with("127.") || host == "[::1]",
                "plain http accepted from {host}"
            );
        }
        round_trip(&cb);
    }
    match parse_pasted(text) {
        Ok(Pasted::BareCode(code)) => {
            let c = code.expose();
            assert!(!c.is_empty() && c.len() <= MAX_VALUE);
            assert!(c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-._~+/=".contains(ch)));
            // A bare code pasted again is the same code.
            assert_eq!(parse_pasted(c).ok(), Some(Pasted::BareCode(code.clone())));
        }
        Ok(Pasted::Url(cb)) => {
            check(&cb);
            assert_eq!(parse_url(text.trim()).ok(), Some(cb));
        }
        Err(_) => {}
    }
}

fn check(cb: &Callback) {
    let ok = |v: &str| v.len() <= MAX_VALUE && !v.chars().any(char::is_control);
    if let Some(s) = &cb.state {
        assert!(!s.expose().is_empty() && ok(s.expose()));
    }
    match &cb.outcome {
        Outcome::Code { code, extra } => {
            // A state-only answer (Derapi Join) has no code; a code, when present, is not empty.
            assert!(code.is_some() || cb.state.is_some());
            if let Some(c) = code {
                assert!(!c.expose().is_empty() && ok(c.expose()));
            }
            assert!(extra.values().all(|v| ok(v)));
            for k in [
                "code",
                "state",
                "error",
                "iss",
                "issuer",
                "error_description",
            ] {
                assert!(!extra.contains_key(k), "{k} left among the extras");
            }
        }
        Outcome::Denied { error, description } => {
            assert!(ok(error) && description.as_deref().is_none_or(ok));
        }
    }
}

/// The callback as Onramp's deep link, parsed again.
fn round_trip(cb: &Callback) {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(s) = &cb.state {
        q.append_pair("state", s.expose());
    }
    if let Some(i) = &cb.issuer {
        q.append_pair("iss", i);
    }
    match &cb.outcome {
        Outcome::Code { code, extra } => {
            if let Some(c) = code {
                q.append_pair("code", c.expose());
            }
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        Outcome::Denied { error, description } => {
            q.append_pair("error", error);
            if let Some(d) = description {
                q.append_pair("error_description", d);
            }
        }
    }
    let link = format!("{DEEP_LINK}?{}", q.finish());
    match parse_url(&link) {
        Ok(again) => assert_eq!(&again, cb, "{link}"),
        // Percent-encoding may take a long answer past the limit: the only acceptable refusal.
        Err(_) => assert!(link.len() > MAX_URL, "refused its own round trip: {link}"),
    }
}
