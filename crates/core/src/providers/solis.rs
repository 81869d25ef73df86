//! Solis Cloud: every call is a POST signed with the KeyId and KeySecret (HMAC-SHA1).

use std::time::{Duration, SystemTime};

use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::json;

use super::http::{self, Client};
use super::paging::{Page, Paging, Total};
use super::{Credential, FieldDef, ProviderSpec, Vendor, VendorFuture, VendorSite};
use crate::error::{Code, Error, Result};
use crate::model::{KeyChars, KeyInput, KeyShape, ProviderId};
use crate::vault::Sensitive;

/// SolisCloud's API Management issues a KeyId of 19 digits and a KeySecret of 32 characters.
const KEY_ID_SHAPE: KeyShape = KeyShape {
    chars: KeyChars::Digits,
    min_len: 19,
    max_len: 19,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    sign_in_name: None,
    category: crate::model::Category::Devices,
    note: None,
    account_fields: None,
    id: ProviderId::Solis,
    oauth: None,
    name: "Solis",
    site_noun: "station",
    production_base_url: "https://www.soliscloud.com:13333",
    fields: &[
        FieldDef {
            name: "key_id",
            label: "KeyId",
            secret: false,
            placeholder: "19 digits",
            shape: KEY_ID_SHAPE,
        },
        FieldDef {
            name: "key_secret",
            label: "KeySecret",
            secret: true,
            placeholder: "32 characters",
            shape: KeyShape {
                chars: KeyChars::Token,
                min_len: 32,
                max_len: 32,
            },
        },
    ],
    customer_key_help: "The customer signs in at soliscloud.com, opens Account → Basic Settings → API Management and copies the KeyId and KeySecret. If API Management is missing, they open a service ticket with Solis to enable API access first.",
    account_key_help: "Sign in at soliscloud.com with the installer's portal account, open Account → Basic Settings → API Management, and copy the KeyId and KeySecret. The account lists every station your company manages.",
};

/// The vendor's rule: 3 calls per 5 seconds.
const CALLS_PER_WINDOW: usize = 3;
const WINDOW: Duration = Duration::from_secs(5);
const CONTENT_TYPE: &str = "application/json";
const PAGE_SIZE: u32 = 100;

/// base64 of the raw MD5 digest of the exact bytes sent.
pub fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(body))
}

/// base64(HMAC-SHA1(secret, "POST\n{md5}\n{type}\n{date}\n{path}")).
pub fn sign(
    key_secret: &str,
    content_md5: &str,
    content_type: &str,
    date: &str,
    path: &str,
) -> String {
    let to_sign = format!("POST\n{content_md5}\n{content_type}\n{date}\n{path}");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    msg: Option<String>,
    data: Option<T>,
}

#[derive(Deserialize)]
struct StationData {
    page: StationPage,
}

