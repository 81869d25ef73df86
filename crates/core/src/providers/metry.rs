//! Metry (Nordic energy data): the customer signs in and approves; the code lives about ten
//! seconds, so it is exchanged at once with a JSON body. Refresh tokens do not expire.

use serde_json::Value;

use super::http::Client;
use super::oauth::{api_get, OAuthHosts, OAuthSpec, TokenStyle};
use super::{Discovery, ProviderSpec, UsageRequest, Vendor, VendorFuture, VendorSite, VendorUsage};
use crate::error::Result;
use crate::model::{NewSeries, ProviderId, RedirectMode, UsageMonth};

use crate::vault::Sensitive;

pub static OAUTH: OAuthSpec = OAuthSpec {
    authorize_path: "/id/oauth/authorize",
    token_path: "/oauth/token",
    scopes: "basic",
    style: TokenStyle::JsonBody,
    authorize_extra: &[("grant_type", "authorization_code")],
    audience: false,
    refresh_without_secret: false,
    needs_api_key: false,
    hosts: OAuthHosts {
        authorize: "https://app.metry.io",
        token: "https://app.metry.io",
        api: "https://app.metry.io",
    },
    default_redirect: RedirectMode::Loopback,
    paste_redirect_path: None,
    refresh_lifetime: None,
    help: "The customer signs in with their Metry account and approves Onramp; their meters and monthly consumption are then listed.",
    refusals: super::refusal::RFC6749,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    sign_in_name: None,
    id: ProviderId::Metry,
    name: "Metry",
    site_noun: "meter",
    production_base_url: "https://app.metry.io",
    fields: &[],
    account_fields: None,
    customer_key_help: "",
    account_key_help: "",
    oauth: Some(&OAUTH),
    category: crate::model::Category::Utility,
    note: Some(
        "Nordic energy data: the customer's electricity and heat meters, with monthly consumption.",
    ),
};

fn s(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The account's name (`/api/v2/accounts/me`).
pub async fn account_name(
    client: &Client,
    api: &str,
    access: &Sensitive<String>,
) -> Result<Option<String>> {
    let v = api_get(
        client,
        SPEC.name,
        &format!("{api}/api/v2/accounts/me"),
        access,
        &[],
    )
    .await?;
    let d = v.get("data");
    Ok(d.and_then(|d| s(d, "name").or_else(|| s(d, "username"))))
}

/// A Metry meter and what it measures.
pub struct Meter {
    pub site: VendorSite,
    /// `electricity`, `heat`, ...
    pub kind: String,
}

/// The account's active meters.
pub async fn meters(client: &Client, api: &str, access: &Sensitive<String>) -> Result<Vec<Meter>> {
    let v = api_get(
        client,
        SPEC.name,
        &format!("{api}/api/v2/meters"),
        access,
        &[("box", "active"), ("revoked", "false")],
    )
    .await?;
    Ok(v.get("data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            let id = s(m, "_id")?;
            let ean = s(m, "ean");
            Some(Meter {
                kind: s(m, "type").unwrap_or_else(|| "electricity".into()),
                site: VendorSite {
                    name: s(m, "name")
                        .or_else(|| ean.clone().map(|e| format!("Meter {e}")))
                        .unwrap_or_else(|| format!("Meter {id}")),
                    external_id: id,
                    address: s(m, "address"),
                    peak_power_kw: None,
                    status: ean.map(|e| format!("EAN {e}")),
                },
            })
        })
        .collect())
}

/// One year of monthly consumption (kWh) of a meter; months Metry has no value for are left out.
pub async fn monthly(
    client: &Client,
    api: &str,
    access: &Sensitive<String>,
    meter_id: &str,
    year: i32,
) -> Result<Vec<UsageMonth>> {
    let id: String = url::form_urlencoded::byte_serialize(meter_id.as_bytes()).collect();
    let v = api_get(
        client,
        SPEC.name,
        &format!("{api}/api/v2/consumptions/{id}/month/{year}"),
        access,
        &[],
    )
    .await?;
    let mut out = Vec::new();
    for d in v
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for p in d
            .get("periods")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let energy = p
                .get("energy")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, e) in energy.iter().enumerate().take(12) {
                if let Some(kwh) = e.as_f64() {
                    out.push(UsageMonth {
                        month: format!("{year}-{:02}", i + 1),
                        energy_milli: (kwh * 1000.0).round() as i64,
                        cost: None,
                    });
                }
            }
        }
    }
    Ok(out)
}

fn commodity(kind: &str) -> &'static str {
    match kind {
        "electricity" => "electricity",
        "heat" | "heating" | "district_heating" => "heat",
        "gas" => "gas",
        "water" | "hot_water" => "water",
        _ => "other",
    }
}

/// Metry's implementation of [`Vendor`].
pub struct Metry;

impl Vendor for Metry {
    fn spec(&self) -> &'static ProviderSpec {
        &SPEC
    }

    /// The account, its meters and two years of monthly consumption.
    fn gives_usage(&self) -> bool {
        true
    }

    fn usage<'a>(&'a self, r: UsageRequest<'a>) -> Option<VendorFuture<'a, VendorUsage>> {
        Some(Box::pin(async move {
            let (client, api, access) = (r.client, r.endpoints.api_url.as_str(), r.access);
            let account = account_name(client, api, access).await?;
            let meters = meters(client, api, access).await?;
            let mut series = Vec::new();
            for m in &meters {
                let mut months = Vec::new();
                for y in [r.year - 1, r.year] {
                    months.extend(monthly(client, api, access, &m.site.external_id, y).await?);
                }
                series.push(NewSeries {
                    source_key: format!("metry:{}", m.site.external_id),
                    title: m.site.name.clone(),
                    service_address: m.site.address.clone(),
                    commodity: commodity(&m.kind).to_string(),
                    flow: "delivered".into(),
                    unit: "kWh".into(),
                    currency: None,
                    readings: months.len() as i64,
                    first_at: None,
                    last_at: None,
                    months,
                });
            }
            Ok(VendorUsage {
                sites: meters.into_iter().map(|m| m.site).collect(),
                source: "Metry".into(),
                series,
                account,
            })
        }))
    }

    fn discover<'a>(&'a self, d: Discovery<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async move {
            Ok(meters(d.client, &d.endpoints.api_url, d.access)
                .await?
                .into_iter()
                .map(|m| m.site)
                .collect())
        })
    }
}
