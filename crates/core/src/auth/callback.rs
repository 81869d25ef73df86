//! Parsing untrusted authorization redirects: deep links, loopback hits, relay forwards and
//! pasted text. Strict and bounded: anything odd is refused before any state lookup or network call.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::vault::{AuthCode, OAuthState};

/// Longest callback URL accepted (vendors' codes and states are far shorter).
pub const MAX_URL: usize = 4096;
/// Longest single parameter value.
pub const MAX_VALUE: usize = 2048;

/// The deep link Onramp registers.
pub const DEEP_LINK: &str = "onramp://oauth/callback";

/// Parameters Onramp reads from a redirect; any other is ignored.
const KNOWN: &[&str] = &[
    "code",
    "state",
    "error",
    "error_description",
    "error_uri",
    "site_id",
    "external_id",
    "enrollmentID",
    "iss",
    "issuer",
];

/// What came back from the authorization server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The customer consented: the code, and vendor extras such as SolarEdge's `site_id`.
    Code {
        /// `None` for an answer that carries its state only (Derapi Join); whether that is
        /// acceptable is the vendor's to say (`Vendor::answers_without_code`).
        code: Option<AuthCode>,
        extra: BTreeMap<String, String>,
    },
    /// The server refused or the customer declined (`access_denied`).
    Denied {
        error: String,
        description: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callback {
    pub state: Option<OAuthState>,
    /// The issuer the answer names (RFC 9207 `iss`; Tesla calls it `issuer`), if it names one.
    pub issuer: Option<String>,
    pub outcome: Outcome,
}

impl Outcome {
    pub fn declined(&self) -> bool {
        matches!(self, Outcome::Denied { error, .. } if error == "access_denied")
    }
}

fn invalid(why: impl std::fmt::Display) -> Error {
    Error::validation(format!("This sign-in answer cannot be used: {why}.")).hint(
        "Start the connection again from Onramp, and finish it in the browser window it opens.",
    )
}

fn clean(name: &str, value: &str) -> Result<String> {
    if value.len() > MAX_VALUE {
        return Err(invalid(format!("the {name} is too long")));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(invalid(format!("the {name} has control characters")));
    }
    Ok(value.to_string())
}

/// Reads the query of a redirect URL. `error` wins over `code` when both are present.
pub fn parse_url(raw: &str) -> Result<Callback> {
    if raw.len() > MAX_URL {
        return Err(invalid("it is too long"));
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| invalid(format!("it is not a URL ({e})")))?;
    match url.scheme() {
        "onramp" => {
            if url.host_str() != Some("oauth") || url.path() != "/callback" {
                return Err(invalid("it is not Onramp's sign-in link"));
            }
        }
        "http" => {
            let loopback = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
                || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
                || url.host_str() == Some("localhost");
            if !loopback {
                return Err(invalid(
                    "plain http is only accepted on this computer's loopback address",
                ));
            }
        }
        "https" => {}
        other => return Err(invalid(format!("the scheme {other}: is not accepted"))),
    }
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url.query_pairs() {
        if !KNOWN.contains(&k.as_ref()) {
            continue;
        }
        let v = clean(&k, &v)?;
        if params.insert(k.to_string(), v).is_some() {
            return Err(invalid(format!("the parameter {k} appears twice")));
        }
    }
    let state = params
        .remove("state")
        .filter(|s| !s.is_empty())
        .map(OAuthState::new);
    let issuer = match (params.remove("iss"), params.remove("issuer")) {
        (Some(a), Some(b)) if a != b => {
            return Err(invalid("it names two different issuers"));
        }
        (a, b) => a.or(b).filter(|i| !i.is_empty()),
    };
    if let Some(error) = params.remove("error") {
        return Ok(Callback {
            state,
            issuer,
            outcome: Outcome::Denied {
                error,
                description: params.remove("error_description"),
            },
        });
    }
    // Derapi Join comes back with the state (and an enrollmentID) only; whether a codeless
    // answer is acceptable is decided with the pending sign-in, which knows the provider.
    let code = params
        .remove("code")
        .filter(|c| !c.is_empty())
        .map(AuthCode::new);
    if code.is_none() && state.is_none() {
        return Err(invalid("it carries neither a code nor an error"));
    }
    params.remove("error_description");
    params.remove("error_uri");
    Ok(Callback {
        state,
        issuer,
        outcome: Outcome::Code {
            code,
            extra: params,
        },
    })
}

/// What the installer pasted: the final URL, or the bare code a vendor's page showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pasted {
    Url(Callback),
    BareCode(AuthCode),
}