#[derive(Deserialize)]
struct StationPage {
    #[serde(default)]
    pages: Option<u32>,
    #[serde(default)]
    total: Option<u32>,
    #[serde(default)]
    records: Vec<Station>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Station {
    id: String,
    #[serde(default)]
    station_name: Option<String>,
    #[serde(default)]
    sno: Option<String>,
    #[serde(default)]
    capacity: Option<f64>,
    #[serde(default)]
    addr: Option<String>,
    #[serde(default)]
    state: Option<i64>,
}

impl From<Station> for VendorSite {
    fn from(s: Station) -> Self {
        let name = s
            .station_name
            .filter(|n| !n.trim().is_empty())
            .or(s.sno)
            .unwrap_or_else(|| format!("Station {}", s.id));
        VendorSite {
            status: s.state.map(|st| {
                match st {
                    1 => "Online",
                    2 => "Offline",
                    3 => "Alarm",
                    _ => "Unknown",
                }
                .to_string()
            }),
            external_id: s.id,
            name,
            address: s.addr.filter(|a| !a.trim().is_empty()),
            peak_power_kw: s.capacity,
        }
    }
}

fn error_for(
    status: u16,
    code: Option<&str>,
    msg: Option<&str>,
    retry_after: Option<u64>,
) -> Error {
    let reason = match (code, msg) {
        (Some(c), Some(m)) => format!("{m} ({c})"),
        (None, Some(m)) => m.to_string(),
        (Some(c), None) => format!("code {c}"),
        (None, None) => format!("HTTP {status}"),
    };
    match (status, code) {
        (429, _) | (_, Some("429")) => Error::rate_limited("Solis", retry_after.or(Some(5))),
        (408, _) | (_, Some("408")) => Error::new(
            Code::VendorRejected,
            format!("Solis refused the request because this laptop's clock is off: {reason}."),
        )
        .hint("Solis accepts requests only within 15 minutes of its own time. Set the laptop's clock to update automatically, then try again."),
        (401 | 403, _) | (_, Some("R0000" | "B0011" | "I0012")) => Error::new(
            Code::VendorRejected,
            format!("Solis rejected this KeyId and KeySecret: {reason}. Nothing was saved."),
        )
        .hint("Copy both again from SolisCloud → Account → Basic Settings → API Management. The KeySecret is case-sensitive."),
        (s, _) if s >= 500 => http::vendor_failed("Solis", reason),
        _ => http::vendor_failed("Solis", reason),
    }
}

/// One signed call: serialize once, hash and send the same bytes.
async fn call<T: serde::de::DeserializeOwned>(
    client: &Client,
    base_url: &str,
    path: &str,
    body: &serde_json::Value,
    key_id: &Sensitive<String>,
    key_secret: &Sensitive<String>,
) -> Result<T> {
    let base = base_url.trim_end_matches('/');
    client
        .pacer(&format!("solis {base}"), CALLS_PER_WINDOW, WINDOW)
        .acquire()
        .await;
    let bytes = serde_json::to_vec(body).map_err(|e| Error::internal(e.to_string()))?;
    let md5 = content_md5(&bytes);
    let date = httpdate::fmt_http_date(SystemTime::now());
    let signature = sign(key_secret.expose(), &md5, CONTENT_TYPE, &date, path);
    let resp = client
        .http
        .post(format!("{base}{path}"))
        .header("Content-MD5", &md5)
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .header(reqwest::header::DATE, &date)
        .header(
            reqwest::header::AUTHORIZATION,
            format!("API {}:{}", key_id.expose(), signature),
        )
        .body(bytes)
        .send()
        .await
        .map_err(|e| http::network("Solis", &e))?;
    let status = resp.status().as_u16();
    let retry = http::retry_after(resp.headers());
    let body = http::read_body("Solis", resp).await?;
    read_envelope(status, &body, retry)
}

/// Solis's answer envelope: `data` when `success` and a 200, else the error its code means.
fn read_envelope<T: serde::de::DeserializeOwned>(
    status: u16,
    body: &[u8],
    retry: Option<u64>,
) -> Result<T> {
    let envelope: Option<Envelope<T>> = http::json_object(body).ok();
    match envelope {
        Some(Envelope {
            success: true,
            data: Some(data),
            ..
        }) if status == 200 => Ok(data),
        Some(env) => Err(error_for(
            status,
            env.code.as_deref(),
            env.msg.as_deref(),
            retry,
        )),
        None if status == 200 => Err(http::vendor_failed("Solis", "an unreadable answer")),
        None => Err(error_for(status, None, None, retry)),
    }
}

/// One page of `userStationList` (status and body as answered) as sites.
pub fn stations_page(status: u16, body: &[u8]) -> Result<Vec<VendorSite>> {
    read_envelope::<StationData>(status, body, None)
        .map(|d| d.page.records.into_iter().map(VendorSite::from).collect())
}

/// Every station the key can see, across pages.
pub async fn list_stations(
    client: &Client,
    base_url: &str,
    key_id: &Sensitive<String>,
    key_secret: &Sensitive<String>,
) -> Result<Vec<VendorSite>> {
    let paging = Paging {
        full: None,
        max_pages: 100,
    };
    paging
        .all(|page_no| async move {
            let data: StationData = call(
                client,
                base_url,
                "/v1/api/userStationList",
                &json!({"pageNo": page_no, "pageSize": PAGE_SIZE}),
                key_id,
                key_secret,
            )
            .await?;
            let StationPage {
                pages,
                total,
                records,
            } = data.page;
            let total = match (pages, total) {
                (Some(p), _) => Total::Pages(p.into()),
                (None, Some(t)) => Total::Pages(t.div_ceil(PAGE_SIZE).into()),
                (None, None) => Total::Unsaid,
            };
            Ok(Page {
                items: records.into_iter().map(VendorSite::from).collect(),
                total,
            })
        })
        .await
}

/// Solis's implementation of [`Vendor`].
pub struct Solis;

impl Vendor for Solis {
    fn spec(&self) -> &'static ProviderSpec {
        &SPEC
    }

    /// Solis keys are made and deleted in SolisCloud's API Management.
    fn withdraw_words(&self, kind: crate::model::CredentialKind) -> String {
        match kind {
            crate::model::CredentialKind::CustomerKey => "Sign in at soliscloud.com, open Account → Basic Settings → API Management and delete the KeyId you gave today.".into(),
            crate::model::CredentialKind::InstallerAccount => "Your installer reads your station through their SolisCloud account: ask them to remove it.".into(),
            crate::model::CredentialKind::Oauth => "Ask your installer to disconnect it in Onramp.".into(),
        }
    }

    /// `[solis] base_url`.
    fn api_section(&self) -> bool {
        true
    }

