//! Vendors' JSON answers and backup payloads: the readers behind every token exchange and
//! site list, and the backup's plaintext checks. The first input byte picks the reader (and a
//! status) so one corpus covers them all; the rest is the body.

use onramp_core::error::TokenError;
use onramp_core::model::ProviderId;
use onramp_core::providers::{enphase, oauth, refusal, solaredge, solis, spec};
use onramp_core::Code;
use serde_json::Value;

/// Strings at these keys of a JSON body (anywhere in it) are secrets.
fn secrets_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("access_token" | "refresh_token" | "id_token", Value::String(s))
                        if s.len() >= 6 =>
                    {
                        out.push(s.clone())
                    }
                    _ => secrets_in(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| secrets_in(x, out)),
        _ => {}
    }
}

/// The body as JSON. serde skips the bytes of fields it ignores without checking they are
/// UTF-8, which `Value` cannot: read lossily then, the fields Onramp reads being valid anyway.
fn json_of(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body)
        .ok()
        .or_else(|| serde_json::from_str(&String::from_utf8_lossy(body)).ok())
}

fn error_text(e: &onramp_core::Error) -> String {
    format!(
        "{} {} {} {:?} {e:?}",
        e.message,
        e.hint.as_deref().unwrap_or_default(),
        e.details.as_deref().unwrap_or_default(),
        e.vendor_description
    )
}

/// Token answers of every OAuth vendor: a 2xx read into tokens, anything else into the typed
/// refusal its table says. Properties: the tokens are the answer's own; secrets never show in
/// an error or in a debug print; a 429 is a rate limit; the refusal's type is the table's.
pub fn tokens(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let json = json_of(body);
    let mut secrets = Vec::new();
    if let Some(v) = &json {
        secrets_in(v, &mut secrets);
    }
    let vendors: Vec<_> = ProviderId::ALL
        .iter()
        .filter_map(|p| spec(*p).oauth.map(|o| (spec(*p).name, o)))
        .collect();
    let (vendor, o) = vendors[usize::from(pick) % vendors.len()];
    match oauth::token_answer(vendor, body) {
        // A lone surrogate escape in a field Onramp ignores is skipped by serde, not by `Value`.
        Ok(_) if json.is_none() => {}
        Ok(t) => {
            let v = json.as_ref().expect("JSON");
            assert_eq!(
                v.get("access_token").and_then(Value::as_str),
                Some(t.access_token.expose().as_str())
            );
            let refresh = v
                .get("refresh_token")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty());
            assert_eq!(
                refresh,
                t.refresh_token.as_ref().map(|r| r.expose().as_str())
            );
            assert!(t.refresh_expires_in.is_none_or(|s| s > 0));
            let printed = format!("{t:?}");
            let others = format!(
                "{:?} {:?} {:?}",
                t.scope, t.resource_uri, t.authorization_uri
            );
            // The print with no secrets in it: a token spelled like a field name
            // ("access_token") shows there in the print's own words.
            let words = format!(
                "{:?}",
                oauth::Tokens {
                    access_token: onramp_core::vault::Sensitive::new(String::new()),
                    refresh_token: None,
                    ..t.clone()
                }
            );
            for s in &secrets {
                let said = super::shows(&others, s) || super::shows(&words, s);
                assert!(
                    !super::shows(&printed, s) || said,
                    "a token shows in {printed}"
                );
            }
        }
        Err(e) => {
            assert_eq!(e.code, Code::VendorError);
            let text = error_text(&e);
            // A token spelled like the error's own words (" None ") shows in its print
            // without leaking: those words are the error's without the vendor's details.
            let mut bare = e.clone();
            bare.details = None;
            let own = error_text(&bare);
            for s in &secrets {
                assert!(
                    !super::shows(&text, s) || super::shows(&own, s),
                    "a token shows in the error {text}"
                );
            }
        }
    }
    let status = [400u16, 401, 403, 429, 500, 503][usize::from(pick >> 4) % 6];
    let status = reqwest::StatusCode::from_u16(status).expect("a status");
    let e = oauth::token_error(vendor, o.refusals, status, body, Some(7));
    if status.as_u16() == 429 {
        assert_eq!((e.code, e.retry_after), (Code::RateLimited, Some(7)));
        return;
    }
    let said = json.as_ref().and_then(|v| {
        let error = v.get("error")?.as_str()?;
        let described = match v.get("error_description") {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) => Some(d.as_str()),
            Some(_) => return None,
        };
        Some(refusal::read(o.refusals, error, described))
    });
    // A body with a key twice (`error_description` twice) is no refusal to Onramp (serde
    // refuses duplicate fields) while `Value` keeps the last: such an answer may only come out
    // as the vendor's unreadable error.
    let said = said.filter(|read| e.token_error == *read || e.code != Code::VendorError);
    if let Some(read) = said {
        assert_eq!(e.token_error, read);
        let code = match read {
            Some(t) if t.app_refused() => Code::NotConfigured,
            Some(t) if t.grant_refused() => Code::ReauthRequired,
            _ => Code::VendorError,
        };
        assert_eq!(e.code, code);
    } else {
        assert_eq!(
            (e.code, e.token_error),
            (Code::VendorError, None::<TokenError>)
        );
    }
}