pub fn parse_pasted(text: &str) -> Result<Pasted> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Error::validation(
            "Paste the code or the whole address from the browser.",
        ));
    }
    if t.contains("://") {
        return parse_url(t).map(Pasted::Url);
    }
    let ok = t.len() <= MAX_VALUE
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~+/=".contains(c));
    if !ok {
        return Err(invalid("a code is letters, digits and - . _ ~ + / = only"));
    }
    Ok(Pasted::BareCode(AuthCode::new(t)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_a_deep_link_with_code_state_and_extras() {
        let c =
            parse_url("onramp://oauth/callback?code=abc&state=xyz&site_id=4012345&foo=1").unwrap();
        assert_eq!(c.state.as_ref().map(OAuthState::expose), Some("xyz"));
        let Outcome::Code { code, extra } = c.outcome else {
            panic!()
        };
        assert_eq!(code.as_ref().map(AuthCode::expose), Some("abc"));
        assert_eq!(extra.get("site_id").map(String::as_str), Some("4012345"));
        assert!(!extra.contains_key("foo"));
    }

    #[test]
    fn the_code_and_the_state_never_print() {
        let c = parse_url("onramp://oauth/callback?code=c0de-Secret&state=st4te-Secret").unwrap();
        let pasted = parse_pasted("c0de-Secret").unwrap();
        for printed in [format!("{c:?}"), format!("{pasted:?}")] {
            assert!(!printed.contains("Secret"), "{printed}");
        }
        assert!(format!("{c:?}").contains("AuthCode(***)"));
        assert!(format!("{c:?}").contains("OAuthState(***)"));
    }

    #[test]
    fn a_decline_is_read_as_such() {
        let c = parse_url("http://127.0.0.1:8765/callback?error=access_denied&error_description=User+denied&state=s").unwrap();
        assert!(c.outcome.declined());
        assert_eq!(
            c.outcome,
            Outcome::Denied {
                error: "access_denied".into(),
                description: Some("User denied".into())
            }
        );
    }

    #[test]
    fn refuses_what_is_not_a_callback() {
        for bad in [
            "onramp://evil/callback?code=a&state=b",
            "onramp://oauth/other?code=a&state=b",
            "http://example.com/callback?code=a&state=b",
            "javascript:alert(1)",
            "file:///etc/passwd?code=a",
            "onramp://oauth/callback",
            "onramp://oauth/callback?enrollmentID=enr-1",
            "onramp://oauth/callback?code=a&code=b&state=c",
            "onramp://oauth/callback?code=a%00b&state=c",
            "not a url",
        ] {
            assert!(parse_url(bad).is_err(), "{bad} was accepted");
        }
        let long = format!(
            "onramp://oauth/callback?code={}&state=s",
            "a".repeat(MAX_URL)
        );
        assert!(parse_url(&long).is_err());
        let long_value = format!(
            "onramp://oauth/callback?code={}&state=s",
            "a".repeat(MAX_VALUE + 1)
        );
        assert!(parse_url(&long_value).is_err());
    }

    #[test]
    fn a_codeless_answer_keeps_its_state_for_the_pending_sign_in_to_judge() {
        // Derapi Join returns `state` (and `enrollmentID`) only; other providers refuse it later.
        let c = parse_url("onramp://oauth/callback?state=b&enrollmentID=enr-7").unwrap();
        assert_eq!(c.state.as_ref().map(OAuthState::expose), Some("b"));
        match c.outcome {
            Outcome::Code { code, extra } => {
                assert_eq!(code, None);
                assert_eq!(extra["enrollmentID"], "enr-7");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_the_issuer_by_either_name_and_refuses_two() {
        let c = parse_url("onramp://oauth/callback?code=a&state=b&iss=https%3A%2F%2Fas.example")
            .unwrap();
        assert_eq!(c.issuer.as_deref(), Some("https://as.example"));
        let Outcome::Code { extra, .. } = &c.outcome else {
            panic!()
        };
        assert!(
            extra.is_empty(),
            "the issuer is not a vendor extra: {extra:?}"
        );
        // Tesla's spelling.
        let t = parse_url("http://127.0.0.1:1/callback?code=a&state=b&issuer=https%3A%2F%2Fauth.tesla.com%2Foauth2%2Fv3").unwrap();
        assert_eq!(
            t.issuer.as_deref(),
            Some("https://auth.tesla.com/oauth2/v3")
        );
        assert!(parse_url("onramp://oauth/callback?code=a&state=b&iss=x&issuer=y").is_err());
        assert_eq!(
            parse_url("onramp://oauth/callback?code=a&state=b")
                .unwrap()
                .issuer,
            None
        );
    }

    #[test]
    fn accepts_ipv6_loopback_and_https_relays() {
        assert!(parse_url("http://[::1]:4000/cb?code=a&state=b").is_ok());
        assert!(parse_url("https://relay.example.com/onramp?code=a&state=b").is_ok());
    }

    #[test]
    fn pasted_text_is_a_url_or_a_bare_code() {
        assert_eq!(
            parse_pasted("  Ab-12_x.y~z  ").unwrap(),
            Pasted::BareCode(AuthCode::new("Ab-12_x.y~z"))
        );
        assert!(matches!(
            parse_pasted("https://api.enphaseenergy.com/oauth/redirect_uri?code=Q1w2E3").unwrap(),
            Pasted::Url(_)
        ));
        assert!(parse_pasted("code with spaces").is_err());
        assert!(parse_pasted("").is_err());
    }

    proptest! {
        /// Whatever arrives, the parser answers without panicking, and what it accepts is bounded.
        #[test]
        fn never_panics_and_bounds_what_it_accepts(s in "\\PC{0,600}") {
            if let Ok(c) = parse_url(&s) {
                prop_assert!(c.state.as_ref().is_none_or(|v| v.expose().len() <= MAX_VALUE));
            }
            let _ = parse_pasted(&s);
        }

        #[test]
        fn round_trips_any_code_and_state(code in "[A-Za-z0-9._~-]{1,200}", state in "[A-Za-z0-9_-]{1,100}") {
            let mut u = url::Url::parse(DEEP_LINK).unwrap();
            u.query_pairs_mut().append_pair("code", &code).append_pair("state", &state);
            let c = parse_url(u.as_str()).unwrap();
            prop_assert_eq!(c.state, Some(OAuthState::new(state)));
            prop_assert_eq!(c.outcome, Outcome::Code { code: Some(AuthCode::new(code)), extra: BTreeMap::new() });
        }
    }
}