    fn customer_key(&self, input: &KeyInput) -> Result<Credential> {
        let [key_id, key_secret] = SPEC.fields else {
            unreachable!("Solis's key is a KeyId and a KeySecret")
        };
        let hint = "Copy it from SolisCloud: Account → Basic Settings → API Management.";
        Ok(Credential::Solis {
            key_id: super::required(&input.key_id, key_id, SPEC.name).map_err(|e| e.hint(hint))?,
            key_secret: super::required(&input.key_secret, key_secret, SPEC.name)
                .map_err(|e| e.hint(hint))?,
        })
    }

    fn stored_key(&self, secret: &dyn Fn(&str) -> Result<Sensitive<String>>) -> Result<Credential> {
        Ok(Credential::Solis {
            key_id: secret(super::KEY_ID)?,
            key_secret: secret(super::KEY_SECRET)?,
        })
    }

    fn list_sites<'a>(
        &'a self,
        client: &'a Client,
        base_url: &'a str,
        credential: &'a Credential,
    ) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async move {
            match credential {
                Credential::Solis { key_id, key_secret } => {
                    list_stations(client, base_url, key_id, key_secret).await
                }
                _ => Err(Error::internal("credential does not match the provider")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(key_id: &str, key_secret: &str) -> Result<Credential> {
        Credential::from_input(&KeyInput {
            provider: ProviderId::Solis,
            api_key: None,
            key_id: Some(key_id.into()),
            key_secret: Some(key_secret.into()),
            ..KeyInput::empty(ProviderId::Solis)
        })
    }

    /// A key cut short in a copy, or a KeySecret pasted into the KeyId, is caught here,
    /// before any request is signed or sent.
    #[test]
    fn a_key_of_the_wrong_shape_is_refused_before_anything_is_sent() {
        let secret = "0123456789abcdef0123456789abcdef";
        assert!(typed("1300386381676488344", secret).is_ok());
        let e = typed("130038638167648", secret).err().unwrap();
        assert_eq!(e.code, Code::Validation);
        assert_eq!(
            e.message,
            "That Solis KeyId is too short: it has 15 characters; a KeyId has 19 characters."
        );
        assert!(e.hint.as_deref().unwrap().contains("API Management"));
        let e = typed(secret, secret).err().unwrap();
        assert_eq!(e.message, "A Solis KeyId is made of digits only.");
        let e = typed("1300386381676488344", &secret[..31]).err().unwrap();
        assert_eq!(
            e.message,
            "That Solis KeySecret is too short: it has 31 characters; a KeySecret has 32 characters."
        );
        let e = typed("1300386381676488344", "0123456789abcdef 0123456789abcdef")
            .err()
            .unwrap();
        assert!(e.message.contains("spaces or line breaks"), "{}", e.message);
        // The refusal never repeats the key back.
        assert!(!e.message.contains("0123456789abcdef"));
    }

    /// The worked example of the SolisCloud API document, reproduced exactly.
    #[test]
    fn signs_the_vendors_worked_example() {
        let body = br#"{"pageNo":1,"pageSize":10}"#;
        let md5 = content_md5(body);
        assert_eq!(md5, "kxdxk7rbAsrzSIWgEwhH4w==");
        let sig = sign(
            "6680182547",
            &md5,
            "application/json",
            "Fri, 26 Jul 2019 06:00:46 GMT",
            "/v1/api/userStationList",
        );
        assert_eq!(sig, "nBYQWeuzy3Y+gp67BN8zXTmvSDk=");
        assert_eq!(
            format!("API 2424:{sig}"),
            "API 2424:nBYQWeuzy3Y+gp67BN8zXTmvSDk="
        );
    }

    #[test]
    fn signs_the_second_vector() {
        let md5 = content_md5(br#"{"pageNo":1,"pageSize":100}"#);
        assert_eq!(md5, "U0Xj//qmRi3zoyapfAAuXw==");
        let date = "Sun, 01 Jan 2023 00:00:00 GMT";
        let secret = "DEADBEEFDEADBEEFDEADBEEFDEADBEEF";
        assert_eq!(
            sign(secret, &md5, "application/json", date, "TEST"),
            "8+oYgqSEFjxPaHIOgUKSpIdYCGU="
        );
        assert_eq!(
            sign(
                secret,
                &md5,
                "application/json",
                date,
                "/v1/api/userStationList"
            ),
            "xgJ/F76bAXb697WSc58DpGpLmcc="
        );
    }

    #[test]
    fn the_request_date_is_rfc_1123_gmt() {
        let d = httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(1564120846));
        assert_eq!(d, "Fri, 26 Jul 2019 06:00:46 GMT");
    }

    #[test]
    fn errors_read_in_solis_terms() {
        let e = error_for(403, Some("R0000"), Some("No authority"), None);
        assert_eq!(e.code, Code::VendorRejected);
        assert!(e.message.contains("No authority (R0000)"), "{}", e.message);
        assert_eq!(error_for(429, None, None, Some(3)).retry_after, Some(3));
        assert_eq!(
            error_for(408, Some("408"), None, None).code,
            Code::VendorRejected
        );
        assert_eq!(error_for(502, None, None, None).code, Code::VendorError);
    }
}
