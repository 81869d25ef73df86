//! Fuzzes the parsers of untrusted sign-in answers (deep links, loopback hits, pasted text):
//! they must never panic, and whatever they accept stays within their limits.
//! Run: `cargo +nightly fuzz run callback` from this folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onramp_core::auth::callback::{parse_pasted, parse_url, Outcome, Pasted, MAX_URL, MAX_VALUE};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(cb) = parse_url(text) {
        assert!(text.len() <= MAX_URL);
        assert!(cb.state.as_ref().is_none_or(|s| s.expose().len() <= MAX_VALUE));
        if let Outcome::Code { code, .. } = &cb.outcome {
            // A state-only answer (Derapi Join) has no code; a code, when present, is not empty.
            assert!(code.as_ref().is_none_or(|c| !c.expose().is_empty() && c.expose().len() <= MAX_VALUE));
            assert!(code.is_some() || cb.state.is_some());
        }
    }
    if let Ok(Pasted::BareCode(code)) = parse_pasted(text) {
        assert!(!code.expose().is_empty() && code.expose().len() <= MAX_VALUE);
    }
});