/// Site lists: SolarEdge's `/v2/sites` page, Solis's `userStationList` envelope, Enphase's
/// `systems`. Properties: one site per listed record, each with the vendor's id; Solis answers
/// data only on a 200 that says `success`.
pub fn sites(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let json = json_of(body);
    let count = |ptr: &str| {
        json.as_ref()
            .and_then(|v| v.pointer(ptr))
            .and_then(Value::as_array)
            .map(Vec::len)
    };
    // A body `Value` cannot hold (a number beyond f64's range, a lone surrogate) in a field
    // Onramp skips reads as sites and leaves the oracle nothing to compare with.
    match pick % 3 {
        _ if json.is_none() && pick % 3 != 2 => {
            let _ = (solaredge::sites_page(body), solis::stations_page(200, body));
        }
        0 => {
            if let Ok(sites) = solaredge::sites_page(body) {
                assert_eq!(Some(sites.len()), count("/sites/site").or(Some(0)));
                let ids: Vec<String> = count("/sites/site")
                    .map(|n| {
                        (0..n)
                            .map(|i| {
                                json.as_ref().unwrap()["sites"]["site"][i]["siteId"].to_string()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                assert_eq!(
                    sites
                        .iter()
                        .map(|s| s.external_id.clone())
                        .collect::<Vec<_>>(),
                    ids
                );
            }
        }
        1 => {
            let status = if pick & 0x80 == 0 {
                200
            } else {
                400 + u16::from(pick & 0x3f)
            };
            if let Ok(sites) = solis::stations_page(status, body) {
                let v = json.as_ref().expect("accepted stations are JSON");
                assert_eq!(status, 200);
                assert_eq!(v.get("success"), Some(&Value::Bool(true)));
                assert_eq!(Some(sites.len()), count("/data/page/records").or(Some(0)));
                let ids: Vec<&str> = v
                    .pointer("/data/page/records")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(|x| x["id"].as_str()).collect())
                    .unwrap_or_default();
                assert_eq!(
                    sites
                        .iter()
                        .map(|s| s.external_id.as_str())
                        .collect::<Vec<_>>(),
                    ids
                );
            }
        }
        _ => {
            let Some(v) = &json else { return };
            let sites = enphase::enphase_systems(v);
            assert_eq!(sites.len(), count("/systems").unwrap_or(0));
        }
    }
}

/// A backup's plaintext (what decryption gives): whatever is refused is refused with a typed
/// validation or not-a-backup error, never a panic. That a refused file changes nothing in the
/// store is checked against a real store in `tests/replay.rs`.
pub fn backup_payload(data: &[u8]) {
    if let Err(e) = onramp_core::service::check_backup_payload(data) {
        assert_eq!(e.code, Code::Validation, "{}", e.message);
    }
}
